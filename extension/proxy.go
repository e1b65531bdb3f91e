package extension

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Runtime API paths the proxy inspects; every other path passes untouched.
const (
	pathNext       = "/2018-06-01/runtime/invocation/next"
	pathInvocation = "/2018-06-01/runtime/invocation/"
)

// ProxyAddrFile is where the extension writes the proxy's address, under
// the sandbox's /tmp. The exec wrapper points the runtime at the address it
// finds there, and leaves the runtime alone when there is none, so a proxy
// that could not start never breaks the function.
const ProxyAddrFile = "audittrail/runtime-api"

// capture is what the proxy saw of one side of an invocation: the event the
// runtime received, or the response or error it posted.
type capture struct {
	RequestID string
	// Kind is "event", "response" or "error".
	Kind string
	// Header holds the request or response headers as they passed.
	Header http.Header
	// Body is at most the proxy's inspection limit of the payload.
	Body []byte
	// Size is the payload's full size in bytes.
	Size int64
	// Truncated is set when Body is only a prefix.
	Truncated bool
	At        time.Time
}

// proxy is a Runtime API proxy: the runtime talks to it as if it were
// Lambda, and it forwards every request and answer unchanged to the
// upstream Runtime API (Lambda's, or another extension's proxy), keeping a
// bounded copy of the invocation payloads for the trail. Inspection never
// blocks or alters the traffic: a failure in it is recorded and the bytes
// keep flowing.
type proxy struct {
	ln    net.Listener
	srv   *http.Server
	limit int
	log   *slog.Logger
	// observe receives every capture; it must not block.
	observe func(capture)
	// failed is called when inspection of one exchange failed.
	failed func(error)
}

// newProxy listens on an ephemeral loopback port and forwards to upstream
// (host:port). Set observe and failed before serving.
func newProxy(upstream string, limit int, log *slog.Logger) (*proxy, error) {
	target, err := url.Parse("http://" + upstream)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("runtime API proxy: bad upstream %q", upstream)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API proxy: %w", err)
	}
	p := &proxy{ln: ln, limit: limit, log: log}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			// Share the incoming trailer map: its values (a streamed
			// response's error type and body) arrive only after the body,
			// and the clone would forward them empty.
			r.Out.Trailer = r.In.Trailer
		},
		// Streamed responses and long-polled next calls pass at once.
		FlushInterval:  -1,
		ModifyResponse: p.inspectAnswer,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil { // not just the runtime going away
				log.Error("runtime API upstream unreachable", "path", r.URL.Path, "error", err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	p.srv = &http.Server{Handler: p.inspectRequest(rp), ReadHeaderTimeout: 30 * time.Second}
	return p, nil
}

// Addr is the proxy's host:port.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() error {
	if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("runtime API proxy: %w", err)
	}
	return nil
}

// publish writes the proxy address for the exec wrapper, atomically.
func (p *proxy) publish(tmpDir string) (string, error) {
	path := filepath.Join(tmpDir, ProxyAddrFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(p.Addr()+"\n"), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// inspectRequest tees the body of a posted response or error.
func (p *proxy) inspectRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if id, kind, ok := invocationResult(r.URL.Path); ok {
				hdr := r.Header.Clone()
				r.Body = p.tee(r.Body, func(body []byte, size int64, truncated bool) {
					// A streamed response reports a failure in its
					// trailers, known only now that the body is read.
					for k, v := range r.Trailer {
						hdr[k] = v
					}
					p.observe(capture{RequestID: id, Kind: kind, Header: hdr, Body: body, Size: size, Truncated: truncated, At: time.Now()})
				})
			}
		}
		next.ServeHTTP(w, r)
	})
}

// invocationResult parses /2018-06-01/runtime/invocation/{id}/response
// and .../error paths.
func invocationResult(path string) (id, kind string, ok bool) {
	rest, ok := strings.CutPrefix(path, pathInvocation)
	if !ok {
		return "", "", false
	}
	id, kind, ok = strings.Cut(rest, "/")
	if !ok || id == "" || (kind != "response" && kind != "error") {
		return "", "", false
	}
	return id, kind, true
}

// inspectAnswer tees the event of an invocation/next answer.
func (p *proxy) inspectAnswer(resp *http.Response) error {
	if resp.Request.URL.Path != pathNext || resp.StatusCode != http.StatusOK {
		return nil
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if id == "" {
		p.failed(errors.New("invocation/next answer without Lambda-Runtime-Aws-Request-Id"))
		return nil
	}
	hdr := resp.Header.Clone()
	resp.Body = p.tee(resp.Body, func(body []byte, size int64, truncated bool) {
		p.observe(capture{RequestID: id, Kind: "event", Header: hdr, Body: body, Size: size, Truncated: truncated, At: time.Now()})
	})
	return nil
}

// tee wraps body so that the first p.limit bytes are kept as they pass;
// done is called once, when the body is exhausted or closed.
func (p *proxy) tee(body io.ReadCloser, done func(prefix []byte, size int64, truncated bool)) io.ReadCloser {
	if body == nil || body == http.NoBody {
		done(nil, 0, false)
		return body
	}
	return &teeBody{ReadCloser: body, limit: p.limit, done: done, failed: p.failed}
}

// teeBody copies a bounded prefix of what is read through it.
type teeBody struct {
	io.ReadCloser
	limit  int
	prefix []byte
	size   int64
	once   sync.Once
	done   func([]byte, int64, bool)
	failed func(error)
}

func (t *teeBody) Read(b []byte) (int, error) {
	n, err := t.ReadCloser.Read(b)
	if room := t.limit - len(t.prefix); room > 0 && n > 0 {
		t.prefix = append(t.prefix, b[:min(n, room)]...)
	}
	t.size += int64(n)
	if err == io.EOF {
		t.finish()
	}
	return n, err
}

func (t *teeBody) Close() error {
	t.finish()
	return t.ReadCloser.Close()
}

// finish hands the prefix over once. Inspection must never break the
// traffic: a panic in it is recovered and reported.
func (t *teeBody) finish() {
	t.once.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				t.failed(fmt.Errorf("inspection failed: %v", r))
			}
		}()
		t.done(t.prefix, t.size, t.size > int64(len(t.prefix)))
	})
}
