package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// errBlock, as a scripted result, makes the attempt block until ctx ends.
var errBlock = errors.New("fake: block until ctx ends")

// fakeSink returns scripted results and records when each attempt was made.
type fakeSink struct {
	script   []error // result of attempt i
	then     error   // result of every attempt past the script
	attempts []time.Time
	batches  [][][]byte
	closed   int
}

func (f *fakeSink) Name() string { return "fake" }

func (f *fakeSink) Write(ctx context.Context, batch [][]byte) error {
	f.attempts = append(f.attempts, time.Now())
	f.batches = append(f.batches, batch)
	err := f.then
	if i := len(f.attempts) - 1; i < len(f.script) {
		err = f.script[i]
	}
	if err == errBlock {
		<-ctx.Done()
		return fmt.Errorf("fake: %w", ctx.Err())
	}
	return err
}

func (f *fakeSink) Close(context.Context) error {
	f.closed++
	return nil
}

// delays returns the time between consecutive attempts.
func (f *fakeSink) delays() []time.Duration {
	var d []time.Duration
	for i := 1; i < len(f.attempts); i++ {
		d = append(d, f.attempts[i].Sub(f.attempts[i-1]))
	}
	return d
}

var (
	errDown   = errors.New("backend down")
	errRefuse = Permanent(fmt.Errorf("HTTP 400: %w", errDown))
	testBatch = [][]byte{[]byte(`{"event":{"action":"invocation"}}`)}
)

// fixed is the default config without jitter, so delays are exact.
func fixed(c *RetryConfig) { c.Jitter = 0 }

