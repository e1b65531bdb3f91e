package detect

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/audittrail/audittrail/schema"
)

// Names returns the detectors' names, the finding types they report,
// which Config.Off takes (undocumented_status, reported by the
// undocumented_route detector, can be switched off alone).
func Names() []string {
	return []string{
		schema.FindingAuthFailureBurst,
		schema.FindingGatewayBypass,
		schema.FindingUndocumentedRoute,
		schema.FindingUndocumentedStatus,
		schema.FindingSensitiveDataExposure,
		schema.FindingInjectionAttempt,
		schema.FindingAnomaly,
	}
}

// Config selects and tunes the detectors. The zero value of a field means
// its default (DefaultConfig).
type Config struct {
	// Off names detectors not to run (Names).
	Off []string
	// ExpectedSources are the api.gateway values invocations should come
	// through (gateway_bypass); empty: only unauthenticated Function URLs
	// are reported.
	ExpectedSources []string
	// Spec is the API description of undocumented_route; nil turns that
	// detector off.
	Spec *Spec
	// RequestBodyBytes bounds how much of a request body injection_attempt
	// reads.
	RequestBodyBytes int
	Sensitive        SensitiveOptions
	Burst            BurstOptions
	Anomaly          AnomalyOptions
}

// DefaultConfig is the configuration of the extension's defaults.
func DefaultConfig() Config {
	return Config{
		RequestBodyBytes: 16 << 10,
		Sensitive:        SensitiveOptions{MaxBytes: 64 << 10, BulkThreshold: 10},
		Burst:            BurstOptions{Threshold: 10, Window: time.Minute, MaxKeys: 4096},
		Anomaly:          AnomalyOptions{Warmup: 50, Recent: 10, ErrorRate: 0.5, LatencyFactor: 3},
	}
}

// Validate reports what of c cannot be used.
func (c Config) Validate() error {
	for _, n := range c.Off {
		if !slices.Contains(Names(), n) {
			return fmt.Errorf("detect: unknown detector %q (want one of %v)", n, Names())
		}
	}
	for _, k := range c.Sensitive.Kinds {
		if !slices.Contains(SensitiveKinds(), k) {
			return fmt.Errorf("detect: unknown sensitive data kind %q (want some of %v)", k, SensitiveKinds())
		}
	}
	switch {
	case c.Burst.Threshold < 2:
		return fmt.Errorf("detect: auth_failure_burst threshold %d: want 2 or more", c.Burst.Threshold)
	case c.Burst.Window <= 0:
		return fmt.Errorf("detect: auth_failure_burst window %s: want a positive duration", c.Burst.Window)
	case c.Burst.MaxKeys < 1:
		return fmt.Errorf("detect: auth_failure_burst keys %d: want 1 or more", c.Burst.MaxKeys)
	case c.Sensitive.MaxBytes < 0 || c.RequestBodyBytes < 0:
		return fmt.Errorf("detect: body bounds must not be negative")
	case c.Anomaly.Recent < 2 || c.Anomaly.Warmup < c.Anomaly.Recent:
		return fmt.Errorf("detect: anomaly window %d, warm-up %d: want a window of 2 or more and a warm-up at least as long", c.Anomaly.Recent, c.Anomaly.Warmup)
	}
	return nil
}

// Detectors runs the detectors of one execution environment; it is a
// schema.Inspector. Not safe for concurrent use (the builder calls it
// under its lock).
type Detectors struct {
	cfg       Config
	on        map[string]bool
	bursts    *bursts
	anomalies *anomalies
	// reqBuf and respBuf are reused for the bodies read: the detectors
	// keep nothing of them once Exchange returns.
	reqBuf, respBuf []byte
}

