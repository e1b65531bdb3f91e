// Package splunk sends audit records to a Splunk HTTP Event Collector
// (HEC). Each record is one event of the JSON endpoint
// /services/collector/event, in an envelope that carries its time (the
// record's @timestamp), host, source, sourcetype and index; a batch is
// posted as envelopes back to back, gzip-compressed, with
// "Authorization: Splunk <token>", in as many requests as it takes to keep
// each body (uncompressed) within [Config.MaxBodyBytes].
//
// With [Config.Ack] the sink uses HEC's indexer acknowledgement: every
// request carries the sink's channel (X-Splunk-Request-Channel, a random
// UUID per sink), HEC answers with an ackId, and Write polls
// /services/collector/ack until every request is acknowledged as indexed,
// or ctx or [Config.AckTimeout] ends. Splunk acknowledges within seconds,
// not milliseconds, so within a flush budget of 50 ms a batch is usually
// delivered but not yet confirmed; ack pays off where Write gets more time
// (SHUTDOWN, continuous flushing, Managed Instances).
//
// # Failure behaviour
//
// A batch counts as delivered when HEC answered 2xx to every request and,
// with Ack, acknowledged each of them (a 2xx without an ackId, from a
// token that does not use acknowledgement, is enough).
//
// Network errors, HTTP 408, 429 and 5xx, and HEC codes 8 (internal error),
// 9 (server busy) and 18-20 (unhealthy) are transient: the delivery core
// retries and keeps the records on its spool meanwhile; codes 9 and 18-20
// ask for a pause of Retry-After, or 1 s without one. A batch not
// acknowledged in time is transient too. The core then sends the whole
// batch again, and the duplicates this may make are harmless because a
// record's event.id never changes.
//
// An answer that condemns the sink's configuration is permanent for the
// whole batch: HEC codes 1-4, 21 and 22 (the token), 7 (the index), 10, 11
// and 14 (channel and acknowledgement), 16, and HTTP 401, 403, 404 and any
// other status not named here; so is an acknowledgement query refused for
// good. The records go to the dead letters, a coverage-gap record says so,
// and the error names the variable to fix.
//
// An answer that refuses the events of one request (HTTP 400 and 413, HEC
// codes 5, 6, 12, 13 and 15) refuses that request's records only, and the
// other requests go on; when HEC names the one event it could not take
// (invalid-event-number), only that record is refused and the others are
// sent again. Records that are not JSON objects, or too large for a
// request on their own, are refused before anything is sent (records as
// the extension writes them are checked at their ends only, for speed:
// should one be malformed all the same, HEC names it).
//
// Indexer acknowledgement needs sticky sessions behind a load balancer:
// the sink's default client keeps cookies for that.
package splunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
	"github.com/google/uuid"
)

// Defaults of [Config]; a zero field takes its default.
const (
	// DefaultSource is the events' source.
	DefaultSource = "audittrail"
	// DefaultSourcetype is the events' sourcetype.
	DefaultSourcetype = "audittrail"
	// DefaultMaxBodyBytes bounds a request body: 1 MB, the max_content_length
	// of Splunk before 6.5 and the limit widely stated for Splunk Cloud (later
	// Splunk Enterprise takes up to 800 MiB by default).
	DefaultMaxBodyBytes = 1_000_000
	// DefaultAckTimeout bounds the wait for acknowledgements when ctx
	// allows longer.
	DefaultAckTimeout = 10 * time.Second
)

// Bounds of [Config.MaxBodyBytes].
const (
	// MinMaxBodyBytes is the smallest MaxBodyBytes accepted.
	MinMaxBodyBytes = 1 << 10
	// MaxMaxBodyBytes is the largest: Splunk's own default limit, 800 MiB.
	MaxMaxBodyBytes = 800 << 20
)

// The acknowledgement polls: the first one ackPollInterval after the last
// request, then twice as long each time, up to maxAckPollInterval.
const (
	ackPollInterval    = 10 * time.Millisecond
	maxAckPollInterval = time.Second
)

// maxAnswer bounds how much of a response body is read.
const maxAnswer = 64 << 10

