package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Sink names (AUDITTRAIL_SINKS).
const (
	SinkStdout        = "stdout"
	SinkFile          = "file"
	SinkHTTP          = "http"
	SinkSplunk        = "splunk"
	SinkElasticsearch = "elasticsearch"
	SinkDatadog       = "datadog"
	SinkOTLP          = "otlp"
	SinkS3            = "s3"
)

// knownSinks lists the sink names AUDITTRAIL_SINKS accepts.
var knownSinks = []string{SinkStdout, SinkFile, SinkHTTP, SinkSplunk, SinkElasticsearch, SinkDatadog, SinkOTLP, SinkS3}

// SecretRef says where a secret comes from: the variable itself, a Secrets
// Manager secret (NAME_SECRET_ARN) or an SSM parameter
// (NAME_SSM_PARAMETER). It prints where, never the value.
type SecretRef struct {
	Value        string
	SecretARN    string
	SSMParameter string
}

// IsSet reports whether the secret was given at all.
func (s SecretRef) IsSet() bool { return s.Value != "" || s.SecretARN != "" || s.SSMParameter != "" }

// String tells where the secret comes from, the value masked. When it was
// given more than one way (a problem FromEnv reports), it names the one the
// extension uses: the Secrets Manager secret, then the SSM parameter, then
// the value.
func (s SecretRef) String() string {
	switch {
	case s.SecretARN != "":
		return "secretsmanager:" + s.SecretARN
	case s.SSMParameter != "":
		return "ssm:" + s.SSMParameter
	case s.Value != "":
		return "[REDACTED]"
	}
	return ""
}

// GoString is String: %#v must not print the value either.
func (s SecretRef) GoString() string { return s.String() }

// MarshalJSON is String as a JSON string: encoding/json (and slog's JSON
// handler) must not print the value either.
func (s SecretRef) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// secretVars documents the three ways to give a secret.
func secretVars(name, what string) []Var {
	return []Var{
		{name, "", what + " (a secret: never logged)."},
		{name + "_SECRET_ARN", "", "The same from AWS Secrets Manager (the secret's ARN), fetched on first use with the function's role."},
		{name + "_SSM_PARAMETER", "", "The same from SSM Parameter Store (a SecureString's name or ARN), fetched on first use."},
	}
}

// HTTP configures the http sink.
type HTTP struct {
	URL string
	// Compression is none, gzip or zstd.
	Compression string
	// Authorization is the Authorization header's value.
	Authorization SecretRef
}

// Splunk configures the Splunk HEC sink.
type Splunk struct {
	URL                             string
	Token                           SecretRef
	Index, Source, Sourcetype, Host string
	// Ack waits for indexer acknowledgement.
	Ack bool
}

// Elasticsearch configures the Elasticsearch / OpenSearch sink.
type Elasticsearch struct {
	URL        string
	DataStream string
	APIKey     SecretRef
	Username   string
	Password   SecretRef
	// SigV4 is "", "es" (Amazon OpenSearch Service) or "aoss"
	// (OpenSearch Serverless).
	SigV4 string
}

// Datadog configures the Datadog logs sink.
type Datadog struct {
	Site    string
	URL     string
	APIKey  SecretRef
	Service string
	Tags    string
}

// OTLP configures the OTLP/HTTP logs sink.
type OTLP struct {
	// Endpoint is the full logs URL (…/v1/logs).
	Endpoint    string
	Headers     SecretRef
	Compression string
}

// S3 configures the S3 archive sink.
type S3 struct {
	Bucket, Prefix, Region, Compression string
	// Endpoint overrides S3's (AWS_ENDPOINT_URL_S3).
	Endpoint string
}

