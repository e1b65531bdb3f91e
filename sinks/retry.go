package sinks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// RetryConfig says how [WithRetry] retries and when its circuit breaker
// opens. Start from [DefaultRetryConfig]; the defaults are in the comments.
type RetryConfig struct {
	InitialInterval time.Duration // first backoff delay, > 0; default 25ms
	MaxInterval     time.Duration // cap on the backoff delay before jitter, >= InitialInterval; default 1s
	Multiplier      float64       // growth of the delay per retry, >= 1; default 2
	Jitter          float64       // randomization factor in [0, 1): each delay is picked in ±Jitter of it; 0 disables; default 0.5
	MaxRetryAfter   time.Duration // cap on an honoured Retry-After, >= 0; default 30s
	MaxElapsed      time.Duration // bound on a Write when ctx has no deadline, > 0; default 10s
	BreakerFailures int           // consecutive failed Writes that open the circuit, >= 1; default 3
}

// DefaultRetryConfig returns the defaults: short delays, because a Lambda
// extension delivers within a budget of tens of milliseconds per invoke.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{
		InitialInterval: 25 * time.Millisecond,
		MaxInterval:     time.Second,
		Multiplier:      2,
		Jitter:          0.5,
		MaxRetryAfter:   30 * time.Second,
		MaxElapsed:      10 * time.Second,
		BreakerFailures: 3,
	}
}

// Validate reports every field out of its range, joined into one error.
func (c RetryConfig) Validate() error {
	var errs []error
	bad := func(field string, v any, want string) {
		errs = append(errs, fmt.Errorf("sinks: retry: %s is %v, want %s", field, v, want))
	}
	if c.InitialInterval <= 0 {
		bad("InitialInterval", c.InitialInterval, "> 0")
	}
	if c.MaxInterval < c.InitialInterval || c.MaxInterval <= 0 {
		bad("MaxInterval", c.MaxInterval, ">= InitialInterval and > 0")
	}
	if !(c.Multiplier >= 1) || math.IsInf(c.Multiplier, 0) { // !(>=) also catches NaN
		bad("Multiplier", c.Multiplier, "a finite number >= 1")
	}
	if !(c.Jitter >= 0 && c.Jitter < 1) {
		bad("Jitter", c.Jitter, "in [0, 1)")
	}
	if c.MaxRetryAfter < 0 {
		bad("MaxRetryAfter", c.MaxRetryAfter, ">= 0")
	}
	if c.MaxElapsed <= 0 {
		bad("MaxElapsed", c.MaxElapsed, "> 0")
	}
	if c.BreakerFailures < 1 {
		bad("BreakerFailures", c.BreakerFailures, ">= 1")
	}
	return errors.Join(errs...)
}

// orDefaults returns c with every field that [RetryConfig.Validate] would
// reject replaced by its default.
func (c RetryConfig) orDefaults() RetryConfig {
	d := DefaultRetryConfig()
	if c.InitialInterval <= 0 {
		c.InitialInterval = d.InitialInterval
	}
	if c.MaxInterval < c.InitialInterval || c.MaxInterval <= 0 {
		c.MaxInterval = max(d.MaxInterval, c.InitialInterval)
	}
	if !(c.Multiplier >= 1) || math.IsInf(c.Multiplier, 0) {
		c.Multiplier = d.Multiplier
	}
	if !(c.Jitter >= 0 && c.Jitter < 1) {
		c.Jitter = d.Jitter
	}
	if c.MaxRetryAfter < 0 {
		c.MaxRetryAfter = d.MaxRetryAfter
	}
	if c.MaxElapsed <= 0 {
		c.MaxElapsed = d.MaxElapsed
	}
	if c.BreakerFailures < 1 {
		c.BreakerFailures = d.BreakerFailures
	}
	return c
}

// retrySink is the Sink that [WithRetry] returns.
type retrySink struct {
	next     Sink
	cfg      RetryConfig
	backoff  *backoff.ExponentialBackOff // reset at the start of each Write
	failures int                         // consecutive Writes that ended in a transient failure
}

// WithRetry returns a Sink that retries next's Write with exponential backoff
// and jitter, plus a circuit breaker. Fields of cfg that
// [RetryConfig.Validate] rejects take their defaults, so call Validate first
// to report them.
//
// Write returns nil as soon as next accepts the batch. A [Permanent] error is
// returned at once. After any other error Write waits the backoff delay, or
// the [RetryAfter] of a [Throttled] error if longer (capped at
// cfg.MaxRetryAfter), and tries again; but when that wait would reach ctx's
// deadline (or cfg.MaxElapsed after the start of Write, if ctx has none) it
// returns the last error at once instead of sleeping. If ctx ends, Write
// returns an error wrapping both ctx.Err() and the last error. All returned
// errors wrap next's, so [IsPermanent] and [RetryAfter] see through them.
//
// The circuit breaker counts Writes that end in a transient or throttled
// failure; Permanent errors neither count nor reset the count, since the
// backend answered. After cfg.BreakerFailures such Writes in a row the
// circuit is open: each Write makes exactly one attempt, without retrying or
// sleeping, and its failure wraps [ErrCircuitOpen]. The first Write that
// succeeds closes the circuit. There is no time-based cooldown: delivery
// calls Write about once per invoke, so a dead backend costs one attempt per
// invoke.
//
// Name and Close are next's. Like any Sink, the result is not safe for
// concurrent use.
func WithRetry(next Sink, cfg RetryConfig) Sink {
	cfg = cfg.orDefaults()
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(cfg.InitialInterval),
		backoff.WithMaxInterval(cfg.MaxInterval),
		backoff.WithMultiplier(cfg.Multiplier),
		backoff.WithRandomizationFactor(cfg.Jitter),
		backoff.WithMaxElapsedTime(0), // Write bounds the time itself
	)
	return &retrySink{next: next, cfg: cfg, backoff: b}
}

