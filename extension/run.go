// Package extension is the Lambda extension: it registers with the
// Extensions API, subscribes to the Telemetry API, turns what it hears into
// audit records, and delivers them to the sinks around the Lambda lifecycle
// so that nothing is in flight when the environment freezes.
//
// # Lifecycle
//
//  1. Listen for telemetry on an ephemeral port, then register (INVOKE and
//     SHUTDOWN; SHUTDOWN only on Lambda Managed Instances) and subscribe
//     (schema 2025-01-29, falling back to 2022-12-13).
//  2. On INVOKE: wait until the runtime answered that request, as the
//     Runtime API proxy sees it or platform.runtimeDone tells (bounded by
//     the invoke deadline), flush within AUDITTRAIL_FLUSH_BUDGET, then call
//     event/next. Lambda freezes the environment only after that call, so no
//     request is in flight at the freeze.
//  3. On SHUTDOWN: wait for the platform.report of invocations still open,
//     emit the shutdown record, deliver within the deadline minus a safety
//     margin, write anything left to stdout as marked lines, and exit.
//
// On Managed Instances there are no INVOKE events and no freeze; a
// background flusher delivers records as they come.
package extension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/audittrail/audittrail/detect"
	"github.com/audittrail/audittrail/internal/config"
	"github.com/audittrail/audittrail/internal/secrets"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks"
	"github.com/google/uuid"
)

// Timing of the lifecycle. Every wait is bounded by one of these or by a
// deadline Lambda gave.
const (
	// invokeMargin is kept free before an invoke's deadline.
	invokeMargin = 50 * time.Millisecond
	// shutdownMargin is kept free before the SHUTDOWN deadline, for writing
	// leftovers to stdout and exiting.
	shutdownMargin = 150 * time.Millisecond
	// spillReserve is kept of the flush budget for spilling what is left
	// and calling event/next.
	spillReserve = 5 * time.Millisecond
	// shutdownDeliveryReserve is kept for delivery after waiting for the
	// last platform.report.
	shutdownDeliveryReserve = 300 * time.Millisecond
	// backgroundFlushDelay batches records on Managed Instances.
	backgroundFlushDelay = 200 * time.Millisecond
	// maxRuntimeDoneMisses consecutive invokes without the runtime's answer
	// being seen make the extension stop waiting for it.
	maxRuntimeDoneMisses = 3
	// secretTimeout bounds fetching a secret at start-up.
	secretTimeout = 2 * time.Second
	// apiTimeout bounds register and subscribe calls.
	apiTimeout = 2 * time.Second
)

// Options are what Run needs from its caller.
type Options struct {
	Config config.Config
	// Name is the extension's file name, sent at registration.
	Name string
	// Stdout receives the stdout sink's lines and undelivered records.
	Stdout io.Writer
	// Log is the extension's own logger; its lines must carry
	// logger=audittrail so that they never re-enter the trail.
	Log *slog.Logger
	// Secrets fetches the secrets the configuration names.
	Secrets *secrets.Resolver
	// ConfigProblems are what reading the configuration found (bad values
	// replaced by defaults, disabled sinks, unknown variables): each goes
	// into the trail as a coverage-gap record, since what was asked for
	// (a sink, say) will not happen.
	ConfigProblems error
}

