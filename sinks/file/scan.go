package file

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/zstd"
)

// maxLine bounds one record when reading; longer lines are an error.
const maxLine = 8 << 20

// Segments returns the segment files in dir, oldest first.
func Segments(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "trail-*"+Extension))
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	slices.Sort(paths)
	return paths, nil
}

// Scan calls fn for every record in the store at dir, oldest segment first
// and in write order within a segment. The record slice is only valid during
// the call. A damaged segment (for example a frame torn by a crash) does not
// stop the scan: its readable records are passed to fn, and the damage is
// reported in the returned error, one wrapped error per segment. An error
// returned by fn stops the scan and is returned as is.
func Scan(dir string, fn func(record []byte) error) error {
	paths, err := Segments(dir)
	if err != nil {
		return err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("file: zstd decoder: %w", err)
	}
	defer dec.Close()
	var damaged []error
	for _, p := range paths {
		err := scanSegment(dec, p, fn)
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if err != nil {
			damaged = append(damaged, err)
		}
	}
	return errors.Join(damaged...)
}

// errTornRecord reports a last line without its newline: every record is
// written with one, so the segment was cut short.
var errTornRecord = errors.New("torn record at end of segment")

// scanCompleteLines is bufio.ScanLines without its leniency: a final line
// that lacks a newline is an error, never a record.
func scanCompleteLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return 0, nil, errTornRecord
	}
	return 0, nil, nil
}

// stopError carries an error returned by the caller's fn.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// ScanSegment calls fn for every record of one segment file; see Scan.
func ScanSegment(path string, fn func(record []byte) error) error {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("file: zstd decoder: %w", err)
	}
	defer dec.Close()
	err = scanSegment(dec, path, fn)
	var stop stopError
	if errors.As(err, &stop) {
		return stop.err
	}
	return err
}

func scanSegment(dec *zstd.Decoder, path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	defer f.Close()
	if err := dec.Reset(f); err != nil {
		return fmt.Errorf("file: %s: %w", path, err)
	}
	sc := bufio.NewScanner(dec)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	sc.Split(scanCompleteLines)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return stopError{err}
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("file: %s: damaged segment: %w", filepath.Base(path), err)
	}
	return nil
}
