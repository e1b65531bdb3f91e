package detect

import "github.com/audittrail/audittrail/schema"

// Request is what the detectors read of an HTTP request: the raw parts of
// the Lambda event (API Gateway REST and HTTP APIs, ALB, Function URLs),
// before redaction and without decoding, so that an encoded attack is
// still seen (decoding is each detector's business).
type Request struct {
	Method string
	// Path is the request path as the event gives it.
	Path string
	// RawQuery is the query string; for events that carry parameters
	// instead (REST API v1, ALB) they are joined as a client sends them
	// (see schema.HTTPParts).
	RawQuery string
	// Headers maps lower-case names to their values.
	Headers map[string][]string
	// Body is the request body, base64 undone, at most the bound given to
	// ParseRequest.
	Body []byte
}

// ParseRequest reads the HTTP request of a Lambda event as the extension
// does (schema.Normalize decodes it, requestOf takes its parts); ok is
// false when the event is not an HTTP event (or not JSON). At most
// maxBody bytes of the body are kept.
func ParseRequest(event []byte, maxBody int) (req Request, ok bool) {
	parts := schema.Normalize(&schema.Record{}, schema.Exchange{Event: event}, schema.Redaction{})
	if parts == nil {
		return Request{}, false
	}
	return requestOf(parts, nil, maxBody), true
}

// requestOf is the Request of the parts the normalizer decoded; its body
// is read into buf's space.
func requestOf(p *schema.HTTPParts, buf []byte, maxBody int) Request {
	req := Request{Method: p.Method, Path: p.Path, RawQuery: p.RawQuery, Headers: p.Headers}
	if p.Body != nil {
		req.Body = bounded(buf, *p.Body, p.BodyBase64, maxBody)
	}
	return req
}