// Run is the extension's main loop. It returns nil after a SHUTDOWN was
// handled, and an error when it cannot run at all (registration failed or
// the platform stopped answering).
func Run(ctx context.Context, opts Options) error {
	cfg, log := opts.Config, opts.Log
	client := NewClient(cfg.Lambda.RuntimeAPI)
	lmi := cfg.Lambda.ManagedInstances()

	ss, sinkErr := openSinks(cfg, opts.Stdout, opts.Secrets)
	if sinkErr != nil {
		log.Error("sink disabled", "error", sinkErr)
	}
	// The proxy listens before registering: Lambda starts the runtime (and
	// so the exec wrapper, which looks for the proxy) only after every
	// extension registered. It serves once the pipeline exists.
	var px *proxy
	if cfg.Proxy {
		px = startProxyListener(cfg, log)
	}

	events := []string{EventInvoke, EventShutdown}
	if lmi {
		events = []string{EventShutdown}
	}
	rctx, cancel := context.WithTimeout(ctx, apiTimeout)
	reg, err := client.Register(rctx, opts.Name, events)
	cancel()
	if err != nil {
		return fmt.Errorf("cannot run: %w", err)
	}
	env := schema.Environment{
		EnvID:              uuid.NewString(),
		FunctionName:       cfg.Lambda.FunctionName,
		FunctionVersion:    cfg.Lambda.FunctionVersion,
		Region:             cfg.Lambda.Region,
		AccountID:          reg.AccountID,
		MemoryMB:           cfg.Lambda.MemoryMB,
		InitializationType: cfg.Lambda.InitializationType,
		Logs:               cfg.LogRecords(),
		Redaction:          cfg.Redaction,
	}
	if cfg.PseudonymKeyARN != "" {
		env.Redaction = pseudonymKey(ctx, opts.Secrets, cfg.PseudonymKeyARN, env.Redaction, log)
	}
	var detectErr error
	if cfg.Detect.On {
		var d *detect.Detectors
		if d, detectErr = NewDetectors(cfg.Detect); d != nil {
			env.Inspector = d
		}
	}
	outboxes, spoolErr := openOutboxes(delivery{
		QueueBytes: cfg.QueueBytes,
		SpoolDir:   cfg.SpoolDir,
		SpoolBytes: cfg.SpoolBytes,
		Retry:      sinks.DefaultRetryConfig(),
	}, ss)
	chainKey := cfg.ChainKey
	var chainKeyErr error
	if cfg.ChainKeyARN != "" {
		chainKey, chainKeyErr = fetchSecret(ctx, opts.Secrets, cfg.ChainKeyARN)
	}
	p := newPipeline(log, env, schema.NewChain(chainKey), outboxes, opts.Stdout)
	p.findingRecords = cfg.Detect.FindingRecords
	if detectErr != nil {
		log.Error("detector disabled", "error", detectErr)
		p.gap(schema.GapInternalError, 0, 0, "configuration: "+detectErr.Error())
	}
	for _, problem := range problemsOf(opts.ConfigProblems, sinkErr) {
		p.gap(schema.GapInternalError, 0, 0, "configuration: "+problem)
	}
	if spoolErr != nil {
		log.Error("spool unavailable", "error", spoolErr)
		p.gap(schema.GapInternalError, 0, 0, spoolErr.Error())
	}
	if chainKeyErr != nil {
		log.Error("chain key unavailable; the chain is plain SHA-256", "error", chainKeyErr)
		p.gap(schema.GapInternalError, 0, 0, "chain key unavailable; the chain is plain SHA-256: "+chainKeyErr.Error())
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	if px != nil {
		defer serveProxy(px, p, log, &wg)()
	}
	subscribed, stopTelemetry := startTelemetry(ctx, client, p, cfg.TelemetryTypes, log, &wg)
	defer stopTelemetry()
	log.Debug("extension ready", "managed_instances", lmi, "telemetry", subscribed)
	return loop(ctx, client, p, log, subscribed, px != nil, lmi, cfg, &wg)
}

// loop answers Lambda's events until SHUTDOWN.
func loop(ctx context.Context, client *Client, p *pipeline, log *slog.Logger, subscribed, proxied, lmi bool, cfg config.Config, wg *sync.WaitGroup) error {
	wait := runtimeDoneWait{enabled: subscribed || proxied}
	sched := &schedule{cfg: cfg.Flush}
	stopFlusher := func() {}
	if lmi {
		stopFlusher = startFlusher(ctx, p, wg)
	}
	for {
		ev, err := client.Next(ctx)
		if err != nil {
			stopFlusher()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			p.flush(fctx, true)
			p.close(fctx)
			cancel()
			return fmt.Errorf("lost the Extensions API: %w", err)
		}
		switch ev.EventType {
		case EventInvoke:
			safely(p, log, "invoke", func() {
				wait.observe(onInvoke(ctx, p, ev, wait.enabled, cfg.FlushBudget, sched), log)
			})
		case EventShutdown:
			stopFlusher()
			safely(p, log, "shutdown", func() { onShutdown(ctx, p, ev, subscribed, log) })
			return nil
		default:
			log.Warn("unknown event ignored", "eventType", ev.EventType)
		}
	}
}

// serveProxy connects the proxy to the pipeline and serves the runtime;
// the returned func stops it.
func serveProxy(px *proxy, p *pipeline, log *slog.Logger, wg *sync.WaitGroup) func() {
	stopCaptures := make(chan struct{})
	wg.Go(func() { p.runCaptures(stopCaptures) })
	px.observe = p.enqueueCapture
	px.failed = func(err error) {
		log.Warn("request capture failed; the exchange passed through uninspected", "error", err)
		p.gap(schema.GapInternalError, 1, 0, "runtime API proxy: "+err.Error())
	}
	wg.Go(func() {
		if err := px.serve(); err != nil {
			log.Error("runtime API proxy stopped", "error", err)
		}
	})
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = px.srv.Shutdown(sctx)
		close(stopCaptures)
	}
}

