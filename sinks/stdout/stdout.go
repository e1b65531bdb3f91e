// Package stdout is the sink that prints one JSON line per record. Inside
// Lambda, stdout lands in CloudWatch Logs, so this is the default sink when
// none is configured.
package stdout

import (
	"context"
	"fmt"
	"io"
)

// Sink writes records as newline-delimited JSON to an io.Writer.
type Sink struct {
	w   io.Writer
	buf []byte
}

// New returns a sink writing to w (usually os.Stdout).
func New(w io.Writer) *Sink { return &Sink{w: w} }

// Name implements [sinks.Sink].
func (s *Sink) Name() string { return "stdout" }

// Write prints the batch with a single Write call, one record per line.
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.buf = s.buf[:0]
	for _, rec := range batch {
		s.buf = append(s.buf, rec...)
		s.buf = append(s.buf, '\n')
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("stdout: write: %w", err)
	}
	return nil
}

// Close implements [sinks.Sink]; there is nothing to release.
func (s *Sink) Close(context.Context) error { return nil }
