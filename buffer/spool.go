package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Spool keeps records on disk (Lambda's /tmp), which survives warm invokes
// and the reset after a timeout or crash, so that records not yet delivered
// are delivered after the next thaw or init.
//
// # Format
//
// A spool is a directory of segment files, oldest first by name:
//
//	spool-0000000000000001.seg    sealed: full, read by Oldest
//	spool-0000000000000002.open   the segment being appended to
//
// Each segment is a sequence of frames:
//
//	+----------------+----------------+------------------+
//	| length  uint32 | crc32c  uint32 | payload (length) |
//	+----------------+----------------+------------------+
//
// (little endian; CRC-32C of the payload). Writes are plain appends, never
// fallocate, which Lambda's /tmp refuses. A frame cut short by a crash or a
// freeze, or one whose checksum does not match, ends the segment's readable
// part: what follows is skipped and counted, never returned.
type Spool struct {
	dir        string
	maxBytes   int64
	segBytes   int64
	next       uint64   // number of the next segment
	open       *os.File // the segment being appended to
	openName   string
	openFrames int64
	openSize   int64
	// sealedSegs counts sealed segments, so that an empty spool is known
	// without reading its directory.
	sealedSegs int
	frame      []byte // scratch for Append
}

const (
	frameHeader = 8
	// maxFrame bounds one record; a larger length is corruption.
	maxFrame  = 16 << 20
	sealedExt = ".seg"
	openExt   = ".open"
)

// crcTable is made on first use: making it costs about half a millisecond,
// which every cold start would pay at package init.
var crcTable = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// Loss counts records the spool dropped or could not read back.
type Loss struct {
	Records int64
	Bytes   int64
	// Dropped holds the readable records that were dropped, so that the
	// caller can say which ones they were (unreadable ones are only
	// counted).
	Dropped [][]byte
}

// Add adds l's counts and records to the loss.
func (loss *Loss) Add(l Loss) {
	loss.Records += l.Records
	loss.Bytes += l.Bytes
	loss.Dropped = append(loss.Dropped, l.Dropped...)
}

// Zero reports whether nothing was lost.
func (loss Loss) Zero() bool { return loss.Records == 0 && loss.Bytes == 0 }

// OpenSpool opens (or creates) the spool in dir, holding at most maxBytes
// in segments of segBytes. A segment left open by an earlier process is
// sealed as it is: its readable frames are kept.
func OpenSpool(dir string, maxBytes, segBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, segBytes: segBytes}
	names, err := s.segments()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		num, ext := parseSegment(n)
		s.next = max(s.next, num+1)
		if ext == openExt {
			sealed := strings.TrimSuffix(n, openExt) + sealedExt
			if err := os.Rename(filepath.Join(dir, n), filepath.Join(dir, sealed)); err != nil {
				return nil, fmt.Errorf("spool: %w", err)
			}
		}
		s.sealedSegs++
	}
	if s.next == 0 {
		s.next = 1
	}
	return s, nil
}

// Append writes records to the open segment, sealing it when full. When the
// spool would exceed its bound, the oldest sealed segments are dropped
// first; the returned Loss says how much. On a write error (a full disk)
// the segment is cut back to its last whole frame and Append returns how
// many records it wrote: the caller still holds records[written:].
func (s *Spool) Append(records [][]byte) (written int, lost Loss, err error) {
	for _, r := range records {
		if len(r) > maxFrame {
			lost.Add(Loss{Records: 1, Bytes: int64(len(r)), Dropped: [][]byte{r}})
			written++
			continue
		}
		if s.open == nil || s.openSize >= s.segBytes {
			if err := s.rotate(); err != nil {
				return written, lost, err
			}
		}
		s.frame = binary.LittleEndian.AppendUint32(s.frame[:0], uint32(len(r)))
		s.frame = binary.LittleEndian.AppendUint32(s.frame, crc32.Checksum(r, crcTable()))
		s.frame = append(s.frame, r...)
		if _, err := s.open.Write(s.frame); err != nil {
			_ = s.open.Truncate(s.openSize)
			return written, lost, fmt.Errorf("spool: append: %w", err)
		}
		s.openFrames++
		s.openSize += int64(len(s.frame))
		written++
	}
	l, err := s.enforceBound()
	lost.Add(l)
	return written, lost, err
}

// Empty reports whether the spool holds no records.
func (s *Spool) Empty() bool { return s.sealedSegs == 0 && s.openFrames == 0 }

// Oldest returns the records of the oldest sealed segment and its name (""
// when there is none), sealing the open one first if it is the only one.
// Frames that cannot be read back are counted in the Loss.
func (s *Spool) Oldest() (name string, records [][]byte, lost Loss, err error) {
	if s.Empty() {
		return "", nil, Loss{}, nil
	}
	names, err := s.sealed()
	if err != nil {
		return "", nil, Loss{}, err
	}
	if len(names) == 0 {
		if s.open == nil || s.openFrames == 0 {
			return "", nil, Loss{}, nil
		}
		if err := s.seal(); err != nil {
			return "", nil, Loss{}, err
		}
		if names, err = s.sealed(); err != nil || len(names) == 0 {
			return "", nil, Loss{}, err
		}
	}
	name = names[0]
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return "", nil, Loss{}, fmt.Errorf("spool: %w", err)
	}
	records, lost = ReadFrames(data)
	return name, records, lost, nil
}