// startTelemetry starts the telemetry listener and subscribes. Without a
// listener or a subscription the extension still runs (once registered,
// exiting would make Lambda reset the function); it records the gap. The
// listener is up before subscribing: Lambda delivers right after.
func startTelemetry(ctx context.Context, client *Client, p *pipeline, types []string, log *slog.Logger, wg *sync.WaitGroup) (bool, func()) {
	stop := func() {}
	subscribed := false
	l, err := listenTelemetry(p.telemetry)
	if err != nil {
		log.Error("no telemetry listener; continuing without platform records", "error", err)
	} else {
		wg.Go(func() {
			if err := l.serve(); err != nil {
				log.Error("telemetry listener stopped", "error", err)
			}
		})
		stop = func() {
			sctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_ = l.shutdown(sctx)
		}
		subscribed = subscribe(ctx, client, l.URI(), types, log)
	}
	if !subscribed {
		p.gap(schema.GapTelemetryUnavailable, 0, 0, "no telemetry subscription; no platform records for this environment")
	}
	return subscribed, stop
}

// pseudonymKey fetches the pseudonym key during init, before the first
// event/next, so that no request to Secrets Manager is in flight at a
// freeze. If it cannot be had, identities are redacted: never recorded in
// clear when pseudonyms were asked for.
func pseudonymKey(ctx context.Context, r *secrets.Resolver, arn string, red schema.Redaction, log *slog.Logger) schema.Redaction {
	key, err := fetchSecret(ctx, r, arn)
	if err != nil {
		log.Error("pseudonym key unavailable; identities will be redacted", "error", err)
		red.DropIdentities = true
		return red
	}
	red.PseudonymKey = key
	return red
}

// maxConfigProblems bounds the configuration problems written into the
// trail.
const maxConfigProblems = 20

// problemsOf splits joined errors into one line each, at most
// maxConfigProblems.
func problemsOf(errs ...error) []string {
	var out []string
	for _, err := range errs {
		if err == nil {
			continue
		}
		for line := range strings.SplitSeq(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" && len(out) < maxConfigProblems {
				out = append(out, line)
			}
		}
	}
	return out
}

// fetchSecret fetches a secret during init, before the first event/next,
// so that no request to Secrets Manager is in flight at a freeze.
func fetchSecret(ctx context.Context, r *secrets.Resolver, arn string) ([]byte, error) {
	sctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	key, err := r.Get(sctx, arn)
	if err == nil && len(key) == 0 {
		err = fmt.Errorf("secret %s is empty", arn)
	}
	return key, err
}