func TestRetryWrite(t *testing.T) {
	tests := []struct {
		name        string
		cfg         func(*RetryConfig) // changes to DefaultRetryConfig
		timeout     time.Duration      // ctx deadline after the start; 0: none
		cancelAfter time.Duration      // cancel ctx after this; 0: never
		cancelled   bool               // ctx cancelled before Write
		script      []error
		then        error

		wantAttempts   int
		wantDelays     []time.Duration // nil: not checked
		wantElapsed    time.Duration   // fake time Write took
		wantErr        bool
		wantIs         []error // errors.Is must hold for each
		wantNotIs      []error
		wantPermanent  bool
		wantAfter      time.Duration
		wantThrottled  bool
		wantErrContain string
	}{
		{
			name:         "success first try",
			wantAttempts: 1,
			wantDelays:   nil,
		},
		{
			name:         "transient then success, delays grow",
			cfg:          fixed,
			script:       []error{errDown, errDown, errDown},
			wantAttempts: 4,
			wantDelays:   []time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond},
			wantElapsed:  175 * time.Millisecond,
		},
		{
			name: "delays capped at MaxInterval",
			cfg: func(c *RetryConfig) {
				c.Jitter = 0
				c.MaxInterval = 100 * time.Millisecond
			},
			script:       []error{errDown, errDown, errDown, errDown, errDown},
			wantAttempts: 6,
			wantDelays:   []time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
			wantElapsed:  375 * time.Millisecond,
		},
		{
			name:          "permanent not retried",
			then:          errRefuse,
			wantAttempts:  1,
			wantErr:       true,
			wantIs:        []error{errDown},
			wantPermanent: true,
		},
		{
			name:          "permanent after a transient one",
			cfg:           fixed,
			script:        []error{errDown},
			then:          errRefuse,
			wantAttempts:  2,
			wantDelays:    []time.Duration{25 * time.Millisecond},
			wantElapsed:   25 * time.Millisecond,
			wantErr:       true,
			wantPermanent: true,
		},
		{
			name:         "Retry-After longer than the backoff is honoured",
			cfg:          fixed,
			script:       []error{Throttled(errDown, 300*time.Millisecond)},
			wantAttempts: 2,
			wantDelays:   []time.Duration{300 * time.Millisecond},
			wantElapsed:  300 * time.Millisecond,
		},
		{
			name:         "Retry-After seen through wrapping",
			cfg:          fixed,
			script:       []error{fmt.Errorf("post: %w", Throttled(errDown, 200*time.Millisecond))},
			wantAttempts: 2,
			wantDelays:   []time.Duration{200 * time.Millisecond},
			wantElapsed:  200 * time.Millisecond,
		},
		{
			name: "Retry-After shorter than the backoff waits the backoff",
			cfg: func(c *RetryConfig) {
				c.Jitter = 0
				c.InitialInterval = 100 * time.Millisecond
			},
			script:       []error{Throttled(errDown, 10*time.Millisecond)},
			wantAttempts: 2,
			wantDelays:   []time.Duration{100 * time.Millisecond},
			wantElapsed:  100 * time.Millisecond,
		},
		{
			name: "Retry-After capped at MaxRetryAfter",
			cfg: func(c *RetryConfig) {
				c.Jitter = 0
				c.MaxRetryAfter = 2 * time.Second
			},
			script:       []error{Throttled(errDown, time.Hour)},
			wantAttempts: 2,
			wantDelays:   []time.Duration{2 * time.Second},
			wantElapsed:  2 * time.Second,
		},
		{
			name:          "Retry-After past the deadline returns at once",
			timeout:       50 * time.Millisecond,
			then:          Throttled(errDown, time.Second),
			wantAttempts:  1,
			wantElapsed:   0,
			wantErr:       true,
			wantIs:        []error{errDown},
			wantNotIs:     []error{context.DeadlineExceeded},
			wantAfter:     time.Second,
			wantThrottled: true,
		},
		{
			name: "retries stop before the backoff crosses the deadline",
			cfg: func(c *RetryConfig) {
				c.Jitter = 0
				c.InitialInterval = 10 * time.Millisecond
			},
			timeout: 50 * time.Millisecond,
			then:    errDown,
			// Attempts at 0, 10 and 30 ms; the next would be at 70 ms.
			wantAttempts:   3,
			wantDelays:     []time.Duration{10 * time.Millisecond, 20 * time.Millisecond},
			wantElapsed:    30 * time.Millisecond,
			wantErr:        true,
			wantIs:         []error{errDown},
			wantNotIs:      []error{context.DeadlineExceeded},
			wantErrContain: "after 3 attempt(s)",
		},
		{
			name:    "a retry due exactly at the deadline is not made",
			cfg:     fixed,
			timeout: 75 * time.Millisecond,
			then:    errDown,
			// Attempts at 0 and 25 ms; the next would be at 75 ms, the deadline.
			wantAttempts: 2,
			wantDelays:   []time.Duration{25 * time.Millisecond},
			wantElapsed:  25 * time.Millisecond,
			wantErr:      true,
			wantIs:       []error{errDown},
		},
		{
			name: "without a deadline MaxElapsed bounds the Write",
			cfg: func(c *RetryConfig) {
				c.Jitter = 0
				c.InitialInterval = 100 * time.Millisecond
				c.MaxElapsed = time.Second
			},
			then: errDown,
			// Attempts at 0, 100, 300 and 700 ms; the next would be at 1500 ms.
			wantAttempts: 4,
			wantDelays:   []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond},
			wantElapsed:  700 * time.Millisecond,
			wantErr:      true,
			wantIs:       []error{errDown},
		},
		{
			name: "ctx cancelled mid-wait",
			cfg: func(c *RetryConfig) {
				c.Jitter = 0
				c.InitialInterval = 100 * time.Millisecond
			},
			cancelAfter:  30 * time.Millisecond,
			then:         errDown,
			wantAttempts: 1,
			wantElapsed:  30 * time.Millisecond,
			wantErr:      true,
			wantIs:       []error{context.Canceled, errDown},
		},
		{
			name:         "deadline reached during an attempt",
			timeout:      50 * time.Millisecond,
			then:         errBlock,
			wantAttempts: 1,
			wantElapsed:  50 * time.Millisecond,
			wantErr:      true,
			wantIs:       []error{context.DeadlineExceeded},
		},
		{
			name:         "ctx ended before Write makes no attempt",
			cancelled:    true,
			wantAttempts: 0,
			wantErr:      true,
			wantIs:       []error{context.Canceled},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultRetryConfig()
				if tc.cfg != nil {
					tc.cfg(&cfg)
				}
				if err := cfg.Validate(); err != nil {
					t.Fatalf("bad test config: %v", err)
				}
				fake := &fakeSink{script: tc.script, then: tc.then}
				s := WithRetry(fake, cfg)

				ctx := t.Context()
				var cancel context.CancelFunc
				if tc.timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				if tc.cancelAfter > 0 || tc.cancelled {
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
					if tc.cancelled {
						cancel()
					} else {
						defer time.AfterFunc(tc.cancelAfter, cancel).Stop()
					}
				}

				start := time.Now()
				err := s.Write(ctx, testBatch)
				elapsed := time.Since(start)

				if got := len(fake.attempts); got != tc.wantAttempts {
					t.Errorf("attempts = %d, want %d", got, tc.wantAttempts)
				}
				for i, b := range fake.batches {
					if !reflect.DeepEqual(b, testBatch) {
						t.Errorf("attempt %d got batch %q, want %q", i+1, b, testBatch)
					}
				}
				if tc.wantDelays != nil && !reflect.DeepEqual(fake.delays(), tc.wantDelays) {
					t.Errorf("delays = %v, want %v", fake.delays(), tc.wantDelays)
				}
				if elapsed != tc.wantElapsed {
					t.Errorf("Write took %v of fake time, want %v", elapsed, tc.wantElapsed)
				}
				if tc.timeout > 0 && elapsed > tc.timeout {
					t.Errorf("Write took %v, past the %v deadline", elapsed, tc.timeout)
				}
				if !tc.wantErr {
					if err != nil {
						t.Fatalf("Write = %v, want nil", err)
					}
					return
				}
				if err == nil {
					t.Fatal("Write = nil, want an error")
				}
				for _, target := range tc.wantIs {
					if !errors.Is(err, target) {
						t.Errorf("errors.Is(%q, %v) = false, want true", err, target)
					}
				}
				for _, target := range tc.wantNotIs {
					if errors.Is(err, target) {
						t.Errorf("errors.Is(%q, %v) = true, want false", err, target)
					}
				}
				if errors.Is(err, ErrCircuitOpen) {
					t.Errorf("error %q wraps ErrCircuitOpen on a closed circuit", err)
				}
				if got := IsPermanent(err); got != tc.wantPermanent {
					t.Errorf("IsPermanent(%q) = %v, want %v", err, got, tc.wantPermanent)
				}
				after, ok := RetryAfter(err)
				if ok != tc.wantThrottled || after != tc.wantAfter {
					t.Errorf("RetryAfter = %v, %v; want %v, %v", after, ok, tc.wantAfter, tc.wantThrottled)
				}
				if !strings.Contains(err.Error(), tc.wantErrContain) {
					t.Errorf("error %q does not contain %q", err, tc.wantErrContain)
				}
			})
		})
	}
}

