package extension

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/audittrail/audittrail/schema"
)

// maxBatchBytes bounds one batch handed to the sinks.
const maxBatchBytes = 1 << 20

// maxHeldGaps bounds the coverage-gap records held between flushes.
const maxHeldGaps = 256

// gapKey groups losses summed once maxHeldGaps is reached.
type gapKey struct{ reason, source, sink string }

// pipeline turns telemetry into records, queues them, and flushes the queue
// to the sinks. The telemetry listener feeds it concurrently with the
// lifecycle loop, which waits on it and flushes it.
type pipeline struct {
	log *slog.Logger
	now func() time.Time
	// outboxes deliver to the sinks, one each.
	outboxes []*outbox
	// stdout receives records no sink could take (CloudWatch Logs).
	stdout io.Writer
	// flushMu keeps flushes one at a time.
	flushMu sync.Mutex

	mu      sync.Mutex
	builder *schema.Builder
	// changed is closed and replaced whenever the builder saw telemetry, so
	// waiters can re-check their condition.
	changed chan struct{}
	// gaps holds encoded coverage-gap records; they bypass the queue's bound
	// so that a loss is never itself lost.
	gaps [][]byte
	// chain numbers and hashes every record of the environment.
	chain schema.Chain
	// envID is this environment's audit.env_id.
	envID string
	// losses sums the records lost since the last flush, which writes one
	// coverage-gap record per sink, reason and environment.
	losses map[lossKey]*loss
	// overflow sums the losses that arrived once gaps was full.
	overflow map[gapKey][2]int64
	// captures carries the proxy's captures to runCaptures.
	captures chan capture
	// findingRecords adds a security_finding record after each invocation
	// record with findings.
	findingRecords bool
}

// newPipeline returns a pipeline delivering to outboxes, sealing records
// into chain.
func newPipeline(log *slog.Logger, env schema.Environment, chain schema.Chain, outboxes []*outbox, stdout io.Writer) *pipeline {
	p := &pipeline{
		log:      log,
		stdout:   stdout,
		now:      time.Now,
		outboxes: outboxes,
		chain:    chain,
		changed:  make(chan struct{}),
		captures: make(chan capture, maxPendingCaptures),
		overflow: map[gapKey][2]int64{},
		envID:    env.EnvID,
		losses:   map[lossKey]*loss{},
	}
	if env.Inspector != nil {
		env.Inspector = guarded{p, env.Inspector}
	}
	p.builder = schema.NewBuilder(env)
	return p
}

// guarded runs the detectors so that a failure of theirs costs only their
// findings: a panic is recovered and written as an internal_error gap.
// The builder calls it with p.mu held.
type guarded struct {
	p  *pipeline
	in schema.Inspector
}

func (g guarded) Exchange(rec *schema.Record, x schema.Exchange, parts *schema.HTTPParts) {
	defer g.recover()
	g.in.Exchange(rec, x, parts)
}

func (g guarded) Finished(rec *schema.Record) {
	defer g.recover()
	g.in.Finished(rec)
}

func (g guarded) recover() {
	if r := recover(); r != nil {
		g.p.log.Error("detector failed; its findings are missing", "panic", fmt.Sprint(r))
		g.p.gapLocked(schema.GapInternalError, "extension", 0, 0, fmt.Sprintf("detectors: %v", r))
	}
}

// telemetry consumes one parsed batch; bad counts elements that could not
// be parsed, described by err.
func (p *pipeline) telemetry(events []schema.TelemetryEvent, bad int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainCapturesLocked()
	var badBytes int64
	for _, ev := range events {
		recs, addErr := p.builder.Add(ev)
		if addErr != nil {
			if bad == 0 {
				err = addErr
			}
			bad++
			badBytes += int64(len(ev.Record))
			continue
		}
		p.pushLocked(recs)
	}
	// One log line and one gap per batch, however much of it was bad.
	if bad > 0 {
		p.log.Warn("invalid telemetry skipped", "count", bad, "error", err)
		p.gapLocked(schema.GapTelemetryInvalid, "extension", int64(bad), badBytes, err.Error())
	}
	p.changedLocked()
}

// changedLocked wakes whoever waits on the builder's state.
func (p *pipeline) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// maxPendingCaptures bounds the captures waiting to be normalized.
const maxPendingCaptures = 64

// enqueueCapture hands over what the Runtime API proxy saw. It never
// blocks: the runtime's request is waiting on it. A capture that does not
// fit is dropped and counted.
func (p *pipeline) enqueueCapture(c capture) {
	select {
	case p.captures <- c:
	default:
		p.gap(schema.GapQueueFull, 1, c.Size, "runtime API proxy: capture queue full; the exchange passed uninspected")
	}
}

