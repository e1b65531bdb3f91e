package file

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/sinks"
)

var _ sinks.Sink = (*Sink)(nil)

func scanAll(t *testing.T, dir string) ([]string, error) {
	t.Helper()
	var got []string
	err := Scan(dir, func(rec []byte) error {
		got = append(got, string(rec))
		return nil
	})
	return got, err
}

func TestWriteScanRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for b := range 3 {
		var batch [][]byte
		for i := range 4 {
			rec := fmt.Sprintf(`{"batch":%d,"i":%d}`, b, i)
			want = append(want, rec)
			batch = append(batch, []byte(rec))
		}
		if err := s.Write(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	got, err := scanAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records differ:\n got %q\nwant %q", got, want)
	}
	segs, _ := Segments(dir)
	if len(segs) != 1 {
		t.Fatalf("segments = %d, want 1", len(segs))
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(Config{Dir: dir, MaxSegmentBytes: 1})
	for i := range 3 {
		if err := s.Write(t.Context(), [][]byte{fmt.Appendf(nil, `{"i":%d}`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close(t.Context())
	segs, _ := Segments(dir)
	if len(segs) != 3 {
		t.Fatalf("segments = %d, want 3", len(segs))
	}
	got, err := scanAll(t, dir)
	if err != nil || len(got) != 3 || got[0] != `{"i":0}` || got[2] != `{"i":2}` {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestScanTornSegment(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(Config{Dir: dir})
	_ = s.Write(t.Context(), [][]byte{[]byte(`{"ok":1}`)})
	_ = s.Write(t.Context(), [][]byte{bytes.Repeat([]byte(`{"long":"xxxxxxxxxxxxxxxxxxxxxxxx"}`), 50)})
	_ = s.Close(t.Context())
	segs, _ := Segments(dir)
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Cut the second frame in the middle, as a crash during Write would.
	if err := os.WriteFile(segs[0], data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := scanAll(t, dir)
	if err == nil {
		t.Fatal("torn segment not reported")
	}
	if len(got) != 1 || got[0] != `{"ok":1}` {
		t.Fatalf("records before the tear = %q, want the first record only", got)
	}
	if !strings.Contains(err.Error(), filepath.Base(segs[0])) {
		t.Errorf("error %q does not name the segment", err)
	}
}

func TestNewRequiresDir(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("want error for empty dir")
	}
}
