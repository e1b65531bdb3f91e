package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// ToxiproxyPeer is a running Toxiproxy server: TCP proxies between a client
// and an upstream, into which toxics inject network faults.
type ToxiproxyPeer struct {
	// APIURL is the base URL of Toxiproxy's HTTP API.
	APIURL string

	client *http.Client
}

// Toxiproxy starts a Toxiproxy server with its API on a free 127.0.0.1 port
// and returns once it answers. It is stopped when the test ends.
func Toxiproxy(t testing.TB) *ToxiproxyPeer {
	t.Helper()
	bin := peerBinary(t, "toxiproxy", pinned(t).toxiproxy, "toxiproxy-server")
	client := &http.Client{}
	_, addrs := launch(t, launchSpec{
		name:  "toxiproxy",
		bin:   bin,
		dir:   t.TempDir(),
		ports: 1,
		args: func(addrs []string) []string {
			host, port, _ := strings.Cut(addrs[0], ":")
			return []string{"-host", host, "-port", port}
		},
		ready: func(ctx context.Context, addrs []string) error {
			return httpGetOK(client, "http://"+addrs[0]+"/version")(ctx)
		},
	}, nil)
	return &ToxiproxyPeer{APIURL: "http://" + addrs[0], client: client}
}

// Proxy is one Toxiproxy proxy: connections to Addr are forwarded to
// Upstream, through the proxy's toxics.
type Proxy struct {
	Name     string // unique per ToxiproxyPeer
	Addr     string // host:port to connect to instead of Upstream
	Upstream string // host:port connections are forwarded to

	peer *ToxiproxyPeer
}

// Proxy creates an enabled proxy called name, listening on a free
// 127.0.0.1 port, to upstream: a host:port or a URL such as a peer's
// HECURL (only its host:port is used).
func (p *ToxiproxyPeer) Proxy(t testing.TB, name, upstream string) *Proxy {
	t.Helper()
	if strings.Contains(upstream, "://") {
		u, err := url.Parse(upstream)
		if err != nil || u.Host == "" {
			t.Fatalf("peers: toxiproxy upstream %q: want host:port or a URL with a host", upstream)
		}
		upstream = u.Host
	}
	var created struct {
		Name     string `json:"name"`
		Listen   string `json:"listen"`
		Upstream string `json:"upstream"`
	}
	in := map[string]any{"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "enabled": true}
	if err := p.call(http.MethodPost, "/proxies", in, &created); err != nil {
		t.Fatalf("peers: toxiproxy create proxy %s -> %s: %v", name, upstream, err)
	}
	return &Proxy{Name: created.Name, Addr: created.Listen, Upstream: created.Upstream, peer: p}
}

// Reset enables every proxy and removes every toxic.
func (p *ToxiproxyPeer) Reset(t testing.TB) {
	t.Helper()
	if err := p.call(http.MethodPost, "/reset", nil, nil); err != nil {
		t.Fatalf("peers: toxiproxy reset: %v", err)
	}
}

// URL returns "http://"+Addr, for proxying an HTTP upstream.
func (x *Proxy) URL() string { return "http://" + x.Addr }

// Toxic is a fault Toxiproxy applies to the data of a proxy's connections,
// both existing and new ones. Latency, Timeout, ResetPeer and Bandwidth
// build the common ones; see Toxiproxy's README for every type and
// attribute.
type Toxic struct {
	// Name identifies the toxic within its proxy; empty means
	// "<type>_<stream>".
	Name string `json:"name,omitempty"`
	// Type is the toxic's kind: "latency", "timeout", "reset_peer",
	// "bandwidth", "slow_close", "slicer" or "limit_data".
	Type string `json:"type"`
	// Stream is the direction it applies to: "downstream" (upstream to
	// client, the default when empty) or "upstream" (client to upstream).
	Stream string `json:"stream,omitempty"`
	// Toxicity is the probability, from 0 to 1, that a connection is
	// affected; 0 means 1 (every connection).
	Toxicity float64 `json:"toxicity,omitempty"`
	// Attributes are the type's parameters, e.g. {"latency": 100} (ms).
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Latency delays the data by latency, plus or minus up to jitter.
func Latency(latency, jitter time.Duration) Toxic {
	return Toxic{Type: "latency", Attributes: map[string]any{
		"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds(),
	}}
}

// Timeout stops all data and closes the connection after the given time;
// with 0 the connection is never closed and the data is held until the
// toxic is removed: a peer that hangs.
func Timeout(after time.Duration) Toxic {
	return Toxic{Type: "timeout", Attributes: map[string]any{"timeout": after.Milliseconds()}}
}

// ResetPeer resets the connection (TCP RST) after the given time; with 0 at
// once, when data arrives.
func ResetPeer(after time.Duration) Toxic {
	return Toxic{Type: "reset_peer", Attributes: map[string]any{"timeout": after.Milliseconds()}}
}

// Bandwidth limits the data to kbPerSecond kilobytes per second.
func Bandwidth(kbPerSecond int64) Toxic {
	return Toxic{Type: "bandwidth", Attributes: map[string]any{"rate": kbPerSecond}}
}

// AddToxic adds toxic to the proxy and returns its name, for RemoveToxic.
func (x *Proxy) AddToxic(t testing.TB, toxic Toxic) string {
	t.Helper()
	var created struct {
		Name string `json:"name"`
	}
	if err := x.peer.call(http.MethodPost, "/proxies/"+url.PathEscape(x.Name)+"/toxics", toxic, &created); err != nil {
		t.Fatalf("peers: toxiproxy add %s toxic to %s: %v", toxic.Type, x.Name, err)
	}
	return created.Name
}

// RemoveToxic removes the named toxic from the proxy.
func (x *Proxy) RemoveToxic(t testing.TB, name string) {
	t.Helper()
	if err := x.peer.call(http.MethodDelete, "/proxies/"+url.PathEscape(x.Name)+"/toxics/"+url.PathEscape(name), nil, nil); err != nil {
		t.Fatalf("peers: toxiproxy remove toxic %s from %s: %v", name, x.Name, err)
	}
}

// Disable takes the proxy down: its open connections are closed and new
// ones are refused, as if the upstream host were gone.
func (x *Proxy) Disable(t testing.TB) {
	t.Helper()
	x.setEnabled(t, false)
}

// Enable brings a disabled proxy back on the same address.
func (x *Proxy) Enable(t testing.TB) {
	t.Helper()
	x.setEnabled(t, true)
}

// setEnabled updates the proxy's enabled flag.
func (x *Proxy) setEnabled(t testing.TB, enabled bool) {
	t.Helper()
	if err := x.peer.call(http.MethodPost, "/proxies/"+url.PathEscape(x.Name), map[string]any{"enabled": enabled}, nil); err != nil {
		t.Fatalf("peers: toxiproxy set %s enabled=%t: %v", x.Name, enabled, err)
	}
}

// call sends in (if not nil) as JSON to the API and decodes a 2xx answer
// into out (if not nil).
func (p *ToxiproxyPeer) call(method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.APIURL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(answer))
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
