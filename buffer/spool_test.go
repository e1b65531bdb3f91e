package buffer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func recs(from, n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, fmt.Appendf(nil, `{"seq":%d}`, from+i))
	}
	return out
}

// drain reads every record back, removing segments as a delivered sink
// would.
func drain(t *testing.T, s *Spool) ([]string, Loss) {
	t.Helper()
	var got []string
	var lost Loss
	for {
		name, rs, l, err := s.Oldest()
		if err != nil {
			t.Fatal(err)
		}
		if name == "" {
			return got, lost
		}
		for _, r := range rs {
			got = append(got, string(r))
		}
		lost.Records += l.Records
		lost.Bytes += l.Bytes
		if err := s.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpoolRoundTripAcrossSegments(t *testing.T) {
	s, err := OpenSpool(t.TempDir(), 1<<20, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Append(recs(1, 10)); err != nil {
		t.Fatal(err)
	}
	got, lost := drain(t, s)
	if strings.Join(got, ",") != strings.Join(toStrings(recs(1, 10)), ",") || !lost.Zero() {
		t.Fatalf("got %v, lost %+v", got, lost)
	}
}

func toStrings(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

// TestSpoolSurvivesARestart: what one process appended, the next (after a
// reset, /tmp kept) reads back, including a segment left open.
func TestSpoolSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	s1, _ := OpenSpool(dir, 1<<20, 1<<10)
	if _, _, err := s1.Append(recs(1, 3)); err != nil {
		t.Fatal(err)
	}
	// No Close: the process was killed with its segment open.
	s2, err := OpenSpool(dir, 1<<20, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s2.Append(recs(4, 2)); err != nil {
		t.Fatal(err)
	}
	got, _ := drain(t, s2)
	if strings.Join(got, ",") != strings.Join(toStrings(recs(1, 5)), ",") {
		t.Fatalf("got %v", got)
	}
}

func TestSpoolDropsOldestWhenFull(t *testing.T) {
	s, _ := OpenSpool(t.TempDir(), 200, 50)
	var lost Loss
	for i := range 20 {
		_, l, err := s.Append(recs(i+1, 1))
		if err != nil {
			t.Fatal(err)
		}
		lost.Records += l.Records
	}
	got, _ := drain(t, s)
	if int64(len(got))+lost.Records != 20 || lost.Records == 0 {
		t.Fatalf("kept %d + dropped %d != 20 appended", len(got), lost.Records)
	}
	if got[len(got)-1] != `{"seq":20}` || got[0] == `{"seq":1}` {
		t.Errorf("kept %v: the newest must survive, the oldest go", got)
	}
}

func TestSpoolSkipsTornAndCorruptFrames(t *testing.T) {
	tests := []struct {
		name   string
		damage func([]byte) []byte
		kept   int
	}{
		{"torn tail", func(b []byte) []byte { return b[:len(b)-3] }, 2},
		{"torn header", func(b []byte) []byte { return append(b, 1, 2, 3) }, 3},
		{"flipped byte", func(b []byte) []byte { b[len(b)-2] ^= 0xff; return b }, 2},
		{"absurd length", func(b []byte) []byte { b[0], b[1], b[2], b[3] = 0xff, 0xff, 0xff, 0x7f; return b }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := OpenSpool(dir, 1<<20, 1<<20)
			_, _, _ = s.Append(recs(1, 3))
			_ = s.Close()
			seg := filepath.Join(dir, "spool-0000000000000001.seg")
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, tt.damage(data), 0o644); err != nil {
				t.Fatal(err)
			}
			got, lost := drain(t, s)
			if len(got) != tt.kept || lost.Records != 1 {
				t.Errorf("kept %v, lost %+v; want %d kept and the damage counted", got, lost, tt.kept)
			}
		})
	}
}

// FuzzReadFrames: any bytes give records or a counted loss, never a panic
// or a hang, and every record returned checks out.
func FuzzReadFrames(f *testing.F) {
	s, _ := OpenSpool(f.TempDir(), 1<<20, 1<<20)
	_, _, _ = s.Append(recs(1, 3))
	_ = s.Close()
	data, _ := os.ReadFile(filepath.Join(s.dir, "spool-0000000000000001.seg"))
	f.Add(data)
	f.Add(data[:5])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, lost := ReadFrames(data)
		var n int
		for _, r := range got {
			n += frameHeader + len(r)
		}
		if int64(n)+lost.Bytes != int64(len(data)) {
			t.Fatalf("read %d + lost %d bytes of %d", n, lost.Bytes, len(data))
		}
	})
}
