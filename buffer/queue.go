// Package buffer holds audit records between the pipeline that makes them
// and the sinks that deliver them.
package buffer

import (
	"errors"
	"sync"
)

// ErrFull is returned by [Queue.Push] when a record does not fit.
var ErrFull = errors.New("buffer: queue full")

// Queue is a FIFO of encoded records bounded by their total size in bytes.
// A record that does not fit is dropped and counted; [Queue.TakeDropped]
// returns the counts so the caller can write the loss into the trail.
// It is safe for concurrent use.
type Queue struct {
	mu       sync.Mutex
	items    [][]byte
	bytes    int
	maxBytes int

	droppedRecords int64
	droppedBytes   int64
}

// NewQueue returns a queue holding at most maxBytes of records.
func NewQueue(maxBytes int) *Queue {
	return &Queue{maxBytes: maxBytes}
}

// Push appends rec, or drops it and returns ErrFull when it would exceed the
// bound. The queue takes ownership of rec.
func (q *Queue) Push(rec []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bytes+len(rec) > q.maxBytes {
		q.droppedRecords++
		q.droppedBytes += int64(len(rec))
		return ErrFull
	}
	q.items = append(q.items, rec)
	q.bytes += len(rec)
	return nil
}

// Take removes and returns up to maxBytes of records from the front, in
// order, and at least one record when the queue is not empty (even a record
// larger than maxBytes).
func (q *Queue) Take(maxBytes int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, size := 0, 0
	for n < len(q.items) && (n == 0 || size+len(q.items[n]) <= maxBytes) {
		size += len(q.items[n])
		n++
	}
	out := make([][]byte, n)
	copy(out, q.items[:n])
	clear(q.items[:n])
	q.items = q.items[n:]
	q.bytes -= size
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
	}
	return out
}

// pushFront puts records back at the front, in order, whatever the bound:
// they were taken from this queue and could not be delivered.
func (q *Queue) pushFront(recs [][]byte) {
	if len(recs) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(recs[:len(recs):len(recs)], q.items...)
	for _, r := range recs {
		q.bytes += len(r)
	}
}

// pushForced appends rec whatever the bound.
func (q *Queue) pushForced(rec []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, rec)
	q.bytes += len(rec)
}

// snapshot returns the queued records, leaving them queued.
func (q *Queue) snapshot() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]byte(nil), q.items...)
}

// takeAll removes and returns every record.
func (q *Queue) takeAll() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items, q.bytes = nil, 0
	return out
}

// Len returns the number of queued records.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// TakeDropped returns how many records and bytes were dropped since the last
// call, and resets the counts.
func (q *Queue) TakeDropped() (records, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	records, bytes = q.droppedRecords, q.droppedBytes
	q.droppedRecords, q.droppedBytes = 0, 0
	return records, bytes
}