// New returns the detectors of cfg, with defaults filled in.
func New(cfg Config) (*Detectors, error) {
	def := DefaultConfig()
	if cfg.RequestBodyBytes == 0 {
		cfg.RequestBodyBytes = def.RequestBodyBytes
	}
	if cfg.Sensitive.MaxBytes == 0 {
		cfg.Sensitive.MaxBytes = def.Sensitive.MaxBytes
	}
	if cfg.Sensitive.BulkThreshold == 0 {
		cfg.Sensitive.BulkThreshold = def.Sensitive.BulkThreshold
	}
	if cfg.Burst == (BurstOptions{}) {
		cfg.Burst = def.Burst
	}
	if cfg.Anomaly == (AnomalyOptions{}) {
		cfg.Anomaly = def.Anomaly
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Detectors{cfg: cfg, on: map[string]bool{}}
	for _, n := range Names() {
		d.on[n] = !slices.Contains(cfg.Off, n)
	}
	if cfg.Spec == nil {
		d.on[schema.FindingUndocumentedRoute], d.on[schema.FindingUndocumentedStatus] = false, false
	}
	d.bursts = newBursts(cfg.Burst)
	d.anomalies = newAnomalies(cfg.Anomaly)
	return d, nil
}

// Exchange runs the detectors that read the payloads: injection_attempt
// on the request, sensitive_data_exposure on the response,
// undocumented_route on the method, path and status. parts, when given,
// are the payloads as the normalizer decoded them; without them the
// event and response are decoded here.
func (d *Detectors) Exchange(rec *schema.Record, x schema.Exchange, parts *schema.HTTPParts) {
	if rec.Event.Action != schema.ActionInvocation {
		return
	}
	var found []schema.Finding
	var req Request
	isHTTP := parts != nil
	if isHTTP {
		req = requestOf(parts, d.reqBuf, d.cfg.RequestBodyBytes)
		d.reqBuf = req.Body
	} else {
		req, isHTTP = ParseRequest(x.Event, d.cfg.RequestBodyBytes)
	}
	if isHTTP && d.on[schema.FindingInjectionAttempt] {
		found = append(found, Injection(&req)...)
	}
	if isHTTP && (d.on[schema.FindingUndocumentedRoute] || d.on[schema.FindingUndocumentedStatus]) {
		status := 0
		if rec.HTTP != nil && rec.HTTP.Response != nil && d.on[schema.FindingUndocumentedStatus] {
			status = rec.HTTP.Response.StatusCode
		}
		for _, f := range d.cfg.Spec.Check(req.Method, req.Path, status) {
			if d.on[f.Type] {
				found = append(found, f)
			}
		}
	}
	if d.on[schema.FindingSensitiveDataExposure] && x.ErrorType == "" {
		var body []byte
		if parts != nil && parts.ResponseDecoded {
			if parts.ResponseBody != nil {
				d.respBuf = bounded(d.respBuf, *parts.ResponseBody, parts.ResponseBase64, d.cfg.Sensitive.MaxBytes)
				body = d.respBuf
			}
		} else {
			body = responseBody(x.Response, d.cfg.Sensitive.MaxBytes)
		}
		if len(body) > 0 {
			found = append(found, Sensitive(body, d.cfg.Sensitive)...)
		}
	}
	add(rec, found)
}

// Finished runs the detectors that need the complete record and count
// across invocations: gateway_bypass, auth_failure_burst, anomaly.
func (d *Detectors) Finished(rec *schema.Record) {
	if rec.Event.Action != schema.ActionInvocation {
		return
	}
	var found []schema.Finding
	if d.on[schema.FindingGatewayBypass] {
		found = append(found, bypass(rec, d.cfg.ExpectedSources)...)
	}
	if d.on[schema.FindingAuthFailureBurst] {
		found = append(found, d.bursts.observe(rec)...)
	}
	if d.on[schema.FindingAnomaly] {
		found = append(found, d.anomalies.observe(rec)...)
	}
	add(rec, found)
}

// add appends findings to rec.Security.
func add(rec *schema.Record, found []schema.Finding) {
	if len(found) == 0 {
		return
	}
	if rec.Security == nil {
		rec.Security = &schema.Security{}
	}
	rec.Security.Findings = append(rec.Security.Findings, found...)
}

// responseBody returns at most max bytes of the body of a function's
// result: the body of an HTTP integration response (base64 undone), or
// the result itself when it is not one (an HTTP API or Function URL
// answering with a bare value).
func responseBody(result []byte, max int) []byte {
	if len(result) == 0 {
		return nil
	}
	var r struct {
		StatusCode      *int    `json:"statusCode"`
		Body            *string `json:"body"`
		IsBase64Encoded bool    `json:"isBase64Encoded"`
	}
	if json.Unmarshal(result, &r) == nil && r.StatusCode != nil {
		if r.Body == nil {
			return nil
		}
		return bounded(nil, *r.Body, r.IsBase64Encoded, max)
	}
	if len(result) > max {
		result = result[:max]
	}
	return result
}

// bounded appends at most max bytes of a body to dst, base64 undone when
// isBase64, and returns the result (nil when it is not base64).
func bounded(dst []byte, body string, isBase64 bool, max int) []byte {
	if !isBase64 {
		return append(dst[:0], body[:min(len(body), max)]...)
	}
	n := min(len(body), base64.StdEncoding.EncodedLen(max)+4)
	n -= n % 4
	dst = slices.Grow(dst[:0], base64.StdEncoding.DecodedLen(n))
	dec, err := base64.StdEncoding.AppendDecode(dst, []byte(body[:n]))
	if err != nil {
		return nil
	}
	return dec[:min(len(dec), max)]
}