// Config configures the sink. The zero value of every field but URL and
// Token means its default; [DefaultConfig] spells them out.
type Config struct {
	// URL is HEC's base URL, such as https://splunk.example.com:8088: the
	// sink posts to URL/services/collector/event and polls
	// URL/services/collector/ack. A URL that already ends in
	// /services/collector, /services/collector/event or
	// /services/collector/event/1.0 is taken for its base. Required.
	URL string
	// Token is the HEC token. Required.
	Token *sinks.Secret
	// Host is the events' host; empty leaves it out, and Splunk takes the
	// token's default. The extension sets it to the function's name.
	Host string
	// Source is the events' source; empty means [DefaultSource].
	Source string
	// Sourcetype is the events' sourcetype; empty means
	// [DefaultSourcetype].
	Sourcetype string
	// Index is the events' index, which must be one the token may write
	// to; empty leaves it out, and Splunk takes the token's default index.
	Index string
	// DisableCompression sends bodies as they are instead of gzipped.
	DisableCompression bool
	// MaxBodyBytes bounds each request's body before compression, since
	// HEC checks its max_content_length on that; 0 means
	// [DefaultMaxBodyBytes]. A batch larger than this is split into
	// several requests; a record whose event alone is larger is refused.
	MaxBodyBytes int
	// Ack turns on indexer acknowledgement: a batch counts as delivered
	// only once HEC says it was indexed. The token must have it enabled.
	Ack bool
	// AckTimeout bounds the wait for acknowledgements in one Write, when
	// ctx allows longer; 0 means [DefaultAckTimeout].
	AckTimeout time.Duration
	// Client sends the requests; nil means a client with Go's defaults
	// (TLS certificates verified) that keeps cookies, for the sticky
	// sessions acknowledgement needs behind a load balancer.
	Client *http.Client
}

// DefaultConfig returns the defaults, without URL and Token.
func DefaultConfig() Config {
	return Config{
		Source:       DefaultSource,
		Sourcetype:   DefaultSourcetype,
		MaxBodyBytes: DefaultMaxBodyBytes,
		AckTimeout:   DefaultAckTimeout,
	}
}

// Validate reports every problem of c, joined, each prefixed with the
// environment variable that sets the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf(env+": "+format, args...))
	}
	if c.URL == "" {
		bad("AUDITTRAIL_SPLUNK_URL", "required by the splunk sink")
	} else if _, err := baseURL(c.URL); err != nil {
		bad("AUDITTRAIL_SPLUNK_URL", "%w", err)
	}
	if c.Token == nil {
		bad("AUDITTRAIL_SPLUNK_TOKEN", "required by the splunk sink")
	}
	for _, f := range []struct{ env, v string }{
		{"AUDITTRAIL_SPLUNK_HOST", c.Host},
		{"AUDITTRAIL_SPLUNK_SOURCE", c.Source},
		{"AUDITTRAIL_SPLUNK_SOURCETYPE", c.Sourcetype},
	} {
		if !printable(f.v) {
			bad(f.env, "%q has control characters or invalid UTF-8", f.v)
		}
	}
	if strings.IndexFunc(c.Index, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) >= 0 {
		bad("AUDITTRAIL_SPLUNK_INDEX", "%q is not an index name (lower-case letters, digits, _ and -)", c.Index)
	}
	if c.MaxBodyBytes != 0 && (c.MaxBodyBytes < MinMaxBodyBytes || c.MaxBodyBytes > MaxMaxBodyBytes) {
		bad("AUDITTRAIL_SPLUNK_MAX_BODY_BYTES", "%d is not between %d and %d", c.MaxBodyBytes, MinMaxBodyBytes, MaxMaxBodyBytes)
	}
	if c.AckTimeout < 0 {
		bad("AUDITTRAIL_SPLUNK_ACK_TIMEOUT", "%v is negative", c.AckTimeout)
	}
	return errors.Join(errs...)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// collectorPaths are the endpoint paths a URL may already end in.
var collectorPaths = []string{"/services/collector/event/1.0", "/services/collector/event", "/services/collector"}

// baseURL parses raw and returns it without a trailing endpoint path.
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", u.Redacted())
	}
	p := strings.TrimSuffix(u.Path, "/")
	for _, suffix := range collectorPaths {
		if strings.HasSuffix(p, suffix) {
			p = strings.TrimSuffix(p, suffix)
			break
		}
	}
	if strings.Contains(p, "/services/collector") {
		return nil, fmt.Errorf("%q is neither HEC's base URL nor its /services/collector/event endpoint", u.Redacted())
	}
	u.Path, u.RawPath = p, ""
	return u, nil
}

