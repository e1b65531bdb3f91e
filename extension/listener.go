package extension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/audittrail/audittrail/schema"
)

// maxTelemetryBody bounds one Telemetry API POST. Lambda sends at most about
// twice the subscription's maxBytes plus metadata; we subscribe with the
// minimum maxBytes, so this leaves ample room.
const maxTelemetryBody = 4 << 20

// telemetryHost is the host name Lambda delivers telemetry to.
const telemetryHost = "sandbox.localdomain"

// listener receives Telemetry API batches. It answers every POST as soon as
// the batch is parsed and handed over: it never waits for downstream work.
type listener struct {
	ln     net.Listener
	srv    *http.Server
	handle func(events []schema.TelemetryEvent, bad int, err error)
}

// listenTelemetry listens on an ephemeral port of the address Lambda
// delivers to: sandbox.localdomain inside Lambda, loopback where that name
// does not resolve (local runs).
func listenTelemetry(handle func([]schema.TelemetryEvent, int, error)) (*listener, error) {
	host := "127.0.0.1"
	if addrs, err := net.DefaultResolver.LookupHost(context.Background(), telemetryHost); err == nil && len(addrs) > 0 {
		host = addrs[0]
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("telemetry listener: %w", err)
	}
	l := &listener{ln: ln, handle: handle}
	l.srv = &http.Server{Handler: l, ReadHeaderTimeout: 5 * time.Second}
	return l, nil
}

// URI is the destination to subscribe with.
func (l *listener) URI() string {
	port := l.ln.Addr().(*net.TCPAddr).Port
	return "http://" + net.JoinHostPort(telemetryHost, strconv.Itoa(port)) + "/telemetry"
}

// serve runs until shutdown is called.
func (l *listener) serve() error {
	if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("telemetry listener: %w", err)
	}
	return nil
}

func (l *listener) shutdown(ctx context.Context) error {
	return l.srv.Shutdown(ctx)
}

// ServeHTTP decides the status once: 200 for every batch it read, even one
// with bad elements (those are reported to handle and counted; a retry by
// Lambda would not fix them), 400 for a body that is not a batch, 413 for one
// too large to read.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTelemetryBody+1))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	if len(body) > maxTelemetryBody {
		l.handle(nil, 1, fmt.Errorf("telemetry batch over %d bytes discarded", maxTelemetryBody))
		http.Error(w, "batch too large", http.StatusRequestEntityTooLarge)
		return
	}
	events, err := schema.ParseTelemetryBatch(body)
	if events == nil && err != nil {
		l.handle(nil, 1, err)
		http.Error(w, "not a telemetry batch", http.StatusBadRequest)
		return
	}
	bad := 0
	if err != nil {
		bad = countJoined(err)
	}
	l.handle(events, bad, err)
	w.WriteHeader(http.StatusOK)
}

// countJoined counts the errors joined in err.
func countJoined(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}