// All returns the records of every segment, oldest first, leaving them in
// place (the open segment is sealed first).
func (s *Spool) All() ([][]byte, Loss, error) {
	if s.open != nil && s.openFrames > 0 {
		if err := s.seal(); err != nil {
			return nil, Loss{}, err
		}
	}
	names, err := s.sealed()
	if err != nil {
		return nil, Loss{}, err
	}
	var out [][]byte
	var lost Loss
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(s.dir, n))
		if err != nil {
			return out, lost, fmt.Errorf("spool: %w", err)
		}
		recs, torn := ReadFrames(data)
		out = append(out, recs...)
		lost.Add(torn)
	}
	return out, lost, nil
}

// RemoveAll deletes every sealed segment.
func (s *Spool) RemoveAll() error {
	names, err := s.sealed()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, s.Remove(n))
	}
	return errors.Join(errs...)
}

// Remove deletes a segment once its records were delivered.
func (s *Spool) Remove(name string) error {
	err := os.Remove(filepath.Join(s.dir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	if err == nil {
		s.sealedSegs--
	}
	return nil
}

// Close seals the open segment. It is safe to call more than once.
func (s *Spool) Close() error {
	if s.open == nil {
		return nil
	}
	return s.seal()
}

// ReadFrames returns the records of a segment's bytes, stopping at the
// first torn or corrupt frame; the Loss counts what it skipped (one record
// for the damaged frame, and the bytes after it). It never panics and
// always ends.
func ReadFrames(data []byte) ([][]byte, Loss) {
	var out [][]byte
	for off := 0; off < len(data); {
		rest := data[off:]
		if len(rest) < frameHeader {
			return out, Loss{Records: 1, Bytes: int64(len(rest))}
		}
		n := binary.LittleEndian.Uint32(rest[0:])
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n > maxFrame || int(n) > len(rest)-frameHeader || crc32.Checksum(rest[frameHeader:frameHeader+int(n)], crcTable()) != sum {
			return out, Loss{Records: 1, Bytes: int64(len(rest))}
		}
		out = append(out, rest[frameHeader:frameHeader+int(n)])
		off += frameHeader + int(n)
	}
	return out, Loss{}
}

// rotate seals the open segment, if any, and opens the next.
func (s *Spool) rotate() error {
	if s.open != nil {
		if err := s.seal(); err != nil {
			return err
		}
	}
	s.openName = fmt.Sprintf("spool-%016d%s", s.next, openExt)
	s.next++
	f, err := os.OpenFile(filepath.Join(s.dir, s.openName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.open, s.openFrames, s.openSize = f, 0, 0
	return nil
}

// seal closes the open segment and renames it for reading.
func (s *Spool) seal() error {
	err := s.open.Close()
	s.open = nil
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	sealed := strings.TrimSuffix(s.openName, openExt) + sealedExt
	if err := os.Rename(filepath.Join(s.dir, s.openName), filepath.Join(s.dir, sealed)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.sealedSegs++
	s.openFrames, s.openSize = 0, 0
	return nil
}

// enforceBound drops the oldest sealed segments while the spool is over
// its bound, counting their records.
func (s *Spool) enforceBound() (Loss, error) {
	var lost Loss
	for {
		names, err := s.sealed()
		if err != nil {
			return lost, err
		}
		var total int64
		sizes := make([]int64, len(names))
		for i, n := range names {
			if fi, err := os.Stat(filepath.Join(s.dir, n)); err == nil {
				sizes[i] = fi.Size()
				total += fi.Size()
			}
		}
		if total+s.openSize <= s.maxBytes || len(names) == 0 {
			return lost, nil
		}
		data, _ := os.ReadFile(filepath.Join(s.dir, names[0]))
		recs, torn := ReadFrames(data)
		lost.Records += int64(len(recs)) + torn.Records
		lost.Bytes += sizes[0]
		lost.Dropped = append(lost.Dropped, recs...)
		if err := s.Remove(names[0]); err != nil {
			return lost, err
		}
	}
}

func (s *Spool) segments() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var names []string
	for _, e := range entries {
		if _, ext := parseSegment(e.Name()); ext != "" {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func (s *Spool) sealed() ([]string, error) {
	names, err := s.segments()
	return slices.DeleteFunc(names, func(n string) bool { return strings.HasSuffix(n, openExt) }), err
}

// parseSegment returns a segment file's number and extension, or "" for
// other files.
func parseSegment(name string) (uint64, string) {
	var num uint64
	for _, ext := range []string{sealedExt, openExt} {
		if base, ok := strings.CutSuffix(name, ext); ok {
			if _, err := fmt.Sscanf(base, "spool-%016d", &num); err == nil {
				return num, ext
			}
		}
	}
	return 0, ""
}

var _ io.Closer = (*Spool)(nil)