// runCaptures normalizes captures off the runtime's path until stop closes.
func (p *pipeline) runCaptures(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case c := <-p.captures:
			p.mu.Lock()
			p.captureLocked(c)
			p.changedLocked()
			p.mu.Unlock()
		}
	}
}

// drainCapturesLocked takes the captures still waiting, so that telemetry
// about an invocation never overtakes what the proxy saw of it.
func (p *pipeline) drainCapturesLocked() {
	for {
		select {
		case c := <-p.captures:
			p.captureLocked(c)
		default:
			return
		}
	}
}

// captureLocked adds a capture to the builder.
func (p *pipeline) captureLocked(c capture) {
	if c.Kind == "event" {
		p.builder.CaptureEvent(c.RequestID, c.Body, c.Size, c.Truncated, c.At)
		return
	}
	// An error posted to /error, or a streamed response that failed
	// midway, names its type in this header (or trailer).
	errorType := c.Header.Get("Lambda-Runtime-Function-Error-Type")
	if c.Kind == "error" && errorType == "" {
		errorType = "Unhandled"
	}
	body, size := c.Body, c.Size
	if c.Header.Get("Content-Type") == schema.StreamingHTTPContentType {
		body, size = schema.SplitStreamingPrelude(body, size)
	}
	p.builder.CaptureResult(c.RequestID, body, size, c.Truncated, errorType, c.At)
}

// invoke notes an INVOKE event.
func (p *pipeline) invoke(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.builder.Invoke(ev.RequestID, ev.InvokedFunctionArn, ev.Tracing.Value, p.now())
}

// waitUntil blocks until cond holds for the builder or ctx ends, and reports
// whether cond held.
func (p *pipeline) waitUntil(ctx context.Context, cond func(*schema.Builder) bool) bool {
	for {
		p.mu.Lock()
		ok, changed := cond(p.builder), p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// gap records a loss observed by the extension.
func (p *pipeline) gap(reason string, records, bytes int64, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gapLocked(reason, "extension", records, bytes, detail)
}

// gapLocked records a loss the extension or Lambda reported.
func (p *pipeline) gapLocked(reason, source string, records, bytes int64, detail string) {
	if len(p.gaps) >= maxHeldGaps {
		p.overflowLocked(gapKey{reason, source, ""}, records, bytes)
		return
	}
	p.appendGapLocked(p.builder.Gap(reason, source, records, bytes, detail, p.now()))
}

// appendGapLocked holds a gap record for the next flush. Beyond
// maxHeldGaps, losses are summed per reason instead, so that even a flood
// of losses takes bounded memory and is still counted.
func (p *pipeline) appendGapLocked(rec schema.Record) {
	if len(p.gaps) >= maxHeldGaps {
		p.overflowLocked(gapKey{rec.Gap.Reason, rec.Gap.Source, rec.Gap.Sink}, rec.Gap.Records, rec.Gap.Bytes)
		return
	}
	if b, err := p.chain.Seal(&rec); err == nil {
		p.gaps = append(p.gaps, b)
	}
}

func (p *pipeline) overflowLocked(k gapKey, records, bytes int64) {
	sum := p.overflow[k]
	p.overflow[k] = [2]int64{sum[0] + records, sum[1] + bytes}
}

// shutdown emits what the builder still holds and the shutdown record.
func (p *pipeline) shutdown(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainCapturesLocked()
	p.pushLocked(p.builder.Shutdown(reason, p.now()))
}

// pushLocked seals records into the chain and queues them for every sink;
// coverage gaps are held apart, so that a loss is never itself lost.
func (p *pipeline) pushLocked(recs []schema.Record) {
	for i := range recs {
		if recs[i].Event.Action == schema.ActionCoverageGap {
			p.appendGapLocked(recs[i])
			continue
		}
		p.sealLocked(&recs[i])
		if p.findingRecords {
			for _, f := range schema.FindingRecords(&recs[i]) {
				p.sealLocked(&f)
			}
		}
	}
}

// sealLocked seals a record into the chain and queues it.
func (p *pipeline) sealLocked(rec *schema.Record) {
	b, err := p.chain.Seal(rec)
	if err != nil {
		// Records are plain data; this cannot happen short of a bug.
		p.log.Error("record not encodable", "error", err)
		return
	}
	p.enqueueLocked(b, rec.Audit.Seq, false)
}

// takeGapsLocked returns the pending gap records, the summed ones last.
func (p *pipeline) takeGapsLocked() [][]byte {
	gaps := p.gaps
	p.gaps = nil
	for k, sum := range p.overflow {
		rec := p.builder.Gap(k.reason, k.source, sum[0], sum[1], "losses summed: too many to record one by one", p.now())
		rec.Gap.Sink = k.sink
		if b, err := p.chain.Seal(&rec); err == nil {
			gaps = append(gaps, b)
		}
		delete(p.overflow, k)
	}
	return gaps
}
