// Package samplefn is the sample function lambdasim runs: a Lambda runtime
// (speaking the Runtime API directly) that serves a small HTTP API behind
// API Gateway HTTP API (payload format 2.0) events.
//
// Routes:
//
//	GET    /health        200
//	GET    /users/{id}    200
//	POST   /users         201
//	DELETE /users/{id}    401 without a JWT, 403 without scope "admin", else 204
//	GET    /admin         403
//	GET    /slow?ms=N     sleeps N ms (default 200), then 200
//	GET    /timeout       sleeps past the deadline
//	GET    /panic         crashes the process
//	GET    /oom           is killed as by the OOM killer (SIGKILL)
//	GET    /error         reports a handled error (invocation/{id}/error)
//	GET    /logs?n=N      prints N log lines, then 200
//	GET    /big?kb=N      answers 200 with a body of N KiB
//	GET    /stream        streams its response (HTTP integration prelude, then chunks)
//	GET    /stream-error  starts streaming, then fails (error in the trailers)
//	anything else         404
package samplefn

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Main runs the runtime loop against AWS_LAMBDA_RUNTIME_API until ctx ends
// or the API stops answering; with AWS_LAMBDA_MAX_CONCURRENCY set it runs
// that many loops concurrently. It returns the process exit code.
func Main(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) int {
	api := getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		fmt.Fprintln(stderr, "samplefn: AWS_LAMBDA_RUNTIME_API is not set")
		return 1
	}
	f := &function{
		base:   "http://" + api + "/2018-06-01/runtime",
		client: &http.Client{},
		json:   getenv("AWS_LAMBDA_LOG_FORMAT") == "JSON",
		out:    stdout,
	}
	if getenv("SAMPLEFN_FAIL_INIT") != "" {
		// A function whose initialisation fails (bad configuration).
		if err := f.post(ctx, "", "init-error", "Runtime.ConfigError", `{"errorType":"Runtime.ConfigError","errorMessage":"missing TABLE_NAME"}`); err != nil {
			fmt.Fprintln(stderr, "samplefn:", err)
		}
		return 1
	}
	workers := 1
	if n, err := strconv.Atoi(getenv("AWS_LAMBDA_MAX_CONCURRENCY")); err == nil && n > 1 {
		workers = n
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() { errs <- f.loop(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && ctx.Err() == nil {
			fmt.Fprintln(stderr, "samplefn:", err)
			return 1
		}
	}
	return 0
}

type function struct {
	base   string
	client *http.Client
	json   bool
	mu     sync.Mutex
	out    io.Writer
}

// loop takes invocations one at a time.
func (f *function) loop(ctx context.Context) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/invocation/next", nil)
		if err != nil {
			return err
		}
		resp, err := f.client.Do(req)
		if err != nil {
			return fmt.Errorf("invocation/next: %w", err)
		}
		event, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("invocation/next: status %d, %v", resp.StatusCode, err)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		deadline, _ := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
		if err := f.invoke(ctx, id, time.UnixMilli(deadline), event); err != nil {
			return err
		}
	}
}

// apiEvent is the part of an HTTP API v2 event the function reads.
type apiEvent struct {
	RawPath        string            `json:"rawPath"`
	RawQueryString string            `json:"rawQueryString"`
	Headers        map[string]string `json:"headers"`
	RequestContext struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
		Authorizer *struct {
			JWT *struct {
				Claims map[string]string `json:"claims"`
				Scopes []string          `json:"scopes"`
			} `json:"jwt"`
		} `json:"authorizer"`
	} `json:"requestContext"`
}