// TestRetryJitter checks that with the default jitter every delay stays
// within ±Jitter of its exponential base, and that the delays do vary.
func TestRetryJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultRetryConfig()
		cfg.MaxInterval = 200 * time.Millisecond
		fake := &fakeSink{}
		s := WithRetry(fake, cfg)

		base := []time.Duration{25, 50, 100, 200, 200} // ms, capped at MaxInterval
		firstDelays := map[time.Duration]bool{}
		const writes = 50
		for range writes {
			fake.attempts = nil
			fake.script = []error{errDown, errDown, errDown, errDown, errDown}
			if err := s.Write(t.Context(), testBatch); err != nil {
				t.Fatalf("Write = %v, want nil", err)
			}
			delays := fake.delays()
			if len(delays) != len(base) {
				t.Fatalf("got %d delays, want %d", len(delays), len(base))
			}
			for i, d := range delays {
				b := float64(base[i] * time.Millisecond)
				lo := time.Duration(b * (1 - cfg.Jitter))
				hi := time.Duration(b*(1+cfg.Jitter)) + 1
				if d < lo || d > hi {
					t.Errorf("delay %d = %v, want within [%v, %v]", i+1, d, lo, hi)
				}
			}
			firstDelays[delays[0]] = true
		}
		if len(firstDelays) < 2 {
			t.Errorf("the first delay was %v in all %d Writes; jitter not applied", firstDelays, writes)
		}
	})
}

