// Package file is the file store: a directory of zstd-compressed NDJSON
// segment files. It is the embedded default for local runs (the demo writes
// its trail here) and what `audittrail query` reads locally.
//
// # Layout
//
// Each sink instance appends to its own segment file, named
//
//	trail-<UTC start time>-<random>.ndjson.zst
//
// so names sort by creation time and two processes never share a file. Every
// Write appends one complete zstd frame holding the batch as NDJSON (one JSON
// record per line). A reader decodes the concatenated frames in order; a frame
// cut short by a crash is detected and reported by [Scan], and the records
// before it are still read. A segment is closed and a new one started once it
// reaches Config.MaxSegmentBytes.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/audittrail/audittrail/buffer"
	"github.com/google/uuid"
)

// Extension is the file name suffix of segment files.
const Extension = ".ndjson.zst"

// DefaultMaxSegmentBytes is the default size at which a segment is rotated.
const DefaultMaxSegmentBytes = 16 << 20

// Config configures the file store.
type Config struct {
	// Dir is the directory of segment files; it is created if missing.
	Dir string
	// MaxSegmentBytes rotates a segment once it reaches this size
	// (compressed). Zero means DefaultMaxSegmentBytes.
	MaxSegmentBytes int64
}

// Sink appends batches to segment files in a directory.
type Sink struct {
	cfg   Config
	comp  *buffer.Compressor // makes its encoder on first use
	f     *os.File
	size  int64
	buf   []byte // the batch as NDJSON
	frame []byte // the batch as a zstd frame
	now   func() time.Time
}

// New returns a file store sink. It touches nothing on disk until the first
// Write.
func New(cfg Config) (*Sink, error) {
	if cfg.Dir == "" {
		return nil, errors.New("file: directory is required")
	}
	if cfg.MaxSegmentBytes <= 0 {
		cfg.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	return &Sink{cfg: cfg, comp: buffer.NewCompressor(), now: time.Now}, nil
}

// Name implements [sinks.Sink].
func (s *Sink) Name() string { return "file" }

// Write appends the batch as one zstd frame of NDJSON to the current segment.
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	s.buf = buffer.AppendNDJSON(s.buf[:0], batch)
	frame, err := s.comp.Compress(s.frame[:0], buffer.Zstd, s.buf)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	s.frame = frame
	if s.f == nil || s.size >= s.cfg.MaxSegmentBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(frame)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("file: append to %s: %w", s.f.Name(), err)
	}
	return nil
}

// rotate closes the current segment, if any, and opens a new one.
func (s *Sink) rotate() error {
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			return fmt.Errorf("file: close %s: %w", s.f.Name(), err)
		}
		s.f = nil
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	name := fmt.Sprintf("trail-%s-%s%s",
		s.now().UTC().Format("20060102T150405.000000000Z"), uuid.NewString()[:8], Extension)
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	s.f, s.size = f, 0
	return nil
}

// Close closes the current segment. It is safe to call more than once.
func (s *Sink) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("file: close: %w", err)
	}
	return nil
}