// startProxyListener starts listening for the runtime and tells the exec
// wrapper where; on failure the wrapper finds no address and the runtime
// talks to Lambda directly (records then come from telemetry only).
func startProxyListener(cfg config.Config, log *slog.Logger) *proxy {
	addrFile := filepath.Join(cfg.TmpDir, ProxyAddrFile)
	_ = os.Remove(addrFile) // left by an earlier environment, before a reset
	upstream := cfg.Upstream
	if upstream == "" {
		upstream = cfg.Lambda.RuntimeAPI
	}
	px, err := newProxy(upstream, cfg.CaptureBytes, log)
	if err != nil {
		log.Error("no runtime API proxy; recording from telemetry only", "error", err)
		return nil
	}
	if _, err := px.publish(cfg.TmpDir); err != nil {
		log.Error("cannot publish the proxy address; recording from telemetry only", "error", err)
		_ = px.ln.Close()
		return nil
	}
	return px
}

// runtimeDoneWait decides whether an invoke waits for the runtime's answer
// (seen by the proxy, or platform.runtimeDone). It gives up after repeated
// misses: if neither signal comes, waiting would hold every invoke until
// its deadline.
type runtimeDoneWait struct {
	enabled bool
	misses  int
}

// observe notes whether runtimeDone arrived for the last invoke.
func (w *runtimeDoneWait) observe(arrived bool, log *slog.Logger) {
	if !w.enabled || arrived {
		w.misses = 0
		return
	}
	if w.misses++; w.misses >= maxRuntimeDoneMisses {
		w.enabled = false
		log.Warn("the runtime's answer keeps going unseen; no longer waiting for it", "misses", w.misses)
	}
}

// onInvoke waits for the runtime to finish this request (when wait is set),
// delivering in the background meanwhile if the schedule says so, then
// delivers within flushBudget if the schedule says so. Everything ends
// before the invoke's deadline, and nothing is in flight when it returns.
// It reports whether the runtime's answer was seen.
func onInvoke(ctx context.Context, p *pipeline, ev Event, wait bool, flushBudget time.Duration, sched *schedule) bool {
	p.invoke(ev)
	deadline := time.UnixMilli(ev.DeadlineMs).Add(-invokeMargin)
	stopBackground := func() {}
	if every := sched.invoke(time.Now()); every > 0 {
		stopBackground = background(ctx, p, sched, every, deadline, flushBudget)
	}
	done := false
	if wait {
		// Stop waiting early enough to flush before the deadline.
		wctx, cancel := context.WithDeadline(ctx, deadline.Add(-flushBudget))
		// The runtime's answer, seen by the proxy, tells as much as
		// platform.runtimeDone and comes about 25 ms sooner (the Telemetry
		// API's minimum buffering).
		done = p.waitUntil(wctx, func(b *schema.Builder) bool { return b.Answered(ev.RequestID) })
		cancel()
	}
	stopBackground()
	if now := time.Now(); sched.atEnd(now) {
		sched.flushed(now)
		// The budget covers everything until event/next: keep a little of
		// it for spilling what is left and for the call itself.
		end := now.Add(flushBudget - min(flushBudget/5, spillReserve))
		if deadline.Before(end) {
			end = deadline
		}
		fctx, cancel := context.WithDeadline(ctx, end)
		p.flush(fctx, false)
		cancel()
	}
	return done
}

// background delivers while the function runs, whenever the schedule says
// a delivery is due, checking every interval. The returned func stops it
// before the freeze: a delivery under way gets flushBudget to finish, then
// is cancelled (its records are kept).
func background(ctx context.Context, p *pipeline, sched *schedule, every time.Duration, deadline time.Time, flushBudget time.Duration) (stop func()) {
	hard, cancel := context.WithDeadline(ctx, deadline)
	soft := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-soft:
				return
			case <-hard.Done():
				return
			case <-t.C:
			}
			if now := time.Now(); sched.due(now) {
				sched.flushed(now)
				p.flush(hard, false)
			}
			t.Reset(every)
		}
	}()
	return func() {
		close(soft)
		t := time.NewTimer(flushBudget)
		select {
		case <-done:
		case <-t.C:
			cancel()
			<-done
		}
		t.Stop()
		cancel()
	}
}