func TestRetryBreaker(t *testing.T) {
	// Every attempt of a step returns backend. With a 50 ms budget and
	// delays of 10, 20, 40 ms, a Write on a closed circuit that keeps failing
	// makes 3 attempts.
	type step struct {
		backend      error
		wantAttempts int
		wantOpen     bool // the error wraps ErrCircuitOpen
	}
	down := step{backend: errDown, wantAttempts: 3}
	probeDown := step{backend: errDown, wantAttempts: 1, wantOpen: true}
	up := step{backend: nil, wantAttempts: 1}
	refused := step{backend: errRefuse, wantAttempts: 1}

	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "opens after 3 failed Writes, one attempt per Write, closes on success",
			steps: []step{
				down, down, down,
				probeDown, probeDown,
				{backend: Throttled(errDown, time.Millisecond), wantAttempts: 1, wantOpen: true},
				up,
				down, // closed again: retried
			},
		},
		{
			name:  "a success resets the count",
			steps: []step{down, down, up, down, down, down, probeDown},
		},
		{
			name:  "permanent errors neither count nor reset",
			steps: []step{refused, refused, refused, refused, down, refused, down, refused, down, probeDown},
		},
		{
			name: "a permanent probe keeps the circuit open",
			steps: []step{
				down, down, down,
				{backend: errRefuse, wantAttempts: 1, wantOpen: true},
				probeDown,
				up,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultRetryConfig()
				cfg.Jitter = 0
				cfg.InitialInterval = 10 * time.Millisecond
				cfg.BreakerFailures = 3
				fake := &fakeSink{}
				s := WithRetry(fake, cfg)

				for i, st := range tc.steps {
					fake.attempts = nil
					fake.then = st.backend
					ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
					start := time.Now()
					err := s.Write(ctx, testBatch)
					elapsed := time.Since(start)
					cancel()

					if got := len(fake.attempts); got != st.wantAttempts {
						t.Errorf("Write %d: attempts = %d, want %d", i+1, got, st.wantAttempts)
					}
					if st.backend == nil {
						if err != nil {
							t.Errorf("Write %d = %v, want nil", i+1, err)
						}
						continue
					}
					if err == nil {
						t.Fatalf("Write %d = nil, want an error", i+1)
					}
					if !errors.Is(err, errDown) {
						t.Errorf("Write %d: error %q does not wrap the backend's", i+1, err)
					}
					if got := errors.Is(err, ErrCircuitOpen); got != st.wantOpen {
						t.Errorf("Write %d: errors.Is(%q, ErrCircuitOpen) = %v, want %v", i+1, err, got, st.wantOpen)
					}
					if IsPermanent(err) != IsPermanent(st.backend) {
						t.Errorf("Write %d: IsPermanent(%q) = %v, want %v", i+1, err, IsPermanent(err), IsPermanent(st.backend))
					}
					if st.wantOpen && elapsed != 0 {
						t.Errorf("Write %d on an open circuit took %v of fake time, want 0", i+1, elapsed)
					}
				}
			})
		})
	}
}

