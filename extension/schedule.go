package extension

import (
	"time"

	"github.com/audittrail/audittrail/internal/config"
)

// Adaptive flushing: the first adaptiveWarmup invokes flush at their end;
// after that, a function invoked less often than every adaptiveIdle (on
// average) keeps flushing at the end, since its records would otherwise
// wait frozen until the next invoke, while a busier one flushes in the
// background every adaptiveInterval.
const (
	adaptiveWarmup   = 10
	adaptiveIdle     = time.Second
	adaptiveInterval = time.Second
)

// schedule decides, invoke by invoke, when records are delivered
// (AUDITTRAIL_FLUSH). It is a plain data structure: the lifecycle loop
// owns time and tells it what happened.
type schedule struct {
	cfg     config.Flush
	invokes int
	// lastInvoke is when the previous invoke started; meanGap the moving
	// average of the time between invokes.
	lastInvoke time.Time
	meanGap    time.Duration
	// lastFlush is when the last delivery started.
	lastFlush time.Time
}

// invoke notes that an invoke started at now and returns how often to
// deliver in the background while it runs (0: not at all).
func (s *schedule) invoke(now time.Time) (background time.Duration) {
	if s.invokes > 0 {
		gap := now.Sub(s.lastInvoke)
		if s.invokes == 1 {
			s.meanGap = gap
		} else {
			s.meanGap += (gap - s.meanGap) / 8
		}
	}
	s.invokes++
	s.lastInvoke = now
	switch s.mode() {
	case config.FlushContinuous:
		return s.interval()
	}
	return 0
}

// atEnd reports whether to deliver when the invoke ends, at now.
func (s *schedule) atEnd(now time.Time) bool {
	switch s.mode() {
	case config.FlushEnd:
		return true
	case config.FlushPeriodic:
		return now.Sub(s.lastFlush) >= s.interval()
	}
	return false
}

// due reports whether a background delivery is due at now.
func (s *schedule) due(now time.Time) bool { return now.Sub(s.lastFlush) >= s.interval() }

// flushed notes that a delivery started at now.
func (s *schedule) flushed(now time.Time) { s.lastFlush = now }

// mode is the strategy in force: adaptive resolves to end or continuous.
func (s *schedule) mode() string {
	if s.cfg.Mode != config.FlushAdaptive && s.cfg.Mode != "" {
		return s.cfg.Mode
	}
	if s.invokes <= adaptiveWarmup || s.meanGap >= adaptiveIdle {
		return config.FlushEnd
	}
	return config.FlushContinuous
}

func (s *schedule) interval() time.Duration {
	if s.cfg.Mode == config.FlushPeriodic || s.cfg.Mode == config.FlushContinuous {
		return s.cfg.Interval
	}
	return adaptiveInterval
}