// onShutdown completes the trail within the SHUTDOWN deadline.
func onShutdown(ctx context.Context, p *pipeline, ev Event, subscribed bool, log *slog.Logger) {
	deadline := time.UnixMilli(ev.DeadlineMs).Add(-shutdownMargin)
	if subscribed {
		wctx, cancel := context.WithDeadline(ctx, deadline.Add(-shutdownDeliveryReserve))
		p.waitUntil(wctx, func(b *schema.Builder) bool { return len(b.Pending()) == 0 })
		cancel()
	}
	p.shutdown(ev.ShutdownReason)
	fctx, cancel := context.WithDeadline(ctx, deadline)
	p.flush(fctx, true)
	cancel()
	if n := p.undelivered(schema.GapShutdownDeadline); n > 0 {
		log.Warn("records not delivered before the shutdown deadline were written to stdout", "records", n)
	}
	cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), time.UnixMilli(ev.DeadlineMs))
	p.close(cctx)
	cancel()
}

// safely runs f, turning a panic into a logged error and a coverage-gap
// record. A bug in the extension must never crash it: Lambda would reset the
// function's environment.
func safely(p *pipeline, log *slog.Logger, step string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("internal error recovered", "step", step, "panic", fmt.Sprint(r))
			p.gap(schema.GapInternalError, 0, 0, fmt.Sprintf("%s: %v", step, r))
		}
	}()
	f()
}

// startFlusher delivers records in the background (Managed Instances, where
// the environment is never frozen). The returned func stops it and waits.
func startFlusher(ctx context.Context, p *pipeline, wg *sync.WaitGroup) func() {
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		t := time.NewTicker(backgroundFlushDelay)
		defer t.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-t.C:
				wctx, cancel := context.WithTimeout(fctx, 5*time.Second)
				p.flush(wctx, false)
				cancel()
			}
		}
	})
	return func() { cancel(); <-done }
}

// subscribe subscribes to the Telemetry API with the newest schema, falling
// back to the previous one if refused. It reports whether it succeeded; a
// refusal is never fatal.
func subscribe(ctx context.Context, c *Client, uri string, types []string, log *slog.Logger) bool {
	var errs []error
	for _, schemaVersion := range []string{"2025-01-29", "2022-12-13"} {
		s := Subscription{
			SchemaVersion: schemaVersion,
			Types:         types,
			// The smallest buffering Lambda allows: records reach us within
			// 25 ms, and the listener never holds much.
			Buffering: Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 25},
		}
		s.Destination.Protocol = "HTTP"
		s.Destination.URI = uri
		sctx, cancel := context.WithTimeout(ctx, apiTimeout)
		err := c.Subscribe(sctx, s)
		cancel()
		if err == nil {
			return true
		}
		errs = append(errs, fmt.Errorf("schema %s: %w", schemaVersion, err))
	}
	log.Error("telemetry subscription failed; continuing without platform records", "error", errors.Join(errs...))
	return false
}

// NewDetectors returns the detectors of cfg, as the extension runs them.
// When the OpenAPI document cannot be read, the others run without it and
// the error says why.
func NewDetectors(cfg config.Detect) (*detect.Detectors, error) {
	var specErr error
	if cfg.OpenAPISpec != "" {
		cfg.Detectors.Spec, specErr = loadSpec(cfg.OpenAPISpec)
	}
	d, err := detect.New(cfg.Detectors)
	if err != nil {
		return nil, err // config.FromEnv validated it: a bug
	}
	return d, specErr
}

// loadSpec reads the OpenAPI document at path.
func loadSpec(path string) (*detect.Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("AUDITTRAIL_OPENAPI_SPEC: %w; undocumented_route is off", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, detect.MaxSpecSize+1))
	if err == nil && len(data) > detect.MaxSpecSize {
		err = fmt.Errorf("larger than %d bytes", detect.MaxSpecSize)
	}
	var spec *detect.Spec
	if err == nil {
		spec, err = detect.LoadSpec(data)
	}
	if err != nil {
		return nil, fmt.Errorf("AUDITTRAIL_OPENAPI_SPEC %s: %w; undocumented_route is off", path, err)
	}
	return spec, nil
}