func (f *function) invoke(ctx context.Context, id string, deadline time.Time, raw []byte) error {
	var ev apiEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return f.post(ctx, id, "error", "InvalidEvent", fmt.Sprintf(`{"errorType":"InvalidEvent","errorMessage":%q}`, err.Error()))
	}
	method, path := ev.RequestContext.HTTP.Method, ev.RawPath
	query, _ := url.ParseQuery(ev.RawQueryString)
	status, body := 404, `{"message":"Not Found"}`
	switch {
	case method == "GET" && path == "/health":
		status, body = 200, `{"status":"ok"}`
	case method == "GET" && path == "/debug/export":
		// A leaky debug route: a card number (a test number) and an access
		// key id (AWS's documentation example) in the response.
		status, body = 200, `{"customer":"Ada","card":"4111 1111 1111 1111","deploy_key":"AKIAIOSFODNN7EXAMPLE"}`
	case method == "GET" && strings.HasPrefix(path, "/users/"):
		status, body = 200, fmt.Sprintf(`{"id":%q,"name":"Ada"}`, strings.TrimPrefix(path, "/users/"))
	case method == "POST" && path == "/users":
		status, body = 201, `{"id":"43"}`
	case method == "DELETE" && strings.HasPrefix(path, "/users/"):
		auth := ev.RequestContext.Authorizer
		switch {
		case auth == nil || auth.JWT == nil:
			status, body = 401, `{"message":"Unauthorized"}`
		case !slices.Contains(auth.JWT.Scopes, "admin"):
			status, body = 403, `{"message":"Forbidden"}`
		default:
			status, body = 204, ""
		}
	case method == "GET" && path == "/admin":
		status, body = 403, `{"message":"Forbidden"}`
	case method == "GET" && path == "/slow":
		ms, err := strconv.Atoi(query.Get("ms"))
		if err != nil {
			ms = 200
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		status, body = 200, `{"slept_ms":`+strconv.Itoa(ms)+`}`
	case method == "GET" && path == "/timeout":
		time.Sleep(time.Until(deadline) + 5*time.Second)
		status, body = 200, `{"late":true}`
	case method == "GET" && path == "/panic":
		panic("samplefn: /panic was called")
	case method == "GET" && path == "/oom":
		// What the kernel's OOM killer does to a function over its memory.
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case method == "GET" && path == "/error":
		f.log(id, "ERROR", "order lookup failed: order 42 not found")
		return f.post(ctx, id, "error", "OrderNotFound", `{"errorType":"OrderNotFound","errorMessage":"order 42 not found","stackTrace":[]}`)
	case method == "GET" && path == "/big":
		kb, _ := strconv.Atoi(query.Get("kb"))
		status, body = 200, strings.Repeat("x", kb<<10)
	case method == "GET" && (path == "/stream" || path == "/stream-error"):
		return f.stream(ctx, id, path == "/stream-error")
	case method == "GET" && path == "/logs":
		n, _ := strconv.Atoi(query.Get("n"))
		for i := range n {
			f.log(id, "INFO", fmt.Sprintf("log line %d of %d", i+1, n))
		}
		status, body = 200, fmt.Sprintf(`{"lines":%d}`, n)
	}
	f.log(id, "INFO", fmt.Sprintf("%s %s -> %d", method, path, status))
	resp, _ := json.Marshal(map[string]any{
		"statusCode": status,
		"headers":    map[string]string{"content-type": "application/json"},
		"body":       body,
	})
	return f.post(ctx, id, "response", "", string(resp))
}

// streamPrelude separates the HTTP integration prelude from the body.
const streamPrelude = "\x00\x00\x00\x00\x00\x00\x00\x00"

// stream sends a streamed response as Lambda's response streaming does:
// chunked, with the HTTP integration prelude first; a failure mid-stream
// is reported in the trailers.
func (f *function) stream(ctx context.Context, id string, fail bool) error {
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+"/invocation/"+id+"/response", pr)
	if err != nil {
		return err
	}
	req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
	req.Header.Set("Content-Type", "application/vnd.awslambda.http-integration-response")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	go func() {
		_, _ = io.WriteString(pw, `{"statusCode":200,"headers":{"content-type":"text/plain"}}`+streamPrelude)
		for i := range 5 {
			_, _ = fmt.Fprintf(pw, "chunk %d\n", i)
		}
		if fail {
			req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Stream.Broken")
			req.Trailer.Set("Lambda-Runtime-Function-Error-Body", "eyJlcnJvck1lc3NhZ2UiOiJ1cHN0cmVhbSB3ZW50IGF3YXkifQ==")
		}
		_ = pw.Close()
	}()
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("invocation/response (streaming): %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("invocation/response (streaming): status %d", resp.StatusCode)
	}
	return nil
}

