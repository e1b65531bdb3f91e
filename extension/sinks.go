package extension

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/internal/config"
	"github.com/audittrail/audittrail/internal/secrets"
	"github.com/audittrail/audittrail/sinks"
	"github.com/audittrail/audittrail/sinks/file"
	"github.com/audittrail/audittrail/sinks/httpsink"
	"github.com/audittrail/audittrail/sinks/stdout"
)

// openSinks builds the configured sinks. A sink that cannot be built is
// reported and left out; with none left, stdout is used so that records are
// never dropped for want of a sink.
func openSinks(cfg config.Config, out io.Writer, r *secrets.Resolver) ([]sinks.Sink, error) {
	var ss []sinks.Sink
	var errs []error
	for _, name := range cfg.Sinks {
		s, err := openSink(name, cfg, out, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("sink %s disabled: %w", name, err))
			continue
		}
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		ss = append(ss, stdout.New(out))
	}
	return ss, errors.Join(errs...)
}

// openSink builds one sink.
func openSink(name string, cfg config.Config, out io.Writer, r *secrets.Resolver) (sinks.Sink, error) {
	switch name {
	case config.SinkStdout:
		return stdout.New(out), nil
	case config.SinkFile:
		return file.New(file.Config{Dir: cfg.FileDir})
	case config.SinkHTTP:
		codec, err := buffer.ParseCodec(cfg.HTTP.Compression)
		if err != nil {
			return nil, err
		}
		c := httpsink.Config{URL: cfg.HTTP.URL, Codec: codec}
		if cfg.HTTP.Authorization.IsSet() {
			c.Authorization = secretOf(r, cfg.HTTP.Authorization)
		}
		return httpsink.New(c)
	}
	return nil, fmt.Errorf("unknown sink %q", name)
}

// secretOf turns a configured secret into a sink's: its value, or fetched
// from Secrets Manager or SSM on first use (within a delivery, so never
// across a freeze).
func secretOf(r *secrets.Resolver, ref config.SecretRef) *sinks.Secret {
	switch {
	case ref.SecretARN != "":
		return sinks.LazySecret(func(ctx context.Context) (string, error) {
			b, err := r.Get(ctx, ref.SecretARN)
			return string(b), err
		})
	case ref.SSMParameter != "":
		return sinks.LazySecret(func(ctx context.Context) (string, error) {
			b, err := r.Parameter(ctx, ref.SSMParameter)
			return string(b), err
		})
	}
	return sinks.StaticSecret(ref.Value)
}
