package otlp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// logsPath is what [LogsURL] appends to a base endpoint: the OTLP/HTTP path
// of logs.
const logsPath = "v1/logs"

// LogsURL returns the logs endpoint for a base OTLP endpoint, as the
// OpenTelemetry exporter specification builds it from
// OTEL_EXPORTER_OTLP_ENDPOINT: "v1/logs" appended to the base's path, with
// a slash between them if the base has none
// ("http://collector:4318" → "http://collector:4318/v1/logs",
// "https://gw.example/otlp/" → "https://gw.example/otlp/v1/logs"). Query
// and fragment are kept. A per-signal endpoint
// (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) is used as it is, without this.
//
// The base must be an absolute http or https URL; errors never print its
// password.
func LogsURL(base string) (string, error) {
	u, err := parseEndpoint(base)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.Path += logsPath
	if u.RawPath != "" {
		if !strings.HasSuffix(u.RawPath, "/") {
			u.RawPath += "/"
		}
		u.RawPath += logsPath
	}
	return u.String(), nil
}

// parseEndpoint parses an absolute http(s) URL with a host. Its errors
// name the URL with any password redacted, and never wrap url.Parse's
// error, which quotes the URL whole.
func parseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: want an http:// or https:// URL", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: no host", u.Redacted())
	}
	return u, nil
}

// ParseHeaders parses the value of OTEL_EXPORTER_OTLP_HEADERS (or
// OTEL_EXPORTER_OTLP_LOGS_HEADERS): a comma-separated list of name=value
// pairs, as in the W3C Baggage header without properties, e.g.
// "Authorization=Bearer%20abc,X-Scope-OrgID=tenant1".
//
// Spaces and tabs around names and values are dropped; values are then
// percent-decoded ("%20" is a space, "+" stays a plus), and a value left
// unencoded ("Authorization=Bearer abc") is taken as it is. Empty list
// members (a trailing comma) are skipped. Names are canonicalized
// ("x-api-key" → "X-Api-Key"). It is an error when a member has no "=",
// a name is not an HTTP token or is one the sink sets itself
// (Content-Type, Content-Encoding, Content-Length, Transfer-Encoding,
// Host), a percent sign starts no valid escape, a
// decoded value holds a control character other than tab (CR and LF would
// inject headers) or is not UTF-8, or a name comes twice. Errors name the member by its
// position and its header name, never by its value: values are secrets.
func ParseHeaders(s string) (map[string]string, error) {
	return parseList(s, func(name string) (string, error) {
		if !isToken(name) {
			return "", errors.New("not a valid HTTP header name")
		}
		name = http.CanonicalHeaderKey(name)
		if reserved(name) {
			return "", errors.New("set by the sink, cannot be overridden")
		}
		return name, nil
	})
}

// ParseResourceAttributes parses the value of OTEL_RESOURCE_ATTRIBUTES, in
// the same list format as [ParseHeaders] ("deployment.environment.name=prod,
// team=payments"). Keys are kept as they are and must be non-empty and
// printable ASCII other than ",", "=", ";" and spaces; values are
// percent-decoded and must be UTF-8 without control characters.
func ParseResourceAttributes(s string) (map[string]string, error) {
	return parseList(s, func(key string) (string, error) {
		for i := 0; i < len(key); i++ {
			if c := key[i]; c <= ' ' || c >= 0x7f || c == ';' {
				return "", errors.New("not a valid attribute key")
			}
		}
		return key, nil
	})
}

// parseList parses a W3C-Baggage-like list of key=value members; key
// checks and normalizes each key.
func parseList(s string, key func(string) (string, error)) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for i, member := range strings.Split(s, ",") {
		pos := i + 1
		if strings.Trim(member, " \t") == "" {
			continue
		}
		rawKey, rawValue, ok := strings.Cut(member, "=")
		if !ok {
			// The member may be a value typed without its name: do not
			// print it.
			errs = append(errs, fmt.Errorf("item %d: no \"=\" (want name=value)", pos))
			continue
		}
		name := strings.Trim(rawKey, " \t")
		if name == "" {
			errs = append(errs, fmt.Errorf("item %d: empty name", pos))
			continue
		}
		k, err := key(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("item %d: %q: %w", pos, printable(name), err))
			continue
		}
		value, err := url.PathUnescape(strings.Trim(rawValue, " \t"))
		if err != nil {
			errs = append(errs, fmt.Errorf("item %d: %q: invalid percent-encoding in the value", pos, k))
			continue
		}
		if hasControl(value) {
			errs = append(errs, fmt.Errorf("item %d: %q: control character in the value", pos, k))
			continue
		}
		if !utf8.ValidString(value) {
			errs = append(errs, fmt.Errorf("item %d: %q: the value is not UTF-8", pos, k))
			continue
		}
		if _, dup := out[k]; dup {
			errs = append(errs, fmt.Errorf("item %d: %q given twice", pos, k))
			continue
		}
		out[k] = value
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// reserved reports whether the sink sets the header (a canonical name)
// itself, so that its headers may not.
func reserved(name string) bool {
	switch name {
	case "Content-Type", "Content-Encoding", "Content-Length", "Transfer-Encoding", "Host":
		return true
	}
	return false
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// grammar of header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// hasControl reports whether s holds an ASCII control character other than
// tab.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// printable makes a name safe to quote in an error: at most 64 bytes, with
// control characters and non-ASCII bytes shown as "?".
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
