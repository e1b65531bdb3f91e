package schema

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Gateways (api.gateway) of the HTTP front doors.
const (
	GatewayREST        = "apigateway-rest"
	GatewayHTTP        = "apigateway-http"
	GatewayWebSocket   = "apigateway-websocket"
	GatewayALB         = "alb"
	GatewayFunctionURL = "function-url"
	GatewayDirect      = "direct"
)

// Exchange is what the Runtime API proxy saw of one invocation: the event,
// and the response or error. Payloads may be prefixes of the real ones.
type Exchange struct {
	Event []byte
	// EventSize is the event's full size.
	EventSize int64
	// Response is the function's result; nil when none was seen.
	Response     []byte
	ResponseSize int64
	// ErrorType is set when the runtime posted an error instead.
	ErrorType string
	// Truncated is set when a payload was only inspected in part.
	Truncated bool
}

// httpEvent is the union of the API Gateway (REST v1, HTTP API v2,
// WebSocket), ALB and Function URL event shapes: the fields the normalizer
// reads, under the names each shape uses.
type httpEvent struct {
	Version                         string              `json:"version"`
	RouteKey                        string              `json:"routeKey"`
	RawPath                         string              `json:"rawPath"`
	RawQueryString                  string              `json:"rawQueryString"`
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
	// Cookies (HTTP API v2, Function URLs) are never recorded; the
	// detectors read them.
	Cookies        []string `json:"cookies"`
	RequestContext *struct {
		APIID        string `json:"apiId"`
		Stage        string `json:"stage"`
		RequestID    string `json:"requestId"`
		DomainName   string `json:"domainName"`
		ResourcePath string `json:"resourcePath"`
		HTTPMethod   string `json:"httpMethod"`
		EventType    string `json:"eventType"`
		ConnectionID string `json:"connectionId"`
		RouteKey     string `json:"routeKey"`
		ELB          *struct {
			TargetGroupArn string `json:"targetGroupArn"`
		} `json:"elb"`
		HTTP *struct {
			Method    string `json:"method"`
			Path      string `json:"path"`
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"http"`
		Identity *struct {
			SourceIP                      string `json:"sourceIp"`
			UserAgent                     string `json:"userAgent"`
			UserArn                       string `json:"userArn"`
			User                          string `json:"user"`
			Caller                        string `json:"caller"`
			APIKeyID                      string `json:"apiKeyId"`
			CognitoIdentityID             string `json:"cognitoIdentityId"`
			CognitoAuthenticationProvider string `json:"cognitoAuthenticationProvider"`
			ClientCert                    *cert  `json:"clientCert"`
		} `json:"identity"`
		Authentication *struct {
			ClientCert *cert `json:"clientCert"`
		} `json:"authentication"`
		Authorizer json.RawMessage `json:"authorizer"`
	} `json:"requestContext"`
}

type cert struct {
	SubjectDN string `json:"subjectDN"`
}

// authorizerV2 is requestContext.authorizer of HTTP API and Function URL
// events.
type authorizerV2 struct {
	JWT *struct {
		Claims map[string]any `json:"claims"`
		Scopes []string       `json:"scopes"`
	} `json:"jwt"`
	IAM *struct {
		UserArn  string `json:"userArn"`
		UserID   string `json:"userId"`
		CallerID string `json:"callerId"`
	} `json:"iam"`
	Lambda map[string]any `json:"lambda"`
}

// authorizerV1 is requestContext.authorizer of REST and WebSocket events:
// Cognito claims, or a Lambda authorizer's principal and context.
type authorizerV1 struct {
	Claims      map[string]any `json:"claims"`
	Scopes      []string       `json:"scopes"`
	PrincipalID string         `json:"principalId"`
}

// HTTPParts are the raw parts of an HTTP exchange as Normalize decoded
// them, unredacted, so that the detectors (the Inspector) read them
// without decoding the payloads again. They must not enter a record.
type HTTPParts struct {
	Method string
	// Path is the request path as the event gives it.
	Path string
	// RawQuery is the query string: the event's own, or for events that
	// give parameters (REST API v1: decoded, ALB: as the client encoded
	// them) those parameters joined, keys sorted, encoded as a client
	// would.
	RawQuery string
	// Headers maps lower-case names to values.
	Headers map[string][]string
	// Body is the request body as the event carries it (nil: none),
	// base64-encoded when BodyBase64.
	Body       *string
	BodyBase64 bool
	// ResponseDecoded is set when the function's result was an HTTP
	// integration response (with a statusCode); ResponseBody is then its
	// body (nil: none), base64-encoded when ResponseBase64.
	ResponseDecoded bool
	ResponseBody    *string
	ResponseBase64  bool
}

// Normalize fills rec with what the exchange says about the request: the
// front door, the route, the caller and the outcome, redacted as p says. It
// never fails: an event it does not recognise is recorded as a direct
// invoke. For an HTTP event it returns the raw parts it decoded (nil
// otherwise), for the Inspector.
func Normalize(rec *Record, x Exchange, p Redaction) *HTTPParts {
	parts := normalize(rec, x, p)
	p.pseudonymize(rec)
	return parts
}

func normalize(rec *Record, x Exchange, p Redaction) *HTTPParts {
	rec.Audit.Capture = CaptureProxy
	var probe map[string]json.RawMessage
	if json.Unmarshal(x.Event, &probe) != nil {
		rec.API = &API{Gateway: GatewayDirect}
		rec.FaaS.Trigger = "other"
		return nil
	}
	if normalizeTrigger(rec, probe, x.Event) {
		return nil
	}
	var ev httpEvent
	if json.Unmarshal(x.Event, &ev) != nil || ev.RequestContext == nil {
		rec.API = &API{Gateway: GatewayDirect}
		rec.FaaS.Trigger = "other"
		return nil
	}
	return normalizeHTTP(rec, &ev, x, p)
}

func normalizeHTTP(rec *Record, ev *httpEvent, x Exchange, p Redaction) *HTTPParts {
	rc := ev.RequestContext
	api := &API{ID: rc.APIID, Stage: rc.Stage, RequestID: rc.RequestID}
	req := &HTTPRequest{}
	u := &URL{Scheme: "https"}
	var route, sourceIP, userAgent string
	headers := lowerHeaders(ev.Headers, ev.MultiValueHeaders)
	switch {
	case rc.ELB != nil:
		api.Gateway = GatewayALB
		api.SourceARNs = []string{rc.ELB.TargetGroupArn}
		req.Method, u.Path = ev.HTTPMethod, ev.Path
		u.Query = p.queryFromMaps(ev.QueryStringParameters, ev.MultiValueQueryStringParameters)
		userAgent = first(headers["user-agent"])
		u.Scheme = first(headers["x-forwarded-proto"])
	case rc.ConnectionID != "" && rc.EventType != "":
		api.Gateway = GatewayWebSocket
		api.EventType, api.ConnectionID = rc.EventType, rc.ConnectionID
		route = rc.RouteKey
		u.Scheme = "wss"
		if rc.Identity != nil {
			sourceIP, userAgent = rc.Identity.SourceIP, rc.Identity.UserAgent
		}
	case ev.Version == "2.0" && rc.HTTP != nil:
		api.Gateway = GatewayHTTP
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			api.Gateway = GatewayFunctionURL
		}
		req.Method, u.Path = rc.HTTP.Method, ev.RawPath
		u.Query = p.redactQuery(ev.RawQueryString)
		sourceIP, userAgent = rc.HTTP.SourceIP, rc.HTTP.UserAgent
		if _, r, ok := strings.Cut(ev.RouteKey, " "); ok {
			route = r
		}
	default: // REST API, or HTTP API with payload format 1.0
		api.Gateway = GatewayREST
		if ev.Version == "1.0" {
			api.Gateway = GatewayHTTP
		}
		req.Method, u.Path = ev.HTTPMethod, ev.Path
		u.Query = p.queryFromMaps(ev.QueryStringParameters, ev.MultiValueQueryStringParameters)
		route = ev.Resource
		if rc.Identity != nil {
			sourceIP, userAgent = rc.Identity.SourceIP, rc.Identity.UserAgent
		}
	}
	for _, name := range append([]string{"x-forwarded-for"}, p.Headers...) {
		name = strings.ToLower(name)
		if v := headers[name]; len(v) > 0 && !secretHeader(name) {
			if req.Header == nil {
				req.Header = map[string][]string{}
			}
			req.Header[name] = v
		}
	}
	if ev.Body != nil {
		req.Body = &Body{Size: bodySize(*ev.Body, ev.IsBase64Encoded)}
	}
	req.MimeType = first(headers["content-type"])
	rec.API = api
	rec.FaaS.Trigger = "http"
	rec.HTTP = &HTTP{Request: req, Route: route}
	if u.Path != "" || u.Query != "" {
		rec.URL = u
	}
	if host := first(headers["host"]); host != "" || rc.DomainName != "" {
		rec.Server = &Endpoint{Address: rc.DomainName}
		if rec.Server.Address == "" {
			rec.Server.Address = host
		}
	}
	if sourceIP != "" {
		rec.Client = &Endpoint{Address: sourceIP}
	}
	if userAgent != "" {
		rec.UserAgent = &UserAgent{Original: userAgent}
	}
	rec.User, rec.Auth = principal(ev, api.Gateway)
	parts := &HTTPParts{Method: req.Method, Path: u.Path, Headers: headers, Body: ev.Body, BodyBase64: ev.IsBase64Encoded}
	if len(ev.Cookies) > 0 {
		headers["cookie"] = []string{strings.Join(ev.Cookies, "; ")}
	}
	parts.RawQuery = ev.RawQueryString
	if parts.RawQuery == "" {
		// An ALB passes the parameters as the client encoded them, API
		// Gateway decoded.
		parts.RawQuery = joinQuery(ev.QueryStringParameters, ev.MultiValueQueryStringParameters, rc.ELB == nil)
	}
	parts.ResponseDecoded, parts.ResponseBody, parts.ResponseBase64 = normalizeResponse(rec, api.Gateway, x)
	return parts
}

// principal finds who called and how they were authenticated.
func principal(ev *httpEvent, gateway string) (*User, *Auth) {
	rc := ev.RequestContext
	auth := &Auth{Type: "none"}
	var user User
	if gateway == GatewayHTTP || gateway == GatewayFunctionURL {
		var a authorizerV2
		_ = json.Unmarshal(rc.Authorizer, &a)
		switch {
		case a.JWT != nil:
			auth.Type = "jwt"
			user.ID = claim(a.JWT.Claims, "sub")
			user.Name = claim(a.JWT.Claims, "username", "cognito:username", "email")
			auth.Scopes = a.JWT.Scopes
			if len(auth.Scopes) == 0 {
				auth.Scopes = strings.Fields(claim(a.JWT.Claims, "scope"))
			}
			auth.ClientID = claim(a.JWT.Claims, "client_id", "azp")
		case a.IAM != nil:
			auth.Type = "iam"
			user.ID = a.IAM.UserArn
			if user.ID == "" {
				user.ID = a.IAM.CallerID
			}
		case a.Lambda != nil:
			auth.Type = "lambda-authorizer"
			user.ID = claim(a.Lambda, "principalId", "sub", "userId", "user")
		}
		if rc.Authentication != nil && rc.Authentication.ClientCert != nil {
			auth.CertSubject = rc.Authentication.ClientCert.SubjectDN
			if auth.Type == "none" {
				auth.Type = "mtls"
			}
		}
	} else {
		var a authorizerV1
		_ = json.Unmarshal(rc.Authorizer, &a)
		id := rc.Identity
		switch {
		case len(a.Claims) > 0:
			auth.Type = "cognito"
			user.ID = claim(a.Claims, "sub")
			user.Name = claim(a.Claims, "cognito:username", "username", "email")
			auth.Scopes = a.Scopes
			auth.ClientID = claim(a.Claims, "client_id", "aud")
		case a.PrincipalID != "":
			auth.Type = "lambda-authorizer"
			user.ID = a.PrincipalID
		case id != nil && (id.UserArn != "" || id.Caller != ""):
			auth.Type = "iam"
			user.ID = id.UserArn
			if user.ID == "" {
				user.ID = id.Caller
			}
		case id != nil && id.CognitoIdentityID != "":
			auth.Type = "cognito"
			user.ID = id.CognitoIdentityID
		}
		if id != nil {
			if id.APIKeyID != "" {
				auth.APIKeyID = id.APIKeyID
				if auth.Type == "none" {
					auth.Type = "api-key"
				}
			}
			if id.ClientCert != nil {
				auth.CertSubject = id.ClientCert.SubjectDN
				if auth.Type == "none" {
					auth.Type = "mtls"
				}
			}
		}
	}
	if user == (User{}) {
		return nil, auth
	}
	return &user, auth
}

// gatewayErrorStatus is what each front door answers the caller when the
// function reports an error.
var gatewayErrorStatus = map[string]int{
	GatewayREST: 502, GatewayHTTP: 500, GatewayALB: 502, GatewayFunctionURL: 502, GatewayWebSocket: 502,
}

// normalizeResponse reads the status the caller got; decoded is set when
// the result was an HTTP integration response, with its body.
func normalizeResponse(rec *Record, gateway string, x Exchange) (decoded bool, body *string, base64 bool) {
	resp := &HTTPResponse{}
	switch {
	case x.ErrorType != "":
		resp.StatusCode = gatewayErrorStatus[gateway]
		rec.Error = &Error{Type: x.ErrorType, Message: errorMessage(x.Response)}
	case x.Response != nil:
		var r struct {
			StatusCode        *int                `json:"statusCode"`
			Headers           map[string]string   `json:"headers"`
			MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
			Body              *string             `json:"body"`
			IsBase64Encoded   bool                `json:"isBase64Encoded"`
		}
		isObject := json.Unmarshal(x.Response, &r) == nil
		switch {
		case isObject && r.StatusCode != nil:
			decoded, body, base64 = true, r.Body, r.IsBase64Encoded
			resp.StatusCode = *r.StatusCode
			if r.Body != nil {
				resp.Body = &Body{Size: bodySize(*r.Body, r.IsBase64Encoded)}
			}
			resp.MimeType = first(lowerHeaders(r.Headers, r.MultiValueHeaders)["content-type"])
		case !isObject && x.Truncated:
			// Only a prefix was inspected: find the status in it if it is
			// there. The body's size is unknown; the payload's is not.
			if m := statusInPrefix.FindSubmatch(x.Response); m != nil {
				resp.StatusCode, _ = strconv.Atoi(string(m[1]))
			}
		case gateway == GatewayHTTP || gateway == GatewayFunctionURL:
			// Without statusCode the result itself is the body, status 200.
			resp.StatusCode = 200
			resp.Body = &Body{Size: x.ResponseSize}
		}
	default:
		return false, nil, false
	}
	if resp.StatusCode != 0 || resp.Body != nil || resp.MimeType != "" {
		rec.HTTP.Response = resp
	}
	return decoded, body, base64
}

// StreamingHTTPContentType marks a streamed response that starts with an
// HTTP integration prelude (status, headers, cookies as JSON), then eight
// NUL bytes, then the body.
const StreamingHTTPContentType = "application/vnd.awslambda.http-integration-response"

// streamingSeparator ends the prelude of a streamed HTTP response.
const streamingSeparator = "\x00\x00\x00\x00\x00\x00\x00\x00"

// SplitStreamingPrelude returns the prelude of a streamed HTTP response
// (a {"statusCode",...} object, as a buffered response would give) and the
// size of the body after it. Without a prelude it returns its input.
func SplitStreamingPrelude(stream []byte, size int64) ([]byte, int64) {
	i := bytes.Index(stream, []byte(streamingSeparator))
	if i < 0 {
		return stream, size
	}
	return stream[:i], size - int64(i+len(streamingSeparator))
}

// statusInPrefix finds statusCode in a response cut short.
var statusInPrefix = regexp.MustCompile(`"statusCode"\s*:\s*(\d{3})\b`)

// errorMessage is the errorMessage of a runtime error body, shortened.
func errorMessage(body []byte) string {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(body, &e)
	return truncate(e.ErrorMessage, 256)
}

// joinQuery joins query parameters into a query string, keys sorted,
// each value in its order, URL-encoding them when encode is set.
func joinQuery(single map[string]string, multi map[string][]string, encode bool) string {
	if len(multi) == 0 {
		multi = make(map[string][]string, len(single))
		for k, v := range single {
			multi[k] = []string{v}
		}
	}
	keys := make([]string, 0, len(multi))
	for k := range multi {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range multi[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			if encode {
				k, v = url.QueryEscape(k), url.QueryEscape(v)
			}
			b.WriteString(k + "=" + v)
		}
	}
	return b.String()
}

// lowerHeaders merges single- and multi-value headers under lower-case
// names.
func lowerHeaders(single map[string]string, multi map[string][]string) map[string][]string {
	out := make(map[string][]string, len(single)+len(multi))
	for k, v := range single {
		out[strings.ToLower(k)] = []string{v}
	}
	for k, v := range multi {
		out[strings.ToLower(k)] = v
	}
	return out
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// claim returns the first of keys present in claims, as a string.
func claim(claims map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := claims[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number, float64, bool:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	return ""
}

// bodySize is a body's size in bytes (decoded when base64).
func bodySize(body string, base64 bool) int64 {
	if base64 {
		return int64(len(strings.TrimRight(body, "="))) * 3 / 4
	}
	return int64(len(body))
}
