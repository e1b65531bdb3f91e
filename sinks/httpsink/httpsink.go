// Package httpsink posts audit records as NDJSON to an HTTP endpoint: a
// Vector http_server source, a Fluent Bit or Logstash http input, or any
// collector that takes newline-delimited JSON.
//
// # Failure behaviour
//
// A 2xx answer means the batch was taken. 408, 429 and 5xx answers and
// network errors are transient: the delivery core retries them and keeps
// the records on its spool meanwhile. Any other answer is permanent: the
// records go to the dead letters and a coverage-gap record says so.
package httpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
)

// Config configures the sink.
type Config struct {
	// URL receives the POSTs.
	URL string
	// Codec compresses request bodies.
	Codec buffer.Codec
	// Authorization, when set, is sent as the Authorization header.
	Authorization *sinks.Secret
	// Client sends the requests; nil means a client with Go's defaults
	// (TLS certificates verified).
	Client *http.Client
}

// Sink posts batches to one URL.
type Sink struct {
	cfg  Config
	comp *buffer.Compressor
	body []byte // grow-only scratch for the NDJSON body
	out  []byte // and for its compressed form
}

// New returns a sink for cfg.
func New(cfg Config) (*Sink, error) {
	if cfg.URL == "" {
		return nil, errors.New("httpsink: no URL")
	}
	if _, err := http.NewRequest(http.MethodPost, cfg.URL, nil); err != nil {
		return nil, fmt.Errorf("httpsink: %w", err)
	}
	if cfg.Codec == "" {
		cfg.Codec = buffer.None
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &Sink{cfg: cfg, comp: buffer.NewCompressor()}, nil
}

// Name returns "http".
func (s *Sink) Name() string { return "http" }

// Write posts the batch as one NDJSON body.
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	s.body = buffer.AppendNDJSON(s.body[:0], batch)
	var err error
	if s.out, err = s.comp.Compress(s.out[:0], s.cfg.Codec, s.body); err != nil {
		return sinks.Permanent(fmt.Errorf("httpsink: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(s.out))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("httpsink: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", "audittrail")
	if enc := s.cfg.Codec.ContentEncoding(); enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	if s.cfg.Authorization != nil {
		auth, err := s.cfg.Authorization.Get(ctx)
		if err != nil {
			return fmt.Errorf("httpsink: authorization: %w", err)
		}
		req.Header.Set("Authorization", auth)
	}
	conn := new(sinks.Conn)
	req = req.WithContext(conn.Trace(ctx))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		// A request cut short (by the flush budget, say) must be off the
		// wire when Write returns: Lambda may freeze the process next, and
		// the transport would otherwise close the connection later, from
		// one of its own goroutines.
		conn.Close()
		return fmt.Errorf("httpsink: %w", err)
	}
	defer resp.Body.Close()
	err = sinks.HTTPError(resp)
	if _, cerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); cerr != nil { // reuse the connection
		conn.Close()
	}
	if err != nil {
		return fmt.Errorf("httpsink: %w", err)
	}
	return nil
}

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	s.cfg.Client.CloseIdleConnections()
	return nil
}

var _ sinks.Sink = (*Sink)(nil)