// Sink sends batches to one HEC. Like any [sinks.Sink], it is not safe
// for concurrent use.
type Sink struct {
	cfg      Config
	eventURL string
	ackURL   string
	channel  string // empty without Ack
	enc      *encoder
	comp     *buffer.Compressor

	plan encoded // scratch, reused by every Write
	out  []byte  // scratch for a compressed body
}

// New returns a sink for cfg, or the problems [Config.Validate] finds.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("splunk: %w", err)
	}
	d := DefaultConfig()
	if cfg.Source == "" {
		cfg.Source = d.Source
	}
	if cfg.Sourcetype == "" {
		cfg.Sourcetype = d.Sourcetype
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = d.MaxBodyBytes
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = d.AckTimeout
	}
	if cfg.Client == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, fmt.Errorf("splunk: %w", err)
		}
		cfg.Client = &http.Client{Jar: jar}
	}
	base, _ := baseURL(cfg.URL) // checked by Validate
	s := &Sink{
		cfg:      cfg,
		eventURL: base.JoinPath("services/collector/event").String(),
		ackURL:   base.JoinPath("services/collector/ack").String(),
		enc:      newEncoder(cfg.Host, cfg.Source, cfg.Sourcetype, cfg.Index, cfg.MaxBodyBytes),
		comp:     buffer.NewCompressor(),
	}
	if cfg.Ack {
		ch, err := uuid.NewRandom()
		if err != nil {
			return nil, fmt.Errorf("splunk: channel: %w", err)
		}
		s.channel = ch.String()
	}
	return s, nil
}

// Name returns "splunk".
func (s *Sink) Name() string { return "splunk" }

// Write sends the batch in one or more requests and, with Ack, waits for
// their acknowledgement; the package comment says how failures come out.
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	if len(batch) == 0 {
		return nil
	}
	token, err := s.cfg.Token.Get(ctx)
	if err != nil {
		return fmt.Errorf("splunk: token: %w", err)
	}
	plan := &s.plan
	s.enc.encode(plan, batch)

	var (
		refused []int   // batch indices refused for good
		causes  []error // why records were refused or must be sent again
		resend  bool    // some records must be sent again
		acks    []uint64
	)
	if len(plan.refused) > 0 {
		refused = append(refused, plan.refused...)
		causes = append(causes, fmt.Errorf("splunk: %d record(s) cannot be sent, first %w", len(plan.refused), plan.refusal))
	}
sending:
	for i, req := range plan.reqs {
		a, err := s.post(ctx, token, plan.body[req.start:req.end])
		if err == nil {
			if s.channel != "" && a.AckID != nil {
				acks = append(acks, *a.AckID)
			}
			continue
		}
		if !sinks.IsPermanent(err) {
			// The rest of the batch waits for the retry.
			causes = append(causes, err)
			resend = true
			break
		}
		var he *hecError
		if !errors.As(err, &he) || i == 0 && len(causes) == 0 && he.scope == scopeConfig {
			return err // the whole batch
		}
		// A PartialError must not wrap a Permanent mark: the retry wrapper
		// would not send again the records it asks to.
		causes = append(causes, he)
		switch he.scope {
		case scopeData:
			records := plan.idx[req.from:req.to]
			if n := he.invalidEvent; n >= 0 && n < len(records) {
				// HEC names the event it could not take; it may have
				// taken the ones before it, and the ones after it must
				// be sent again.
				refused = append(refused, records[n])
				resend = true
			} else {
				refused = append(refused, records...)
			}
		default:
			// The configuration: no request can pass.
			for _, r := range plan.reqs[i:] {
				refused = append(refused, plan.idx[r.from:r.to]...)
			}
			acks = nil // what was taken is not waited for
			break sending
		}
	}
	if !resend && len(acks) > 0 {
		if err := s.awaitAcks(ctx, token, acks); err != nil {
			if sinks.IsPermanent(err) {
				return sinks.Permanent(errors.Join(append(causes, err)...))
			}
			causes = append(causes, err)
			resend = true
		}
	}
	switch {
	case len(refused) > 0:
		return &sinks.PartialError{Rejected: refused, Retry: resend, Err: errors.Join(causes...)}
	case resend:
		return causes[0] // the only one: nothing was refused
	}
	return nil
}