// sinkVariables documents the variables of the sinks.
func sinkVariables() []Var {
	vs := []Var{
		{"AUDITTRAIL_HTTP_URL", "", "Where the `http` sink posts batches of records as NDJSON (`application/x-ndjson`), e.g. a Vector `http_server`, Fluent Bit `http` or Logstash `http` input."},
		{"AUDITTRAIL_HTTP_COMPRESSION", "gzip", "Content-Encoding of the `http` sink's requests: `gzip`, `zstd` or `none`."},
	}
	vs = append(vs, secretVars("AUDITTRAIL_HTTP_AUTHORIZATION", "Value of the `http` sink's Authorization header")...)
	vs = append(vs,
		Var{"AUDITTRAIL_SPLUNK_URL", "", "Splunk HEC base URL, e.g. `https://hec.example.splunkcloud.com:8088` (`splunk` sink); events go to `/services/collector/event`."},
	)
	vs = append(vs, secretVars("AUDITTRAIL_SPLUNK_TOKEN", "The HEC token")...)
	vs = append(vs,
		Var{"AUDITTRAIL_SPLUNK_INDEX", "", "Index of the events; empty: the token's default index."},
		Var{"AUDITTRAIL_SPLUNK_SOURCE", "audittrail", "`source` of the events."},
		Var{"AUDITTRAIL_SPLUNK_SOURCETYPE", "audittrail", "`sourcetype` of the events."},
		Var{"AUDITTRAIL_SPLUNK_HOST", "", "`host` of the events; empty: the function's name."},
		Var{"AUDITTRAIL_SPLUNK_ACK", "off", "`on` waits for indexer acknowledgement: only acknowledged events count as delivered (the token must have acknowledgement enabled)."},
		Var{"AUDITTRAIL_ELASTICSEARCH_URL", "", "Elasticsearch or OpenSearch base URL (`elasticsearch` sink); records go to `/_bulk`."},
		Var{"AUDITTRAIL_ELASTICSEARCH_DATA_STREAM", "logs-audittrail-default", "Data stream (or index) the records are created in."},
	)
	vs = append(vs, secretVars("AUDITTRAIL_ELASTICSEARCH_API_KEY", "An Elasticsearch API key (the base64 `encoded` form)")...)
	vs = append(vs, Var{"AUDITTRAIL_ELASTICSEARCH_USERNAME", "", "User for basic authentication, with the password below."})
	vs = append(vs, secretVars("AUDITTRAIL_ELASTICSEARCH_PASSWORD", "Password for basic authentication")...)
	vs = append(vs,
		Var{"AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4", "", "`es` (Amazon OpenSearch Service) or `aoss` (OpenSearch Serverless): sign requests with the function's role instead."},
		Var{"AUDITTRAIL_DATADOG_SITE", "datadoghq.com", "Datadog site (`datadog` sink): `datadoghq.com`, `datadoghq.eu`, `us3.datadoghq.com`, `us5.datadoghq.com`, `ap1.datadoghq.com`, `ap2.datadoghq.com`, `uk1.datadoghq.com`, `ddog-gov.com`, `us2.ddog-gov.com`; `DD_SITE` when unset."},
		Var{"AUDITTRAIL_DATADOG_URL", "", "Full logs intake URL instead of the site's (a proxy, say)."},
	)
	vs = append(vs, secretVars("AUDITTRAIL_DATADOG_API_KEY", "The Datadog API key; `DD_API_KEY` when none of the three is set")...)
	vs = append(vs,
		Var{"AUDITTRAIL_DATADOG_SERVICE", "", "`service` of the logs; empty: the function's name."},
		Var{"AUDITTRAIL_DATADOG_TAGS", "", "`ddtags` of the logs, comma-separated `key:value`."},
		Var{"AUDITTRAIL_OTLP_ENDPOINT", "", "OTLP/HTTP logs URL (`otlp` sink), e.g. `https://collector:4318/v1/logs`; when unset, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/logs`."},
	)
	vs = append(vs, secretVars("AUDITTRAIL_OTLP_HEADERS", "Request headers, `key=value,key2=value2` (URL-encoded values); `OTEL_EXPORTER_OTLP_HEADERS` when unset")...)
	vs = append(vs,
		Var{"AUDITTRAIL_OTLP_COMPRESSION", "gzip", "`gzip` or `none`; `OTEL_EXPORTER_OTLP_COMPRESSION` when unset."},
		Var{"AUDITTRAIL_S3_BUCKET", "", "Bucket of the S3 archive (`s3` sink): date-partitioned NDJSON objects for Athena or Security Lake."},
		Var{"AUDITTRAIL_S3_PREFIX", "audittrail/", "Key prefix of the objects."},
		Var{"AUDITTRAIL_S3_REGION", "", "The bucket's region; empty: the function's."},
		Var{"AUDITTRAIL_S3_COMPRESSION", "gzip", "`gzip` (`.ndjson.gz`) or `zstd` (`.ndjson.zst`)."},
		Var{"AUDITTRAIL_CA_BUNDLE", "", "A PEM file of CA certificates the sinks trust besides the system's (a private CA); certificates are always verified."},
	)
	return vs
}

