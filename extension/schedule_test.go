package extension

import (
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/config"
)

func TestSchedule(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// step is one invoke: it starts gap after the previous one and lasts
	// 10 ms; want is what the schedule decides.
	type step struct {
		gap        time.Duration
		background time.Duration
		atEnd      bool
	}
	repeat := func(n int, s step) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	tests := []struct {
		name  string
		cfg   config.Flush
		steps []step
	}{
		{"end: every invoke", config.Flush{Mode: config.FlushEnd},
			repeat(3, step{gap: time.Millisecond, atEnd: true})},
		{"periodic: once the interval passed", config.Flush{Mode: config.FlushPeriodic, Interval: 100 * time.Millisecond},
			[]step{{gap: 0, atEnd: true}, {gap: 30 * time.Millisecond}, {gap: 30 * time.Millisecond}, {gap: 50 * time.Millisecond, atEnd: true}, {gap: 20 * time.Millisecond}}},
		{"continuous: in the background, never at the end", config.Flush{Mode: config.FlushContinuous, Interval: time.Second},
			repeat(3, step{gap: time.Millisecond, background: time.Second})},
		{"adaptive: end for the first invokes, then continuous when busy", config.Flush{Mode: config.FlushAdaptive},
			append(repeat(adaptiveWarmup, step{gap: 20 * time.Millisecond, atEnd: true}), repeat(3, step{gap: 20 * time.Millisecond, background: adaptiveInterval})...)},
		{"adaptive: end when idle between invokes", config.Flush{Mode: config.FlushAdaptive},
			repeat(adaptiveWarmup+5, step{gap: 5 * time.Second, atEnd: true})},
		{"adaptive: back to end when the function turns idle", config.Flush{Mode: config.FlushAdaptive},
			append(repeat(adaptiveWarmup+1, step{gap: 20 * time.Millisecond, atEnd: true})[:adaptiveWarmup],
				append(repeat(1, step{gap: 20 * time.Millisecond, background: adaptiveInterval}), repeat(1, step{gap: 30 * time.Second, atEnd: true})...)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &schedule{cfg: tt.cfg}
			now := t0
			for i, st := range tt.steps {
				now = now.Add(st.gap)
				bg := s.invoke(now)
				end := now.Add(10 * time.Millisecond)
				atEnd := s.atEnd(end)
				if atEnd {
					s.flushed(end)
				}
				if bg != st.background || atEnd != st.atEnd {
					t.Fatalf("invoke %d: background %v, at end %v; want %v, %v", i+1, bg, atEnd, st.background, st.atEnd)
				}
				now = end
			}
		})
	}
}
