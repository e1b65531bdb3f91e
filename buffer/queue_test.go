package buffer

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestQueueBoundAndOrder(t *testing.T) {
	tests := []struct {
		name        string
		max         int
		push        []string
		take        int
		wantTaken   []string
		wantLeft    int
		wantDropped int64
	}{
		{"fits", 10, []string{"ab", "cd"}, 100, []string{"ab", "cd"}, 0, 0},
		{"drops overflow", 5, []string{"abc", "de", "f"}, 100, []string{"abc", "de"}, 0, 1},
		{"take bounded", 100, []string{"abc", "de", "f"}, 5, []string{"abc", "de"}, 1, 0},
		{"take at least one", 100, []string{"abcdef", "g"}, 2, []string{"abcdef"}, 1, 0},
		{"empty", 10, nil, 10, []string{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue(tt.max)
			var dropped int64
			for _, p := range tt.push {
				if err := q.Push([]byte(p)); errors.Is(err, ErrFull) {
					dropped++
				}
			}
			got := q.Take(tt.take)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.wantTaken) {
				t.Errorf("Take = %q, want %q", got, tt.wantTaken)
			}
			if q.Len() != tt.wantLeft {
				t.Errorf("Len = %d, want %d", q.Len(), tt.wantLeft)
			}
			recs, _ := q.TakeDropped()
			if recs != tt.wantDropped || dropped != tt.wantDropped {
				t.Errorf("dropped = %d (ErrFull %d), want %d", recs, dropped, tt.wantDropped)
			}
			if r, b := q.TakeDropped(); r != 0 || b != 0 {
				t.Errorf("TakeDropped did not reset: %d %d", r, b)
			}
		})
	}
}

func TestQueueFreesSpaceAfterTake(t *testing.T) {
	q := NewQueue(4)
	if err := q.Push([]byte("abcd")); err != nil {
		t.Fatal(err)
	}
	if err := q.Push([]byte("e")); !errors.Is(err, ErrFull) {
		t.Fatalf("Push over bound = %v, want ErrFull", err)
	}
	q.Take(100)
	if err := q.Push([]byte("efgh")); err != nil {
		t.Fatalf("Push after Take = %v", err)
	}
}

func TestQueueConcurrent(t *testing.T) {
	q := NewQueue(1 << 20)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				_ = q.Push(fmt.Appendf(nil, "%d-%d", i, j))
			}
		})
	}
	taken := 0
	wg.Go(func() {
		for range 50 {
			taken += len(q.Take(64))
		}
	})
	wg.Wait()
	taken += len(q.Take(1 << 20))
	if taken != 800 {
		t.Fatalf("taken %d records, want 800", taken)
	}
}
