package buffer

import (
	"errors"
	"slices"
	"testing"
)

// drainBacklog takes every batch, delivering each.
func drainBacklog(t *testing.T, b *Backlog) []string {
	t.Helper()
	var got []string
	for {
		batch, lost, err := b.Next(1 << 20)
		if err != nil || !lost.Zero() {
			t.Fatalf("Next: %v, lost %+v", err, lost)
		}
		if len(batch.Records) == 0 {
			return got
		}
		got = append(got, toStrings(batch.Records)...)
		if err := b.Done(batch); err != nil {
			t.Fatal(err)
		}
	}
}

func pushAll(t *testing.T, b *Backlog, rs [][]byte) Loss {
	t.Helper()
	var lost Loss
	for _, r := range rs {
		l, err := b.Push(r, false)
		if err != nil {
			t.Fatalf("Push(%s): %v", r, err)
		}
		lost.Add(l)
	}
	return lost
}

func TestBacklogKeepsOrderAcrossMemoryAndSpool(t *testing.T) {
	tests := []struct {
		name     string
		memBytes int
		spool    bool
		records  int
		spill    bool // Spill midway
	}{
		{"memory only", 1 << 20, false, 50, false},
		{"memory overflows to the spool", 100, true, 50, false},
		{"spilled midway", 1 << 20, true, 50, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sp *Spool
			if tt.spool {
				var err error
				if sp, err = OpenSpool(t.TempDir(), 1<<20, 128); err != nil {
					t.Fatal(err)
				}
			}
			b := NewBacklog(tt.memBytes, sp)
			pushAll(t, b, recs(1, tt.records/2))
			if tt.spill {
				if _, err := b.Spill(); err != nil {
					t.Fatal(err)
				}
				if mem, spooled := b.Len(); mem != 0 || !spooled {
					t.Fatalf("after Spill: %d in memory, spooled %v", mem, spooled)
				}
			}
			pushAll(t, b, recs(1+tt.records/2, tt.records-tt.records/2))
			if got, want := drainBacklog(t, b), toStrings(recs(1, tt.records)); !slices.Equal(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
			if mem, spooled := b.Len(); mem != 0 || spooled {
				t.Fatalf("not empty after draining: %d, %v", mem, spooled)
			}
		})
	}
}

func TestBacklogReturnedBatchComesFirst(t *testing.T) {
	for _, withSpool := range []bool{false, true} {
		var sp *Spool
		if withSpool {
			sp, _ = OpenSpool(t.TempDir(), 1<<20, 1<<10)
		}
		b := NewBacklog(1<<20, sp)
		pushAll(t, b, recs(1, 10))
		batch, _, _ := b.Next(30) // a few records
		if len(batch.Records) == 0 || len(batch.Records) == 10 {
			t.Fatalf("batch of %d records", len(batch.Records))
		}
		if _, err := b.Return(batch); err != nil {
			t.Fatal(err)
		}
		pushAll(t, b, recs(11, 2))
		if got, want := drainBacklog(t, b), toStrings(recs(1, 12)); !slices.Equal(got, want) {
			t.Fatalf("spool %v: got %v, want %v", withSpool, got, want)
		}
	}
}

func TestBacklogSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	sp, _ := OpenSpool(dir, 1<<20, 1<<10)
	b := NewBacklog(1<<20, sp)
	pushAll(t, b, recs(1, 5))
	if _, err := b.Spill(); err != nil {
		t.Fatal(err)
	}
	// The process ends without Close (a kill): the open segment stays open.
	sp2, err := OpenSpool(dir, 1<<20, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	b2 := NewBacklog(1<<20, sp2)
	pushAll(t, b2, recs(6, 1))
	if got, want := drainBacklog(t, b2), toStrings(recs(1, 6)); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestBacklogLosses(t *testing.T) {
	t.Run("no spool: dropped, unless forced", func(t *testing.T) {
		b := NewBacklog(20, nil)
		pushAll(t, b, recs(1, 2)) // 20 bytes
		if _, err := b.Push([]byte(`{"seq":3}`), false); !errors.Is(err, ErrFull) {
			t.Fatalf("Push on a full backlog: %v, want ErrFull", err)
		}
		if _, err := b.Push([]byte(`{"gap":1}`), true); err != nil {
			t.Fatalf("forced Push: %v", err)
		}
		if got := drainBacklog(t, b); !slices.Equal(got, []string{`{"seq":1}`, `{"seq":2}`, `{"gap":1}`}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("spool full: the oldest dropped and handed back", func(t *testing.T) {
		sp, _ := OpenSpool(t.TempDir(), 200, 50)
		b := NewBacklog(10, sp)
		lost := pushAll(t, b, recs(1, 40))
		got := drainBacklog(t, b)
		if lost.Records == 0 || int(lost.Records)+len(got) != 40 || len(lost.Dropped) != int(lost.Records) {
			t.Fatalf("lost %d (%d handed back), delivered %d; want 40 in all", lost.Records, len(lost.Dropped), len(got))
		}
		// The dropped ones are the oldest; what is left is the newest, in order.
		if want := toStrings(recs(1, 40)); !slices.Equal(toStrings(lost.Dropped), want[:lost.Records]) || !slices.Equal(got, want[lost.Records:]) {
			t.Fatalf("dropped %v, kept %v", toStrings(lost.Dropped), got)
		}
	})
}
