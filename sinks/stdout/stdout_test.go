package stdout

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/audittrail/audittrail/sinks"
)

var _ sinks.Sink = (*Sink)(nil)

func TestWriteOneLinePerRecord(t *testing.T) {
	var out bytes.Buffer
	s := New(&out)
	if err := s.Write(t.Context(), [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), [][]byte{[]byte(`{"c":3}`)}); err != nil {
		t.Fatal(err)
	}
	if want := "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrors(t *testing.T) {
	if err := New(failWriter{}).Write(t.Context(), [][]byte{[]byte(`{}`)}); err == nil {
		t.Fatal("want error from failing writer")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := New(&bytes.Buffer{}).Write(ctx, [][]byte{[]byte(`{}`)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: err = %v", err)
	}
}