// readSinks reads the sinks' variables.
func (c *Config) readSinks(get func(name, def string) string) []error {
	var errs []error
	secret := func(name string) SecretRef {
		s := SecretRef{Value: get(name, ""), SecretARN: get(name+"_SECRET_ARN", ""), SSMParameter: get(name+"_SSM_PARAMETER", "")}
		n := 0
		for _, v := range []string{s.Value, s.SecretARN, s.SSMParameter} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			errs = append(errs, fmt.Errorf("%s: set only one of %s, %s_SECRET_ARN and %s_SSM_PARAMETER", name, name, name, name))
		}
		return s
	}
	switchOff := func(name string) bool { // a switch that is off by default
		on, err := onOff(get, name, false)
		if err != nil {
			errs = append(errs, err)
		}
		return on
	}
	c.HTTP = HTTP{
		URL:           get("AUDITTRAIL_HTTP_URL", ""),
		Compression:   strings.ToLower(get("AUDITTRAIL_HTTP_COMPRESSION", "gzip")),
		Authorization: secret("AUDITTRAIL_HTTP_AUTHORIZATION"),
	}
	c.Splunk = Splunk{
		URL:        get("AUDITTRAIL_SPLUNK_URL", ""),
		Token:      secret("AUDITTRAIL_SPLUNK_TOKEN"),
		Index:      get("AUDITTRAIL_SPLUNK_INDEX", ""),
		Source:     get("AUDITTRAIL_SPLUNK_SOURCE", "audittrail"),
		Sourcetype: get("AUDITTRAIL_SPLUNK_SOURCETYPE", "audittrail"),
		Host:       get("AUDITTRAIL_SPLUNK_HOST", c.Lambda.FunctionName),
		Ack:        switchOff("AUDITTRAIL_SPLUNK_ACK"),
	}
	c.Elasticsearch = Elasticsearch{
		URL:        get("AUDITTRAIL_ELASTICSEARCH_URL", ""),
		DataStream: get("AUDITTRAIL_ELASTICSEARCH_DATA_STREAM", "logs-audittrail-default"),
		APIKey:     secret("AUDITTRAIL_ELASTICSEARCH_API_KEY"),
		Username:   get("AUDITTRAIL_ELASTICSEARCH_USERNAME", ""),
		Password:   secret("AUDITTRAIL_ELASTICSEARCH_PASSWORD"),
		SigV4:      strings.ToLower(get("AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4", "")),
	}
	c.Datadog = Datadog{
		Site:    strings.ToLower(get("AUDITTRAIL_DATADOG_SITE", get("DD_SITE", "datadoghq.com"))),
		URL:     get("AUDITTRAIL_DATADOG_URL", ""),
		APIKey:  secret("AUDITTRAIL_DATADOG_API_KEY"),
		Service: get("AUDITTRAIL_DATADOG_SERVICE", c.Lambda.FunctionName),
		Tags:    get("AUDITTRAIL_DATADOG_TAGS", ""),
	}
	if !c.Datadog.APIKey.IsSet() {
		c.Datadog.APIKey.Value = get("DD_API_KEY", "")
	}
	endpoint := get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "")
	if base := get("OTEL_EXPORTER_OTLP_ENDPOINT", ""); endpoint == "" && base != "" {
		endpoint = strings.TrimSuffix(base, "/") + "/v1/logs"
	}
	c.OTLP = OTLP{
		Endpoint:    get("AUDITTRAIL_OTLP_ENDPOINT", endpoint),
		Headers:     secret("AUDITTRAIL_OTLP_HEADERS"),
		Compression: strings.ToLower(get("AUDITTRAIL_OTLP_COMPRESSION", get("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"))),
	}
	if !c.OTLP.Headers.IsSet() {
		c.OTLP.Headers.Value = get("OTEL_EXPORTER_OTLP_HEADERS", "")
	}
	c.S3 = S3{
		Bucket:      get("AUDITTRAIL_S3_BUCKET", ""),
		Prefix:      get("AUDITTRAIL_S3_PREFIX", "audittrail/"),
		Region:      get("AUDITTRAIL_S3_REGION", c.Lambda.Region),
		Compression: strings.ToLower(get("AUDITTRAIL_S3_COMPRESSION", "gzip")),
		Endpoint:    get("AWS_ENDPOINT_URL_S3", ""),
	}
	c.CABundle = get("AUDITTRAIL_CA_BUNDLE", "")
	return errs
}