func TestRetryPassThrough(t *testing.T) {
	fake := &fakeSink{}
	s := WithRetry(fake, DefaultRetryConfig())
	if got := s.Name(); got != "fake" {
		t.Errorf("Name = %q, want %q", got, "fake")
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("Close = %v", err)
	}
	if fake.closed != 1 {
		t.Errorf("next closed %d times, want 1", fake.closed)
	}
}

func TestRetryConfigValidate(t *testing.T) {
	tests := []struct {
		name       string
		cfg        func(*RetryConfig)
		zero       bool     // start from RetryConfig{} instead of the defaults
		wantFields []string // one problem per field, in this order
	}{
		{name: "defaults", cfg: func(*RetryConfig) {}},
		{name: "no jitter and no Retry-After", cfg: func(c *RetryConfig) { c.Jitter = 0; c.MaxRetryAfter = 0 }},
		{name: "multiplier 1 is constant backoff", cfg: func(c *RetryConfig) { c.Multiplier = 1 }},
		{
			name:       "zero config",
			zero:       true,
			wantFields: []string{"InitialInterval", "MaxInterval", "Multiplier", "MaxElapsed", "BreakerFailures"},
		},
		{name: "negative initial", cfg: func(c *RetryConfig) { c.InitialInterval = -time.Millisecond }, wantFields: []string{"InitialInterval"}},
		{name: "max below initial", cfg: func(c *RetryConfig) { c.MaxInterval = time.Millisecond }, wantFields: []string{"MaxInterval"}},
		{name: "multiplier below 1", cfg: func(c *RetryConfig) { c.Multiplier = 0.5 }, wantFields: []string{"Multiplier"}},
		{name: "multiplier NaN", cfg: func(c *RetryConfig) { c.Multiplier = math.NaN() }, wantFields: []string{"Multiplier"}},
		{name: "multiplier +Inf", cfg: func(c *RetryConfig) { c.Multiplier = math.Inf(1) }, wantFields: []string{"Multiplier"}},
		{name: "jitter 1", cfg: func(c *RetryConfig) { c.Jitter = 1 }, wantFields: []string{"Jitter"}},
		{name: "jitter negative", cfg: func(c *RetryConfig) { c.Jitter = -0.1 }, wantFields: []string{"Jitter"}},
		{name: "jitter NaN", cfg: func(c *RetryConfig) { c.Jitter = math.NaN() }, wantFields: []string{"Jitter"}},
		{name: "negative MaxRetryAfter", cfg: func(c *RetryConfig) { c.MaxRetryAfter = -time.Second }, wantFields: []string{"MaxRetryAfter"}},
		{name: "zero MaxElapsed", cfg: func(c *RetryConfig) { c.MaxElapsed = 0 }, wantFields: []string{"MaxElapsed"}},
		{name: "zero BreakerFailures", cfg: func(c *RetryConfig) { c.BreakerFailures = 0 }, wantFields: []string{"BreakerFailures"}},
		{
			name: "several problems all reported",
			cfg: func(c *RetryConfig) {
				c.Jitter = 2
				c.MaxElapsed = -1
				c.BreakerFailures = -3
			},
			wantFields: []string{"Jitter", "MaxElapsed", "BreakerFailures"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultRetryConfig()
			if tc.zero {
				cfg = RetryConfig{}
			} else {
				tc.cfg(&cfg)
			}
			err := cfg.Validate()
			var got []string
			if joined, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range joined.Unwrap() {
					got = append(got, strings.Fields(strings.TrimPrefix(e.Error(), "sinks: retry: "))[0])
				}
			} else if err != nil {
				t.Fatalf("Validate = %v, want errors.Join of one error per field", err)
			}
			if !reflect.DeepEqual(got, tc.wantFields) {
				t.Errorf("Validate reported %v, want %v (error: %v)", got, tc.wantFields, err)
			}

			// WithRetry replaces exactly the rejected fields by defaults.
			fixedCfg := cfg.orDefaults()
			if err := fixedCfg.Validate(); err != nil {
				t.Errorf("orDefaults() is still invalid: %v", err)
			}
			if len(tc.wantFields) == 0 && fixedCfg != cfg {
				t.Errorf("orDefaults changed a valid config: %+v -> %+v", cfg, fixedCfg)
			}
		})
	}
}