// Name returns next's name.
func (r *retrySink) Name() string { return r.next.Name() }

// Close closes next.
func (r *retrySink) Close(ctx context.Context) error { return r.next.Close(ctx) }

// Write delivers batch through next, retrying as [WithRetry] describes.
func (r *retrySink) Write(ctx context.Context, batch [][]byte) error {
	if err := ctx.Err(); err != nil {
		// Not the backend's fault: no attempt, and no count for the breaker.
		return fmt.Errorf("sinks: retry: %w before the first attempt", err)
	}
	if r.failures >= r.cfg.BreakerFailures {
		return r.probe(ctx, batch)
	}

	r.backoff.Reset()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(r.cfg.MaxElapsed)
	}
	var part partialResult
	for attempt := 1; ; attempt++ {
		err := part.narrow(r.next.Write(ctx, part.batch(batch)))
		switch {
		case err == nil:
			r.failures = 0
			return part.result(nil)
		case isFinalPartial(err):
			r.failures = 0 // the backend is up
			return err
		case IsPermanent(err):
			return err
		case ctx.Err() != nil:
			r.failures++
			return part.result(fmt.Errorf("sinks: retry: %w after %d attempt(s); last error: %w", ctx.Err(), attempt, err))
		}

		wait := r.backoff.NextBackOff()
		if after, ok := RetryAfter(err); ok {
			wait = max(wait, min(after, r.cfg.MaxRetryAfter))
		}
		if !time.Now().Add(wait).Before(deadline) {
			r.failures++
			return part.result(fmt.Errorf("sinks: retry: gave up after %d attempt(s), the next one in %v would pass the deadline: %w", attempt, wait, err))
		}
		if !sleep(ctx, wait) {
			r.failures++
			return part.result(fmt.Errorf("sinks: retry: %w after %d attempt(s); last error: %w", ctx.Err(), attempt, err))
		}
	}
}

// partialResult follows a batch through partial failures: records refused
// for good are left out of the next attempt, and the result names them by
// their index in the original batch.
type partialResult struct {
	n        int   // size of the original batch
	idx      []int // original index of each record still sent; nil: all
	rejected []int
	count    int
	last     *PartialError
}

// batch returns the records to send next.
func (p *partialResult) batch(orig [][]byte) [][]byte {
	p.n = len(orig)
	if p.idx == nil {
		return orig
	}
	out := make([][]byte, len(p.idx))
	for i, j := range p.idx {
		out[i] = orig[j]
	}
	return out
}

// narrow takes an attempt's error. A partial failure asking for a retry
// drops its refused records from the next attempt and becomes a plain
// transient error; a final one comes back with every refusal so far.
func (p *partialResult) narrow(err error) error {
	var pe *PartialError
	if !errors.As(err, &pe) {
		return err
	}
	if p.idx == nil {
		p.idx = make([]int, p.n)
		for i := range p.idx {
			p.idx[i] = i
		}
	}
	refused := map[int]bool{}
	for _, i := range pe.Rejected {
		if i >= 0 && i < len(p.idx) && !refused[i] {
			refused[i] = true
			p.rejected = append(p.rejected, p.idx[i])
		}
	}
	p.count += pe.RejectedCount
	p.last = pe
	if !pe.Retry {
		return p.result(nil)
	}
	kept := p.idx[:0:0]
	for i, j := range p.idx {
		if !refused[i] {
			kept = append(kept, j)
		}
	}
	p.idx = kept
	// The rest is to be sent again whatever marks pe.Err carries; only a
	// Retry-After it asks for is kept.
	err = fmt.Errorf("sinks: retry: part of the batch failed: %v", pe.Err)
	if after, ok := RetryAfter(pe.Err); ok {
		err = Throttled(err, after)
	}
	return err
}

// result is the Write's outcome: err (nil on success, or why it gave up)
// together with the refusals met on the way, if any.
func (p *partialResult) result(err error) error {
	if p.last == nil || (len(p.rejected) == 0 && p.count == 0) {
		return err
	}
	cause := p.last.Err
	if err != nil {
		cause = err
	}
	return &PartialError{Rejected: p.rejected, RejectedCount: p.count, Retry: err != nil, Err: cause}
}

// probe makes the single attempt of a Write while the circuit is open.
func (r *retrySink) probe(ctx context.Context, batch [][]byte) error {
	err := r.next.Write(ctx, batch)
	if err == nil || isFinalPartial(err) {
		r.failures = 0
		return err
	}
	return fmt.Errorf("%w (one attempt per Write until one succeeds): %w", ErrCircuitOpen, err)
}

// sleep waits for d, and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// isFinalPartial reports a partial failure not worth sending again: the
// backend took what it could and refused the rest for good.
func isFinalPartial(err error) bool {
	var pe *PartialError
	return errors.As(err, &pe) && !pe.Retry
}
