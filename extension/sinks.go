package extension

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/internal/config"
	"github.com/audittrail/audittrail/internal/secrets"
	"github.com/audittrail/audittrail/sinks"
	"github.com/audittrail/audittrail/sinks/datadog"
	"github.com/audittrail/audittrail/sinks/elasticsearch"
	"github.com/audittrail/audittrail/sinks/file"
	"github.com/audittrail/audittrail/sinks/httpsink"
	"github.com/audittrail/audittrail/sinks/otlp"
	"github.com/audittrail/audittrail/sinks/s3"
	"github.com/audittrail/audittrail/sinks/splunk"
	"github.com/audittrail/audittrail/sinks/stdout"
)

// openSinks builds the configured sinks. A sink that cannot be built is
// reported and left out; with none left, stdout is used so that records are
// never dropped for want of a sink.
func openSinks(cfg config.Config, out io.Writer, r *secrets.Resolver) ([]sinks.Sink, error) {
	var ss []sinks.Sink
	var errs []error
	client, err := httpClient(cfg.CABundle)
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range cfg.Sinks {
		s, err := openSink(name, cfg, out, r, client)
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
func openSink(name string, cfg config.Config, out io.Writer, r *secrets.Resolver, client *http.Client) (sinks.Sink, error) {
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
		c := httpsink.Config{URL: cfg.HTTP.URL, Codec: codec, Client: client}
		if cfg.HTTP.Authorization.IsSet() {
			c.Authorization = secretOf(r, cfg.HTTP.Authorization)
		}
		return httpsink.New(c)
	case config.SinkSplunk:
		sp := cfg.Splunk
		return splunk.New(splunk.Config{URL: sp.URL, Token: secretOf(r, sp.Token), Host: sp.Host, Source: sp.Source,
			Sourcetype: sp.Sourcetype, Index: sp.Index, Ack: sp.Ack, Client: client})
	case config.SinkElasticsearch:
		return elasticsearch.New(elasticsearchConfig(cfg, r, client))
	case config.SinkDatadog:
		d := cfg.Datadog
		return datadog.New(datadog.Config{APIKey: secretOf(r, d.APIKey), Site: d.Site, URL: d.URL, Service: d.Service,
			Tags: datadog.ParseTags(d.Tags), Compression: buffer.Gzip, Client: client})
	case config.SinkOTLP:
		o := cfg.OTLP
		c := otlp.Config{Endpoint: o.Endpoint, Compression: buffer.Codec(o.Compression), ServiceName: cfg.Lambda.FunctionName, Client: client}
		if o.Headers.IsSet() {
			c.Headers = secretOf(r, o.Headers)
		}
		return otlp.New(c)
	case config.SinkS3:
		codec, err := buffer.ParseCodec(cfg.S3.Compression)
		if err != nil {
			return nil, err
		}
		return s3.New(s3.Config{Bucket: cfg.S3.Bucket, Prefix: cfg.S3.Prefix, Region: cfg.S3.Region, Codec: codec,
			Function: cfg.Lambda.FunctionName, Endpoint: cfg.S3.Endpoint, Credentials: r.Credentials, Client: client})
	}
	return nil, fmt.Errorf("unknown sink %q", name)
}

// elasticsearchConfig is the elasticsearch sink's configuration (also used
// by `audittrail elasticsearch-template`).
func elasticsearchConfig(cfg config.Config, r *secrets.Resolver, client *http.Client) elasticsearch.Config {
	es := cfg.Elasticsearch
	c := elasticsearch.Config{URL: es.URL, DataStream: es.DataStream, Codec: buffer.Gzip, Username: es.Username,
		AWSService: es.SigV4, AWSRegion: cfg.Lambda.Region, Credentials: r.Credentials, Client: client}
	if es.APIKey.IsSet() {
		c.APIKey = secretOf(r, es.APIKey)
	}
	if es.Password.IsSet() {
		c.Password = secretOf(r, es.Password)
	}
	return c
}

// InstallElasticsearchTemplate installs the index template of the
// elasticsearch sink, configured from the environment as the extension
// would be.
func InstallElasticsearchTemplate(ctx context.Context, cfg config.Config, r *secrets.Resolver) error {
	client, err := httpClient(cfg.CABundle)
	if err != nil {
		return err
	}
	if err := cfg.SinkProblems(config.SinkElasticsearch); err != nil {
		return err
	}
	return elasticsearch.InstallTemplate(ctx, elasticsearchConfig(cfg, r, client))
}

// httpClient is the client of the HTTP sinks: Go's defaults (certificates
// verified against the system's CAs), plus the CAs of caBundle when given,
// and no redirects.
// A bundle that cannot be used is reported and left out.
func httpClient(caBundle string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	// Never follow a redirect: a sink's credentials (DD-API-KEY, say)
	// would go along to wherever it leads.
	client := &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if caBundle == "" {
		return client, nil
	}
	pem, err := os.ReadFile(caBundle)
	if err != nil {
		return client, fmt.Errorf("AUDITTRAIL_CA_BUNDLE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return client, fmt.Errorf("AUDITTRAIL_CA_BUNDLE: %s holds no PEM certificate", caBundle)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return client, nil
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