// post sends one body of events and classifies the answer.
func (s *Sink) post(ctx context.Context, token string, body []byte) (answer, error) {
	encoding := ""
	if !s.cfg.DisableCompression {
		var err error
		if s.out, err = s.comp.Compress(s.out[:0], buffer.Gzip, body); err != nil {
			return answer{}, sinks.Permanent(fmt.Errorf("splunk: %w", err))
		}
		body, encoding = s.out, "gzip"
	}
	status, retryAfter, resp, err := s.do(ctx, s.eventURL, token, body, encoding)
	if err != nil {
		return answer{}, err
	}
	return classify(status, retryAfter, resp)
}

// awaitAcks polls HEC until it acknowledged every id, or ctx or
// AckTimeout ends.
func (s *Sink) awaitAcks(ctx context.Context, token string, ids []uint64) error {
	timeout := fmt.Errorf("splunk: not acknowledged within AUDITTRAIL_SPLUNK_ACK_TIMEOUT (%v)", s.cfg.AckTimeout)
	ctx, cancel := context.WithTimeoutCause(ctx, s.cfg.AckTimeout, timeout)
	defer cancel()
	pending := ids
	var lastErr error
	wait := ackPollInterval
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			err := fmt.Errorf("splunk: %d of %d request(s) not acknowledged: %w", len(pending), len(ids), context.Cause(ctx))
			if lastErr != nil {
				err = fmt.Errorf("%w; last acknowledgement query: %w", err, lastErr)
			}
			return err
		case <-t.C:
		}
		done, err := s.queryAcks(ctx, token, pending)
		switch {
		case sinks.IsPermanent(err):
			return fmt.Errorf("splunk: the events were taken but their indexing cannot be confirmed: %w", err)
		case err != nil:
			lastErr = err // try again at the next poll
		default:
			kept := pending[:0:0]
			for _, id := range pending {
				if !done[id] {
					kept = append(kept, id)
				}
			}
			if pending = kept; len(pending) == 0 {
				return nil
			}
		}
		wait = min(2*wait, maxAckPollInterval)
	}
}

// queryAcks asks HEC which of ids it has indexed.
func (s *Sink) queryAcks(ctx context.Context, token string, ids []uint64) (map[uint64]bool, error) {
	body := []byte(`{"acks":[`)
	for i, id := range ids {
		if i > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendUint(body, id, 10)
	}
	body = append(body, "]}"...)
	status, retryAfter, resp, err := s.do(ctx, s.ackURL, token, body, "")
	if err != nil {
		return nil, err
	}
	if _, err := classify(status, retryAfter, resp); err != nil {
		return nil, err
	}
	return parseAcks(resp)
}

// do posts body to url and returns the answer's status, Retry-After and
// body (at most maxAnswer bytes, with the token redacted). A failed
// exchange is a transient error, and its connection is closed before do
// returns.
func (s *Sink) do(ctx context.Context, url, token string, body []byte, encoding string) (status int, retryAfter string, answer []byte, err error) {
	conn := new(sinks.Conn)
	req, err := http.NewRequestWithContext(conn.Trace(ctx), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, sinks.Permanent(fmt.Errorf("splunk: %w", err))
	}
	req.Header.Set("Authorization", "Splunk "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "audittrail")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if s.channel != "" {
		req.Header.Set("X-Splunk-Request-Channel", s.channel)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		// A request cut short (by the flush budget, say) must be off the
		// wire when Write returns: Lambda may freeze the process next.
		conn.Close()
		return 0, "", nil, fmt.Errorf("splunk: %w", err)
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		conn.Close()
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			// Taken, but the answer (and its ackId) was lost: sending
			// again is safe, counting it delivered is not.
			return 0, "", nil, fmt.Errorf("splunk: HTTP %d, but reading the answer: %w", resp.StatusCode, err)
		}
		// A refusal: classify it by what arrived.
	} else if n, _ := io.CopyN(io.Discard, resp.Body, 1); n > 0 {
		conn.Close() // an answer this long is not HEC's; do not drain it
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), redact(answer, token), nil
}

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	s.cfg.Client.CloseIdleConnections()
	return nil
}

var _ sinks.Sink = (*Sink)(nil)
