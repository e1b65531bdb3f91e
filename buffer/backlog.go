package buffer

import (
	"errors"
	"fmt"
	"sync"
)

// Backlog holds one sink's records until the sink has taken them: in memory
// while they fit, on the spool when they do not or when the sink is failing.
// Records leave in the order they came: the spool holds the older ones, so
// batches come from the spool first, then from memory. It is safe for
// concurrent use.
type Backlog struct {
	mu    sync.Mutex
	mem   *Queue
	spool *Spool // nil: memory only
}

// Batch is records taken from a backlog for delivery, oldest first. Give it
// back with [Backlog.Done] once delivered (or given up on), or with
// [Backlog.Return] to keep it.
type Batch struct {
	Records [][]byte
	// segment is the spool segment the records came from; "" for memory.
	segment string
}

// NewBacklog returns a backlog holding memBytes of records in memory and the
// rest on spool (nil: none; records that do not fit are then dropped).
func NewBacklog(memBytes int, spool *Spool) *Backlog {
	return &Backlog{mem: NewQueue(memBytes), spool: spool}
}

// Push adds a record. When memory is full, what memory holds and rec move
// to the spool; the Loss then counts the oldest records the spool dropped
// to make room. Without a spool, or when the spool cannot be written, rec
// is dropped and Push returns an error wrapping [ErrFull]. force keeps rec
// in memory whatever the bound (for coverage-gap records: a loss must never
// itself be lost).
func (b *Backlog) Push(rec []byte, force bool) (Loss, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mem.Push(rec) == nil {
		return Loss{}, nil
	}
	if b.spool != nil {
		lost, err := b.spillLocked()
		if err == nil {
			_, l, err := b.spool.Append([][]byte{rec})
			lost.Add(l)
			if err == nil {
				return lost, nil
			}
		}
		if !force {
			return lost, fmt.Errorf("%w, and %w", ErrFull, err)
		}
	}
	if force {
		b.mem.pushForced(rec)
		return Loss{}, nil
	}
	return Loss{}, ErrFull
}

// Next takes the oldest records: the oldest spool segment whole, or else up
// to maxBytes from memory (at least one record). The Loss counts records of
// the segment that could not be read back (torn by a kill, or corrupt). An
// empty batch means the backlog is empty.
func (b *Backlog) Next(maxBytes int) (Batch, Loss, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lost Loss
	for b.spool != nil && !b.spool.Empty() {
		name, recs, torn, err := b.spool.Oldest()
		lost.Add(torn)
		if err != nil || name == "" {
			return Batch{}, lost, err
		}
		if len(recs) > 0 {
			return Batch{Records: recs, segment: name}, lost, nil
		}
		// Nothing readable in it: done with.
		if err := b.spool.Remove(name); err != nil {
			return Batch{}, lost, err
		}
	}
	return Batch{Records: b.mem.Take(maxBytes)}, lost, nil
}

// Done forgets a delivered batch.
func (b *Backlog) Done(batch Batch) error {
	if batch.segment == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spool.Remove(batch.segment)
}

// Return keeps a batch that was not delivered, so that it comes first
// again. A spool segment simply stays; records from memory go to the spool
// (they are newer than anything on it, since memory spills to it in order)
// or back to the front of memory.
func (b *Backlog) Return(batch Batch) (Loss, error) {
	if batch.segment != "" || len(batch.Records) == 0 {
		return Loss{}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spool != nil && b.spool.Empty() {
		n, lost, err := b.spool.Append(batch.Records)
		if err == nil {
			return lost, nil
		}
		batch.Records = batch.Records[n:]
		b.mem.pushFront(batch.Records)
		return lost, err
	}
	b.mem.pushFront(batch.Records)
	return Loss{}, nil
}

// Spill moves every record held in memory to the spool, so that it waits
// on disk (and survives a reset). Records the spool cannot take stay in
// memory. Without a spool it does nothing.
func (b *Backlog) Spill() (Loss, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spillLocked()
}

func (b *Backlog) spillLocked() (Loss, error) {
	if b.spool == nil || b.mem.Len() == 0 {
		return Loss{}, nil
	}
	recs := b.mem.takeAll()
	n, lost, err := b.spool.Append(recs)
	if err != nil {
		b.mem.pushFront(recs[n:])
	}
	return lost, err
}

// Held spills memory to the spool (when there is one) and returns every
// record the backlog holds, oldest first, leaving them in place; the Loss
// counts records of the spool that could not be read.
func (b *Backlog) Held() ([][]byte, Loss, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spool == nil {
		return b.mem.snapshot(), Loss{}, nil
	}
	_, err := b.spillLocked()
	recs, torn, aerr := b.spool.All()
	return append(recs, b.mem.snapshot()...), torn, errors.Join(err, aerr)
}

// Len returns how many records wait in memory and whether the spool holds
// any.
func (b *Backlog) Len() (memory int, spooled bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.Len(), b.spool != nil && !b.spool.Empty()
}

// Close seals the spool's open segment.
func (b *Backlog) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spool == nil {
		return nil
	}
	return b.spool.Close()
}
