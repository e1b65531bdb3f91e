package detect

import (
	"fmt"
	"time"

	"github.com/audittrail/audittrail/schema"
)

// BurstOptions tune auth_failure_burst.
type BurstOptions struct {
	// Threshold is how many 401/403 answers to one principal or one client
	// address within Window make a finding.
	Threshold int
	// Window is the sliding window the failures are counted over.
	Window time.Duration
	// MaxKeys bounds the principals and addresses tracked; when full, the
	// least recently used of a few sampled keys is forgotten.
	MaxKeys int
}

// bursts counts recent authentication failures per key (a user.id or a
// client.address). Memory: at most MaxKeys keys of Threshold times each.
type bursts struct {
	opt  BurstOptions
	keys map[burstKey]*failures
}

type burstKey struct{ field, value string }

// failures holds the times of one key's last Threshold failures (a ring).
type failures struct {
	times []time.Time
	next  int // the ring's oldest entry once full
	// reported is when the burst was last reported (zero: not in a burst),
	// and since counts the failures after that.
	reported time.Time
	since    int64
	lastSeen time.Time
}

func newBursts(opt BurstOptions) *bursts {
	return &bursts{opt: opt, keys: map[burstKey]*failures{}}
}

// observe counts rec when it is an authentication failure (status 401 or
// 403) and returns the findings it completes. A key is in a burst while
// its last Threshold failures fall within Window; the burst is reported
// when it begins, then at most once per Window while it lasts, with the
// failures since the last report (so a long attack stays visible without
// a finding on every request).
func (b *bursts) observe(rec *schema.Record) []schema.Finding {
	if rec.HTTP == nil || rec.HTTP.Response == nil {
		return nil
	}
	status := rec.HTTP.Response.StatusCode
	if status != 401 && status != 403 {
		return nil
	}
	var out []schema.Finding
	if rec.User != nil && rec.User.ID != "" {
		out = b.count(out, burstKey{"user.id", rec.User.ID}, rec.Timestamp)
	}
	if rec.Client != nil && rec.Client.Address != "" {
		out = b.count(out, burstKey{"client.address", rec.Client.Address}, rec.Timestamp)
	}
	return out
}

func (b *bursts) count(out []schema.Finding, k burstKey, at time.Time) []schema.Finding {
	n := b.opt.Threshold
	f := b.keys[k]
	if f == nil {
		if len(b.keys) >= b.opt.MaxKeys {
			b.evict()
		}
		f = &failures{times: make([]time.Time, 0, n)}
		b.keys[k] = f
	}
	f.lastSeen = at
	if len(f.times) < n {
		f.times = append(f.times, at)
	} else {
		f.times[f.next] = at
		f.next = (f.next + 1) % n
	}
	f.since++
	oldest := f.times[f.next%len(f.times)]
	if len(f.times) < n || at.Sub(oldest) > b.opt.Window {
		if at.Sub(f.reported) > b.opt.Window {
			f.reported, f.since = time.Time{}, 0 // no burst
		}
		return out
	}
	if !f.reported.IsZero() && at.Sub(f.reported) < b.opt.Window {
		return out
	}
	count := f.since
	if f.reported.IsZero() {
		count = int64(n)
	}
	f.reported, f.since = at, 0
	return append(out, schema.Finding{
		Type:     schema.FindingAuthFailureBurst,
		Severity: schema.SeverityHigh,
		Reason: fmt.Sprintf("%d authentication failures (401/403) for one %s within %s",
			count, k.field, b.opt.Window),
		Evidence: schema.Evidence{
			Location:      "response.status",
			Rule:          "burst." + k.field,
			Key:           k.field,
			Count:         count,
			Threshold:     int64(n),
			WindowSeconds: b.opt.Window.Seconds(),
		},
	})
}

// evictSample is how many keys evict compares.
const evictSample = 8

// evict forgets the least recently seen of a few keys (map iteration
// starts at a random key), so eviction costs the same however many keys
// an attack with rotating addresses makes.
func (b *bursts) evict() {
	var victim burstKey
	var seen time.Time
	i := 0
	for k, f := range b.keys {
		if i == 0 || f.lastSeen.Before(seen) {
			victim, seen = k, f.lastSeen
		}
		if i++; i == evictSample {
			break
		}
	}
	delete(b.keys, victim)
}