// SinkProblems reports what keeps a sink from working, each problem with
// the variable concerned.
func (c Config) SinkProblems(sink string) error {
	var errs []error
	need := func(name, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s: required by the %s sink", name, sink))
		}
	}
	oneOf := func(name, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			errs = append(errs, fmt.Errorf("%s: %q is not %s", name, v, strings.Join(allowed, ", ")))
		}
	}
	switch sink {
	case SinkHTTP:
		errs = append(errs, checkURL("AUDITTRAIL_HTTP_URL", c.HTTP.URL, sink))
		oneOf("AUDITTRAIL_HTTP_COMPRESSION", c.HTTP.Compression, "gzip", "zstd", "none")
	case SinkSplunk:
		errs = append(errs, checkURL("AUDITTRAIL_SPLUNK_URL", c.Splunk.URL, sink))
		if !c.Splunk.Token.IsSet() {
			need("AUDITTRAIL_SPLUNK_TOKEN", "")
		}
	case SinkElasticsearch:
		es := c.Elasticsearch
		errs = append(errs, checkURL("AUDITTRAIL_ELASTICSEARCH_URL", es.URL, sink))
		need("AUDITTRAIL_ELASTICSEARCH_DATA_STREAM", es.DataStream)
		oneOf("AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4", es.SigV4, "", "es", "aoss")
		auths := 0
		for _, set := range []bool{es.APIKey.IsSet(), es.Username != "" || es.Password.IsSet(), es.SigV4 != ""} {
			if set {
				auths++
			}
		}
		if auths > 1 {
			errs = append(errs, errors.New("AUDITTRAIL_ELASTICSEARCH_API_KEY: choose one of an API key, a username and password, or AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4"))
		}
		if (es.Username != "") != es.Password.IsSet() {
			errs = append(errs, errors.New("AUDITTRAIL_ELASTICSEARCH_USERNAME: basic authentication needs both the username and AUDITTRAIL_ELASTICSEARCH_PASSWORD"))
		}
		if es.SigV4 != "" {
			need("AWS_REGION", c.Lambda.Region)
		}
	case SinkDatadog:
		if c.Datadog.URL != "" {
			errs = append(errs, checkURL("AUDITTRAIL_DATADOG_URL", c.Datadog.URL, sink))
		}
		if !c.Datadog.APIKey.IsSet() {
			need("AUDITTRAIL_DATADOG_API_KEY", "")
		}
	case SinkOTLP:
		errs = append(errs, checkURL("AUDITTRAIL_OTLP_ENDPOINT", c.OTLP.Endpoint, sink))
		oneOf("AUDITTRAIL_OTLP_COMPRESSION", c.OTLP.Compression, "gzip", "none")
	case SinkS3:
		need("AUDITTRAIL_S3_BUCKET", c.S3.Bucket)
		need("AUDITTRAIL_S3_REGION", c.S3.Region)
		oneOf("AUDITTRAIL_S3_COMPRESSION", c.S3.Compression, "gzip", "zstd")
	}
	return errors.Join(errs...)
}

// checkURL checks a sink's URL (never printing a password it may carry).
func checkURL(name, v, sink string) error {
	if v == "" {
		return fmt.Errorf("%s: required by the %s sink", name, sink)
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return fmt.Errorf("%s: not a URL", name)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%s: %q is not an http:// or https:// URL", name, redactURL(v))
	}
	return nil
}

// redactURL returns v fit to print: the password (or a user name given
// alone, often a token) and every query value replaced by xxxxx, as
// url.URL.Redacted does for passwords; a value that is not a URL is not
// printed at all.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "[REDACTED: not a URL]"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); !ok {
			u.User = url.User("xxxxx")
		}
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			if k, _, ok := strings.Cut(p, "="); ok {
				parts[i] = k + "=xxxxx"
			} else if p != "" {
				parts[i] = "xxxxx" // a bare value: a token, maybe
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	u.Fragment, u.RawFragment = "", ""
	return u.Redacted()
}
