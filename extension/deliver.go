package extension

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks"
)

// delivery configures how records reach the sinks.
type delivery struct {
	// QueueBytes bounds each sink's records in memory.
	QueueBytes int
	// SpoolDir holds one spool per sink, and their dead letters; SpoolBytes
	// bounds them all (0: no spool).
	SpoolDir   string
	SpoolBytes int64
	Retry      sinks.RetryConfig
}

// maxSegmentBytes bounds a spool segment, and so the batch read back from
// it.
const maxSegmentBytes = maxBatchBytes

// outbox is one sink's delivery: the sink wrapped with retries and a
// circuit breaker, the records it has not taken yet (memory, then spool),
// and the records it refused (dead letters). Each sink has its own, so a
// slow or dead sink never holds up another.
type outbox struct {
	name    string
	sink    sinks.Sink
	backlog *buffer.Backlog
	// dead holds the records the sink refused as permanently bad; nil
	// without a spool.
	dead *buffer.Spool
	// failing is set while the sink fails, to log a failure once and its
	// recovery once; rejected likewise for refused records.
	failing, rejected bool
}

// openOutboxes gives each sink its outbox. A spool that cannot be opened
// leaves that sink with memory only; the error says why.
func openOutboxes(cfg delivery, ss []sinks.Sink) ([]*outbox, error) {
	var errs []error
	out := make([]*outbox, 0, len(ss))
	per := cfg.SpoolBytes / int64(max(len(ss), 1))
	for _, s := range ss {
		o := &outbox{name: s.Name(), sink: sinks.WithRetry(s, cfg.Retry)}
		var sp *buffer.Spool
		if per > 0 {
			seg := min(maxSegmentBytes, per/8)
			var err error
			if sp, err = buffer.OpenSpool(filepath.Join(cfg.SpoolDir, o.name), per, seg); err != nil {
				errs = append(errs, fmt.Errorf("sink %s: no spool, memory only: %w", o.name, err))
				sp = nil
			}
			if o.dead, err = buffer.OpenSpool(filepath.Join(cfg.SpoolDir, "dead-letter", o.name), per/4, seg); err != nil {
				errs = append(errs, fmt.Errorf("sink %s: no dead-letter spool: %w", o.name, err))
				o.dead = nil
			}
		}
		o.backlog = buffer.NewBacklog(cfg.QueueBytes, sp)
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}

// enqueueLocked hands a sealed record to every sink's backlog. force keeps
// it whatever the bounds (coverage-gap records).
func (p *pipeline) enqueueLocked(rec []byte, seq int64, force bool) {
	for _, o := range p.outboxes {
		lost, err := o.backlog.Push(rec, force)
		p.spoolLossLocked(o.name, schema.GapSpoolFull, lost, "spool full: the oldest records were dropped")
		if err != nil {
			r := p.dropped[o.name]
			r.add(seq, int64(len(rec)))
			p.dropped[o.name] = r
			p.droppedWhy[o.name] = err.Error()
		}
	}
}

// flush delivers to every sink at once, each from its own backlog, until
// the backlogs are empty or ctx ends. A write that ctx cuts short is
// cancelled and its records kept, so nothing is in flight when flush
// returns; what a sink did not take waits on the spool.
func (p *pipeline) flush(ctx context.Context) {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.queueGaps()
	var wg sync.WaitGroup
	for _, o := range p.outboxes {
		wg.Go(func() { p.deliver(ctx, o) })
	}
	wg.Wait()
}

// deliver sends one sink its backlog, oldest first, until it is empty, the
// sink fails, or ctx ends; then spills what is left to the spool.
func (p *pipeline) deliver(ctx context.Context, o *outbox) {
	for ctx.Err() == nil {
		batch, torn, err := o.backlog.Next(maxBatchBytes)
		p.spoolLoss(o.name, schema.GapSpoolUnreadable, torn, "spooled records could not be read back (torn by a kill, or corrupt)")
		if err != nil {
			p.log.Error("spool unreadable; its records stay there", "sink", o.name, "error", err)
			break
		}
		if len(batch.Records) == 0 {
			break
		}
		err = o.sink.Write(ctx, batch.Records)
		switch {
		case err == nil:
			if o.failing {
				p.log.Info("sink recovered", "sink", o.name)
				o.failing = false
			}
			p.done(o, batch)
		case sinks.IsPermanent(err):
			p.reject(o, batch, err)
			p.done(o, batch)
		default:
			if !o.failing {
				p.log.Error("sink failing; its records wait on the spool", "sink", o.name, "error", err)
				o.failing = true
			}
			lost, rerr := o.backlog.Return(batch)
			p.spoolLoss(o.name, schema.GapSpoolFull, lost, "spool full: the oldest records were dropped")
			if rerr != nil {
				p.log.Error("cannot spool the records of a failed write; they stay in memory", "sink", o.name, "error", rerr)
			}
			return
		}
	}
	// What the budget left waits on disk: it survives a reset.
	if mem, _ := o.backlog.Len(); mem > 0 {
		lost, err := o.backlog.Spill()
		p.spoolLoss(o.name, schema.GapSpoolFull, lost, "spool full: the oldest records were dropped")
		if err != nil {
			p.log.Warn("cannot spool; records stay in memory", "sink", o.name, "error", err)
		}
	}
}

// done forgets a delivered (or dead-lettered) batch.
func (p *pipeline) done(o *outbox, batch buffer.Batch) {
	if err := o.backlog.Done(batch); err != nil {
		// The segment stays and is delivered again: a duplicate with the
		// same event.id, which a SIEM removes.
		p.log.Warn("cannot remove a delivered spool segment", "sink", o.name, "error", err)
	}
}

// reject handles records a sink refused as permanently bad: they go to the
// dead letters (written to stdout at SHUTDOWN) and a coverage gap names
// them, since the sink will never hold them.
func (p *pipeline) reject(o *outbox, batch buffer.Batch, err error) {
	if !o.rejected {
		p.log.Error("sink refused records; they go to the dead letters", "sink", o.name, "error", err)
		o.rejected = true
	}
	if o.dead != nil {
		_, lost, derr := o.dead.Append(batch.Records)
		if derr != nil {
			p.log.Error("cannot write dead letters", "sink", o.name, "error", derr)
		}
		p.spoolLoss(o.name, schema.GapSpoolFull, lost, "dead-letter spool full: the oldest dead letters were dropped")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recordsLostLocked(o.name, schema.GapSinkRejected, batch.Records, err.Error())
}

// spoolLoss records records a spool dropped or could not read.
func (p *pipeline) spoolLoss(sink, reason string, l buffer.Loss, detail string) {
	if l.Zero() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spoolLossLocked(sink, reason, l, detail)
}

func (p *pipeline) spoolLossLocked(sink, reason string, l buffer.Loss, detail string) {
	if l.Zero() {
		return
	}
	p.recordsLostLocked(sink, reason, l.Dropped, detail)
	// What could not even be read is only counted.
	if unread := l.Records - int64(len(l.Dropped)); unread > 0 {
		var readBytes int64
		for _, r := range l.Dropped {
			readBytes += int64(len(r))
		}
		p.sinkGapLocked(sink, reason, "extension", unread, max(l.Bytes-readBytes, 0), detail)
	}
}

// recordsLostLocked writes the loss of records into the trail: one gap
// record per environment they belong to (records spooled before a reset
// belong to the previous one), naming their seq range.
func (p *pipeline) recordsLostLocked(sink, reason string, records [][]byte, detail string) {
	for _, r := range schema.SeqsOf(records) {
		if len(p.gaps) >= maxHeldGaps {
			p.overflowLocked(gapKey{reason, "extension", sink}, r.Records, r.Bytes)
			continue
		}
		rec := p.builder.Gap(reason, "extension", r.Records, r.Bytes, detail, p.now())
		rec.Gap.Sink, rec.Gap.SeqFrom, rec.Gap.SeqTo = sink, r.From, r.To
		if r.EnvID != rec.Audit.EnvID {
			rec.Gap.EnvID = r.EnvID
		}
		p.appendGapLocked(rec)
	}
}

// queueGaps turns the queues' drop counts into gap records and hands every
// pending gap record to every sink.
func (p *pipeline) queueGaps() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.outboxes {
		r := p.dropped[o.name]
		p.gapForLocked(&r, o.name, schema.GapQueueFull, cmp.Or(p.droppedWhy[o.name], "in-memory queue full"))
		delete(p.dropped, o.name)
		delete(p.droppedWhy, o.name)
	}
	for _, g := range p.takeGapsLocked() {
		p.enqueueLocked(g, 0, true)
	}
}

// undelivered writes what no sink has taken yet to stdout (CloudWatch
// Logs), one marked JSON line per record (each record once, however many
// sinks lack it), and the dead letters with the reason they were refused.
// The records stay on the spool: after a reset the next environment
// delivers them (a SIEM removes the duplicates by event.id). It returns how
// many lines it wrote.
func (p *pipeline) undelivered(reason string) int {
	p.queueGaps()
	seen := map[string]bool{}
	n := 0
	for _, o := range p.outboxes {
		held, torn, err := o.backlog.Held()
		if err != nil || !torn.Zero() {
			p.log.Error("part of the spool is unreadable", "sink", o.name, "records", torn.Records, "error", err)
		}
		n += p.writeMarked(unseen(held, seen), reason)
		if o.dead == nil {
			continue
		}
		dead, _, err := o.dead.All()
		if err == nil {
			err = o.dead.RemoveAll()
		}
		if err != nil {
			p.log.Error("dead letters unreadable", "sink", o.name, "error", err)
		}
		n += p.writeMarked(unseen(dead, seen), schema.GapSinkRejected)
	}
	return n
}

// unseen returns the records not yet in seen, and adds them.
func unseen(records [][]byte, seen map[string]bool) [][]byte {
	var out [][]byte
	for _, r := range records {
		if !seen[string(r)] {
			seen[string(r)] = true
			out = append(out, r)
		}
	}
	return out
}

// writeMarked writes records to stdout as marked lines, which the
// extension's own log filter and `audittrail verify` recognise.
func (p *pipeline) writeMarked(records [][]byte, reason string) int {
	if len(records) == 0 || p.stdout == nil {
		return 0
	}
	var buf []byte
	for _, rec := range records {
		buf = fmt.Appendf(buf, `{"audittrail.undelivered":%q,"record":%s}`+"\n", reason, rec)
	}
	if _, err := p.stdout.Write(buf); err != nil {
		p.log.Error("cannot write undelivered records to stdout", "error", err)
		return 0
	}
	return len(records)
}

// close closes every sink and seals the spools.
func (p *pipeline) close(ctx context.Context) {
	for _, o := range p.outboxes {
		if err := o.sink.Close(ctx); err != nil {
			p.log.Error("sink close failed", "sink", o.name, "error", err)
		}
		if err := o.backlog.Close(); err != nil {
			p.log.Error("spool close failed", "sink", o.name, "error", err)
		}
		if o.dead != nil {
			_ = o.dead.Close()
		}
	}
}
