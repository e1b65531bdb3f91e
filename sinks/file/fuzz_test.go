package file

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzScan: a segment of arbitrary bytes is read without panic or hang;
// whatever it yields is whole lines.
func FuzzScan(f *testing.F) {
	dir := f.TempDir()
	s, _ := New(Config{Dir: dir})
	_ = s.Write(f.Context(), [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)})
	_ = s.Close(f.Context())
	segs, _ := Segments(dir)
	good, _ := os.ReadFile(segs[0])
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("not zstd at all"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "trail-x"+Extension), data, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = Scan(dir, func(rec []byte) error {
			if len(rec) == 0 {
				t.Fatal("empty record")
			}
			return nil
		})
	})
}