// TestRetryBadConfig checks that WithRetry with a rejected config still
// works, on the defaults.
func TestRetryBadConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeSink{script: []error{errDown}}
		s := WithRetry(fake, RetryConfig{Multiplier: math.NaN()})
		if err := s.Write(t.Context(), testBatch); err != nil {
			t.Fatalf("Write = %v, want nil", err)
		}
		// The zero config keeps Jitter 0, so the delay is the default's.
		if want := []time.Duration{DefaultRetryConfig().InitialInterval}; !reflect.DeepEqual(fake.delays(), want) {
			t.Errorf("delays = %v, want %v", fake.delays(), want)
		}
	})
}

// nopSink accepts every batch.
type nopSink struct{}

func (nopSink) Name() string                          { return "nop" }
func (nopSink) Write(context.Context, [][]byte) error { return nil }
func (nopSink) Close(context.Context) error           { return nil }

// BenchmarkRetryWrite measures what WithRetry adds to a Write that succeeds
// at once, the common case.
func BenchmarkRetryWrite(b *testing.B) {
	ctx, cancel := context.WithTimeout(b.Context(), time.Hour)
	defer cancel()
	for _, bc := range []struct {
		name string
		sink Sink
	}{
		{"bare", nopSink{}},
		{"retry", WithRetry(nopSink{}, DefaultRetryConfig())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.sink.Write(ctx, testBatch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestRetryPartialErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refuseB := &PartialError{Rejected: []int{1}, Err: errors.New("mapping conflict")}
		againRefuseA := &PartialError{Rejected: []int{0}, Retry: true, Err: errors.New("item 0 refused, item 1 throttled")}
		again := &PartialError{Retry: true, Err: errors.New("es_rejected_execution_exception")}
		for _, tt := range []struct {
			name     string
			errs     []error
			sent     []string // what each attempt sent
			rejected []int    // nil: success
		}{
			{"refused in part: not sent again", []error{refuseB}, []string{"a,b,c"}, []int{1}},
			{"retryable in part: sent again", []error{again, nil}, []string{"a,b,c", "a,b,c"}, nil},
			{"refused in part, the rest sent again", []error{againRefuseA, nil}, []string{"a,b,c", "b,c"}, []int{0}},
			{"refusals add up, by original index", []error{againRefuseA, refuseB}, []string{"a,b,c", "b,c"}, []int{0, 2}},
			{"a retry is a retry whatever its cause says", []error{&PartialError{Rejected: []int{2}, Retry: true, Err: Permanent(errors.New("item 2: mapper_parsing_exception"))}, nil},
				[]string{"a,b,c", "a,b"}, []int{2}},
		} {
			s := &fakeSink{script: tt.errs}
			w := WithRetry(s, DefaultRetryConfig())
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			err := w.Write(ctx, [][]byte{[]byte("a"), []byte("b"), []byte("c")})
			cancel()
			var sent []string
			for _, b := range s.batches {
				sent = append(sent, string(bytes.Join(b, []byte(","))))
			}
			var pe *PartialError
			switch {
			case !slices.Equal(sent, tt.sent):
				t.Errorf("%s: sent %q, want %q", tt.name, sent, tt.sent)
			case tt.rejected == nil && err != nil:
				t.Errorf("%s: %v", tt.name, err)
			case tt.rejected != nil && (!errors.As(err, &pe) || pe.Retry || !slices.Equal(pe.Rejected, tt.rejected)):
				t.Errorf("%s: error %#v, want records %v rejected for good", tt.name, err, tt.rejected)
			}
		}
	})
}
