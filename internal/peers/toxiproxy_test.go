package peers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestToxiproxy(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(upstream.Close)

	tp := Toxiproxy(t)
	proxy := tp.Proxy(t, "upstream", upstream.URL)
	if proxy.Upstream != upstream.Listener.Addr().String() || proxy.Addr == "" || proxy.Addr == proxy.Upstream {
		t.Fatalf("proxy = %+v, want a new address in front of %s", proxy, upstream.URL)
	}
	// No keep-alive: every request dials, so each sees the proxy's state now.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, proxy.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if string(body) != "upstream ok" {
			return errors.New("unexpected body " + string(body))
		}
		return nil
	}
	const generous = 10 * time.Second // only a stall or a refusal can exceed it

	if err := get(generous); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	// A latency far above the client's deadline makes the request time out.
	slow := proxy.AddToxic(t, Latency(time.Minute, 0))
	if err := get(200 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a 1 min latency and a 200 ms deadline: err = %v, want deadline exceeded", err)
	}
	proxy.RemoveToxic(t, slow)
	if err := get(generous); err != nil {
		t.Fatalf("after removing the latency: %v", err)
	}

	reset := proxy.AddToxic(t, ResetPeer(0))
	if err := get(generous); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with reset_peer: err = %v, want the connection reset", err)
	}
	proxy.RemoveToxic(t, reset)

	proxy.Disable(t)
	if err := get(generous); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with the proxy down: err = %v, want the connection refused", err)
	}
	proxy.Enable(t)
	if err := get(generous); err != nil {
		t.Fatalf("after enabling the proxy again: %v", err)
	}

	proxy.AddToxic(t, Timeout(0))
	tp.Reset(t)
	if err := get(generous); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}