// post sends the invocation's response or error (kind "init-error": the
// init phase's error).
func (f *function) post(ctx context.Context, id, kind, errorType, body string) error {
	target := f.base + "/invocation/" + id + "/" + kind
	if kind == "init-error" {
		target = f.base + "/init/error"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("invocation/%s: %w", kind, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("invocation/%s: status %d", kind, resp.StatusCode)
	}
	return nil
}

// log prints one line, as text or as a JSON object (AWS_LAMBDA_LOG_FORMAT).
func (f *function) log(requestID, level, msg string) {
	var line []byte
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	if f.json {
		line, _ = json.Marshal(map[string]string{"timestamp": now, "level": level, "requestId": requestID, "message": msg})
	} else {
		line = fmt.Appendf(nil, "%s\t%s\t%s\t%s", now, requestID, level, msg)
	}
	f.mu.Lock()
	_, _ = f.out.Write(append(line, '\n'))
	f.mu.Unlock()
}

// JWT is the JWT authorizer context of an event.
type JWT struct {
	Subject string
	Scopes  []string
}

// EventOptions shape an event made by HTTPEvent.
type EventOptions struct {
	// SourceIP defaults to 203.0.113.7.
	SourceIP string
	// UserAgent defaults to "curl/8.5.0".
	UserAgent string
	// JWT adds a JWT authorizer context.
	JWT *JWT
	// Headers are added to the request headers (lower-cased names).
	Headers map[string]string
	// Body is the request body.
	Body string
	// Time defaults to now.
	Time time.Time
}

// HTTPEvent returns an API Gateway HTTP API (payload 2.0) event for method
// and path (which may carry a query string), as API Gateway sends it.
func HTTPEvent(method, path string, opt EventOptions) []byte {
	if opt.SourceIP == "" {
		opt.SourceIP = "203.0.113.7"
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "curl/8.5.0"
	}
	if opt.Time.IsZero() {
		opt.Time = time.Now()
	}
	rawPath, rawQuery, _ := strings.Cut(path, "?")
	headers := map[string]string{
		"accept":            "application/json",
		"host":              "k3x9q2abcd.execute-api.us-east-1.amazonaws.com",
		"user-agent":        opt.UserAgent,
		"x-amzn-trace-id":   "Root=1-" + strconv.FormatInt(opt.Time.Unix(), 16) + "-0123456789abcdef01234567",
		"x-forwarded-for":   opt.SourceIP,
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	for k, v := range opt.Headers {
		headers[strings.ToLower(k)] = v
	}
	requestContext := map[string]any{
		"accountId":    "123456789012",
		"apiId":        "k3x9q2abcd",
		"domainName":   "k3x9q2abcd.execute-api.us-east-1.amazonaws.com",
		"domainPrefix": "k3x9q2abcd",
		"http": map[string]any{
			"method": method, "path": rawPath, "protocol": "HTTP/1.1",
			"sourceIp": opt.SourceIP, "userAgent": opt.UserAgent,
		},
		"requestId": strconv.FormatInt(opt.Time.UnixNano(), 36),
		"routeKey":  method + " " + routeOf(rawPath),
		"stage":     "$default",
		"time":      opt.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		"timeEpoch": opt.Time.UnixMilli(),
	}
	if opt.JWT != nil {
		headers["authorization"] = "Bearer eyJhbGciOiJSUzI1NiJ9.sample.signature"
		requestContext["authorizer"] = map[string]any{"jwt": map[string]any{
			"claims": map[string]string{
				"sub": opt.JWT.Subject, "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
				"scope": strings.Join(opt.JWT.Scopes, " "),
			},
			"scopes": opt.JWT.Scopes,
		}}
	}
	ev := map[string]any{
		"version":         "2.0",
		"routeKey":        method + " " + routeOf(rawPath),
		"rawPath":         rawPath,
		"rawQueryString":  rawQuery,
		"headers":         headers,
		"requestContext":  requestContext,
		"isBase64Encoded": false,
	}
	if rawQuery != "" {
		q, _ := url.ParseQuery(rawQuery)
		params := map[string]string{}
		for k, v := range q {
			params[k] = strings.Join(v, ",")
		}
		ev["queryStringParameters"] = params
	}
	if opt.Body != "" {
		ev["body"] = opt.Body
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(ev)
	return bytes.TrimSpace(buf.Bytes())
}

// routeOf is the API's route template for a path.
func routeOf(path string) string {
	if strings.HasPrefix(path, "/users/") {
		return "/users/{id}"
	}
	return path
}
