// Package s3 archives audit records in Amazon S3 as date-partitioned,
// compressed NDJSON objects, for Athena or Amazon Security Lake:
//
//	<prefix>dt=2026-12-01/<function>/<env_id>-<first seq>-<last seq>-<hash>.ndjson.gz
//
// The date is the first record's @timestamp (UTC). The object's name is
// derived from its content, so a batch sent again after a failure
// overwrites the same object instead of adding a copy.
//
// It signs PutObject requests itself with aws-sdk-go-v2's SigV4 signer and
// the function's role credentials: the S3 client of the SDK would add
// megabytes to the layer for one call.
//
// # Failure behaviour
//
// Network errors, 408, 429, 500 and 503 (SlowDown) are transient: the
// delivery core retries them and keeps the records on its spool meanwhile.
// 403 (AccessDenied, say) and other 4xx answers are permanent: the records
// go to the dead letters and a coverage-gap record says so.
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Config configures the sink.
type Config struct {
	// Bucket receives the objects (AUDITTRAIL_S3_BUCKET).
	Bucket string
	// Prefix starts every key (AUDITTRAIL_S3_PREFIX); default "audittrail/".
	Prefix string
	// Region is the bucket's (AUDITTRAIL_S3_REGION); default the function's.
	Region string
	// Codec compresses the objects: gzip (default) or zstd
	// (AUDITTRAIL_S3_COMPRESSION).
	Codec buffer.Codec
	// Function names the function in keys.
	Function string
	// Endpoint overrides https://<bucket>.s3.<region>.amazonaws.com; the
	// bucket then goes in the path (AWS_ENDPOINT_URL_S3).
	Endpoint string
	// Credentials returns the function's role credentials.
	Credentials func(context.Context) (aws.Credentials, error)
	// Client sends the requests; nil means Go's defaults (TLS verified).
	Client *http.Client
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem, each with the variable that sets it.
func (c Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("AUDITTRAIL_S3_BUCKET: required by the s3 sink"))
	} else if strings.ContainsAny(c.Bucket, "/ ") {
		errs = append(errs, fmt.Errorf("AUDITTRAIL_S3_BUCKET: %q is a bucket name, not a path", c.Bucket))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("AUDITTRAIL_S3_REGION: required (default: AWS_REGION)"))
	}
	switch c.Codec {
	case "", buffer.Gzip, buffer.Zstd:
	default:
		errs = append(errs, fmt.Errorf("AUDITTRAIL_S3_COMPRESSION: %q is not gzip or zstd", c.Codec))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("AWS_ENDPOINT_URL_S3: %q is not an http(s) URL", c.Endpoint))
		}
	}
	if c.Credentials == nil {
		errs = append(errs, errors.New("s3: no credentials"))
	}
	return errors.Join(errs...)
}

// Sink writes one object per batch.
type Sink struct {
	cfg    Config
	comp   *buffer.Compressor
	signer *v4.Signer
	body   []byte
}

// New returns a sink for cfg.
func New(cfg Config) (*Sink, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "audittrail/"
	}
	if cfg.Codec == "" {
		cfg.Codec = buffer.Gzip
	}
	if cfg.Function == "" {
		cfg.Function = "function"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sink{cfg: cfg, comp: buffer.NewCompressor(), signer: v4.NewSigner()}, nil
}

// Name returns "s3".
func (s *Sink) Name() string { return "s3" }

// Write puts the batch as one object.
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	if len(batch) == 0 {
		return nil
	}
	body, err := s.comp.Compress(nil, s.cfg.Codec, buffer.AppendNDJSON(s.body[:0], batch))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("s3: %w", err))
	}
	key := Key(s.cfg.Prefix, s.cfg.Function, ext(s.cfg.Codec), batch)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.objectURL(key), bytes.NewReader(body))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("s3: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", s.cfg.Codec.ContentEncoding())
	creds, err := s.cfg.Credentials(ctx)
	if err != nil {
		return fmt.Errorf("s3: credentials: %w", err)
	}
	if err := s.sign(ctx, req, body, creds); err != nil {
		return sinks.Permanent(fmt.Errorf("s3: sign: %w", err))
	}
	conn := new(sinks.Conn)
	resp, err := s.cfg.Client.Do(req.WithContext(conn.Trace(ctx)))
	if err != nil {
		conn.Close() // nothing left on the wire at a freeze
		return fmt.Errorf("s3: %w", err)
	}
	defer resp.Body.Close()
	err = sinks.HTTPError(resp)
	if _, cerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); cerr != nil {
		conn.Close()
	}
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", key, err)
	}
	return nil
}

// sign signs req, whose body is body, as S3 wants it: the payload's hash in
// X-Amz-Content-Sha256 and in the signature, the path not escaped again.
func (s *Sink) sign(ctx context.Context, req *http.Request, body []byte, creds aws.Credentials) error {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	return s.signer.SignHTTP(ctx, creds, req, hash, "s3", s.cfg.Region, s.cfg.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	s.cfg.Client.CloseIdleConnections()
	return nil
}

// objectURL is where key is put: virtual-hosted style on AWS, path style
// on a custom endpoint.
func (s *Sink) objectURL(key string) string {
	escaped := escapeKey(key)
	if s.cfg.Endpoint != "" {
		return strings.TrimSuffix(s.cfg.Endpoint, "/") + "/" + s.cfg.Bucket + "/" + escaped
	}
	return "https://" + s.cfg.Bucket + ".s3." + s.cfg.Region + ".amazonaws.com/" + escaped
}

// escapeKey escapes a key for a URL path as S3 expects: every byte but
// unreserved characters and '/'.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func ext(c buffer.Codec) string {
	if c == buffer.Zstd {
		return ".ndjson.zst"
	}
	return ".ndjson.gz"
}

// Key names the object of a batch: partitioned by the first record's date,
// named after its environment, seq range and a hash of the records, so the
// same batch always gets the same key.
func Key(prefix, function, ext string, batch [][]byte) string {
	var first, last struct {
		Timestamp time.Time `json:"@timestamp"`
		Audit     struct {
			EnvID string `json:"env_id"`
			Seq   int64  `json:"seq"`
		} `json:"audit"`
	}
	_ = json.Unmarshal(batch[0], &first)
	_ = json.Unmarshal(batch[len(batch)-1], &last)
	h := sha256.New()
	for _, r := range batch {
		h.Write(r)
		h.Write([]byte{'\n'})
	}
	day := first.Timestamp.UTC()
	if first.Timestamp.IsZero() {
		day = time.Unix(0, 0).UTC()
	}
	env := first.Audit.EnvID
	if env == "" {
		env = "unknown"
	}
	return fmt.Sprintf("%sdt=%s/%s/%s-%d-%d-%s%s", prefix, day.Format(time.DateOnly), safe(function), safe(env),
		first.Audit.Seq, last.Audit.Seq, hex.EncodeToString(h.Sum(nil))[:16], ext)
}

// safe keeps a path element to characters that need no escaping.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

var _ sinks.Sink = (*Sink)(nil)
