package schema

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces a redacted value.
const Redacted = "[REDACTED]"

// secretParams are parts of query parameter names whose values never enter
// the trail by default.
var secretParams = []string{"token", "password", "passwd", "secret", "key", "signature", "sig", "code", "auth", "credential", "session", "jwt", "otp"}

// secretHeaders are parts of header names that are never recorded, even
// when asked for.
var secretHeaders = []string{"authorization", "cookie", "token", "secret", "password", "key", "signature", "auth", "session", "credential"}

// Redaction decides what of a request may enter the trail. The zero value
// is the default: values of secret-looking query parameters are redacted,
// no request header but x-forwarded-for is recorded, identities are kept.
// Request and response bodies are never recorded, only their sizes.
type Redaction struct {
	// RedactQuery adds parameter names to redact (matched as parts of
	// names, case-insensitively).
	RedactQuery []string
	// AllowQuery keeps the values of these parameters although their
	// names look secret (exact names, case-insensitive).
	AllowQuery []string
	// Headers are further request headers to record. Secret-looking
	// names are refused by Validate and never recorded.
	Headers []string
	// PseudonymKey, when set, replaces user.id and client addresses with
	// keyed HMAC-SHA256 pseudonyms: records stay joinable on the caller
	// without holding the raw identity.
	PseudonymKey []byte
	// DropIdentities replaces those identities with Redacted: the choice
	// when pseudonyms were asked for but the key is unavailable.
	DropIdentities bool
}

// Validate reports headers that may never be recorded.
func (p Redaction) Validate() error {
	var errs []error
	for _, h := range p.Headers {
		if secretHeader(h) {
			errs = append(errs, fmt.Errorf("header %q may carry a secret and is never recorded", h))
		}
	}
	return errors.Join(errs...)
}

func secretHeader(name string) bool {
	n := strings.ToLower(name)
	return slices.ContainsFunc(secretHeaders, func(s string) bool { return strings.Contains(n, s) })
}

// secretParam reports whether a query parameter's value must be redacted.
func (p Redaction) secretParam(name string) bool {
	n := strings.ToLower(name)
	if slices.ContainsFunc(p.AllowQuery, func(a string) bool { return strings.EqualFold(a, n) }) {
		return false
	}
	match := func(s string) bool { return strings.Contains(n, strings.ToLower(s)) }
	return slices.ContainsFunc(secretParams, match) || slices.ContainsFunc(p.RedactQuery, match)
}

// redactQuery redacts the values of secret-looking parameters in a raw
// query string, keeping its order and the other values.
func (p Redaction) redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, part := range parts {
		name, _, hasValue := strings.Cut(part, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		if hasValue && p.secretParam(name) {
			parts[i] = part[:strings.IndexByte(part, '=')+1] + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// queryFromMaps rebuilds a query string from the parameter maps of REST and
// ALB events (sorted by name), redacted.
func (p Redaction) queryFromMaps(single map[string]string, multi map[string][]string) string {
	v := url.Values{}
	for k, s := range single {
		v.Set(k, s)
	}
	for k, m := range multi {
		v[k] = m
	}
	if len(v) == 0 {
		return ""
	}
	for k := range v {
		if p.secretParam(k) {
			v[k] = []string{Redacted}
		}
	}
	return strings.ReplaceAll(v.Encode(), url.QueryEscape(Redacted), Redacted)
}

// pseudonym returns the keyed pseudonym of v, or v without a key.
func (p Redaction) pseudonym(v string) string {
	if v == "" {
		return v
	}
	if p.DropIdentities {
		return Redacted
	}
	if len(p.PseudonymKey) == 0 {
		return v
	}
	m := hmac.New(sha256.New, p.PseudonymKey)
	m.Write([]byte(v))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// pseudonymize applies the pseudonym to the identities of a record.
func (p Redaction) pseudonymize(rec *Record) {
	if len(p.PseudonymKey) == 0 && !p.DropIdentities {
		return
	}
	if rec.User != nil {
		rec.User.ID, rec.User.Name = p.pseudonym(rec.User.ID), p.pseudonym(rec.User.Name)
	}
	if rec.Client != nil {
		rec.Client.Address = p.pseudonym(rec.Client.Address)
	}
	if rec.HTTP != nil && rec.HTTP.Request != nil {
		if xff := rec.HTTP.Request.Header["x-forwarded-for"]; len(xff) > 0 {
			var out []string
			for _, v := range xff {
				for ip := range strings.SplitSeq(v, ",") {
					out = append(out, p.pseudonym(strings.TrimSpace(ip)))
				}
			}
			rec.HTTP.Request.Header["x-forwarded-for"] = out
		}
	}
}
