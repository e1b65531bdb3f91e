package extension

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

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
	// failures counts consecutive failed deliveries; from openAfter on, the
	// sink is tried again only at nextProbe (a dead or hanging backend
	// then costs one try per cooldown, not the budget of every invoke).
	failures  int
	nextProbe time.Time
}

// The circuit of a failing sink: open after openAfter failed deliveries in
// a row, then one probe after a cooldown that doubles from probeCooldown
// up to maxProbeCooldown.
const (
	openAfter        = 3
	probeCooldown    = time.Second
	maxProbeCooldown = 30 * time.Second
)

// failed notes a failed delivery at now.
func (o *outbox) failed(now time.Time) {
	o.failures++
	if n := o.failures - openAfter; n >= 0 {
		o.nextProbe = now.Add(min(probeCooldown<<min(n, 5), maxProbeCooldown))
	}
}

// resting reports whether the sink's circuit is open and its next probe not
// yet due.
func (o *outbox) resting(now time.Time) bool {
	return o.failures >= openAfter && now.Before(o.nextProbe)
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
			p.lossLocked(lossKey{o.name, schema.GapQueueFull, "extension", ""}, seq, seq, 1, int64(len(rec)), err.Error())
		}
	}
}

// flush delivers to every sink at once, each from its own backlog, until
// the backlogs are empty or ctx ends. A write that ctx cuts short is
// cancelled and its records kept, so nothing is in flight when flush
// returns; what a sink did not take waits on the spool.
//
// A sink whose circuit is open is left alone until its next probe is due,
// unless force is set (at SHUTDOWN: the last chance).
func (p *pipeline) flush(ctx context.Context, force bool) {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.queueGaps()
	var wg sync.WaitGroup
	now := p.now()
	for _, o := range p.outboxes {
		if force || !o.resting(now) {
			wg.Go(func() { p.deliver(ctx, o) })
		} else {
			p.spill(o)
		}
	}
	wg.Wait()
}

// deliver sends one sink its backlog, oldest first, until it is empty, the
// sink fails, or ctx ends; then spills what is left to the spool.
func (p *pipeline) deliver(ctx context.Context, o *outbox) {
	var partial *sinks.PartialError
delivery:
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
				p.log.Info("sink recovered", "sink", o.name, "failures", o.failures)
				o.failing = false
			}
			o.failures = 0
			p.done(o, batch)
		case errors.As(err, &partial):
			rest := p.partial(o, batch, partial)
			p.done(o, batch)
			if len(rest) > 0 {
				lost, rerr := o.backlog.Return(buffer.Batch{Records: rest})
				p.spoolLoss(o.name, schema.GapSpoolFull, lost, "spool full: the oldest records were dropped")
				if rerr != nil {
					p.log.Error("cannot spool the records of a failed write; they stay in memory", "sink", o.name, "error", rerr)
				}
				o.failed(p.now())
				break delivery
			}
		case sinks.IsPermanent(err):
			p.reject(o, batch.Records, err)
			p.done(o, batch)
		default:
			if !o.failing {
				p.log.Error("sink failing; its records wait on the spool", "sink", o.name, "error", err)
				o.failing = true
			}
			o.failed(p.now())
			lost, rerr := o.backlog.Return(batch)
			p.spoolLoss(o.name, schema.GapSpoolFull, lost, "spool full: the oldest records were dropped")
			if rerr != nil {
				p.log.Error("cannot spool the records of a failed write; they stay in memory", "sink", o.name, "error", rerr)
			}
			break delivery
		}
	}
	p.spill(o)
}

// spill moves what a sink has not taken to disk, where it survives a
// freeze and a reset.
func (p *pipeline) spill(o *outbox) {
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
func (p *pipeline) reject(o *outbox, records [][]byte, err error) {
	if !o.rejected {
		p.log.Error("sink refused records; they go to the dead letters", "sink", o.name, "error", err)
		o.rejected = true
	}
	if o.dead != nil {
		// Dropped dead letters are accounted for already: by the gap below.
		if _, lost, derr := o.dead.Append(records); derr != nil || !lost.Zero() {
			p.log.Error("dead letters lost", "sink", o.name, "records", lost.Records, "error", derr)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lostLocked(o.name, schema.GapSinkRejected, records, err.Error())
}

// partial handles a batch the sink took in part: the records it refused
// are rejected, those it could not name are counted against the batch's
// seq range, and it returns the records to send again (when the sink asks
// for it), the refused ones left out.
func (p *pipeline) partial(o *outbox, batch buffer.Batch, pe *sinks.PartialError) (again [][]byte) {
	refused := make(map[int]bool, len(pe.Rejected))
	var records [][]byte
	for _, i := range pe.Rejected {
		if i >= 0 && i < len(batch.Records) && !refused[i] {
			refused[i] = true
			records = append(records, batch.Records[i])
		}
	}
	if len(records) > 0 {
		p.reject(o, records, pe)
	}
	if pe.RejectedCount > 0 {
		p.mu.Lock()
		for i, r := range schema.SeqsOf(batch.Records) {
			n := int64(0)
			if i == 0 {
				n = int64(pe.RejectedCount)
			}
			p.lossLocked(lossKey{o.name, schema.GapSinkRejected, "extension", r.EnvID}, r.From, r.To, n, 0,
				"the sink refused some of these records without naming them: "+pe.Error())
		}
		p.mu.Unlock()
	}
	if !pe.Retry {
		return nil
	}
	for i, r := range batch.Records {
		if !refused[i] {
			again = append(again, r)
		}
	}
	return again
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
	p.lostLocked(sink, reason, l.Dropped, detail)
	// What could not even be read is only counted.
	if unread := l.Records - int64(len(l.Dropped)); unread > 0 {
		var readBytes int64
		for _, r := range l.Dropped {
			readBytes += int64(len(r))
		}
		p.lossLocked(lossKey{sink, reason, "extension", ""}, 0, 0, unread, max(l.Bytes-readBytes, 0), detail)
	}
}

// queueGaps writes the losses into gap records and hands every pending gap
// record to every sink.
func (p *pipeline) queueGaps() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lossGapsLocked()
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
