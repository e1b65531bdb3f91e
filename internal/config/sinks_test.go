package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSinkSettings(t *testing.T) {
	base := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "orders-api", "AWS_REGION": "eu-west-1"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		sinks   []string // enabled after sanitizing
		wantErr []string
		check   func(t *testing.T, c Config)
	}{
		{"splunk", with("AUDITTRAIL_SINKS", "splunk", "AUDITTRAIL_SPLUNK_URL", "https://hec:8088", "AUDITTRAIL_SPLUNK_TOKEN_SSM_PARAMETER", "/hec/token", "AUDITTRAIL_SPLUNK_ACK", "on"),
			[]string{"splunk"}, nil, func(t *testing.T, c Config) {
				if s := c.Splunk; !s.Ack || s.Token.SSMParameter != "/hec/token" || s.Host != "orders-api" || s.Sourcetype != "audittrail" || s.Token.String() != "ssm:/hec/token" {
					t.Errorf("splunk = %+v", s)
				}
			}},
		{"splunk without a token", with("AUDITTRAIL_SINKS", "splunk,file", "AUDITTRAIL_SPLUNK_URL", "https://hec:8088"),
			[]string{"file"}, []string{"sink splunk disabled: AUDITTRAIL_SPLUNK_TOKEN: required"}, nil},
		{"a secret given twice", with("AUDITTRAIL_SINKS", "splunk", "AUDITTRAIL_SPLUNK_URL", "https://hec:8088", "AUDITTRAIL_SPLUNK_TOKEN", "t",
			"AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:x"), []string{"splunk"},
			[]string{"AUDITTRAIL_SPLUNK_TOKEN: set only one of"}, nil},
		{"elasticsearch with sigv4", with("AUDITTRAIL_SINKS", "elasticsearch", "AUDITTRAIL_ELASTICSEARCH_URL", "https://search-x.eu-west-1.es.amazonaws.com", "AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4", "ES"),
			[]string{"elasticsearch"}, nil, func(t *testing.T, c Config) {
				if c.Elasticsearch.SigV4 != "es" || c.Elasticsearch.DataStream != "logs-audittrail-default" {
					t.Errorf("elasticsearch = %+v", c.Elasticsearch)
				}
			}},
		{"elasticsearch: two kinds of auth, half a basic one", with("AUDITTRAIL_SINKS", "elasticsearch", "AUDITTRAIL_ELASTICSEARCH_URL", "http://es:9200",
			"AUDITTRAIL_ELASTICSEARCH_API_KEY", "k", "AUDITTRAIL_ELASTICSEARCH_USERNAME", "u"), []string{"stdout"},
			[]string{"choose one of an API key", "needs both the username"}, nil},
		{"datadog from DD_ variables", with("AUDITTRAIL_SINKS", "datadog", "DD_API_KEY", "dd-key", "DD_SITE", "datadoghq.eu"),
			[]string{"datadog"}, nil, func(t *testing.T, c Config) {
				if d := c.Datadog; d.APIKey.Value != "dd-key" || d.Site != "datadoghq.eu" || d.Service != "orders-api" || fmt.Sprintf("%v %#v", d.APIKey, d.APIKey) != "[REDACTED] [REDACTED]" {
					t.Errorf("datadog = %v", d)
				}
			}},
		{"datadog: ours win", with("AUDITTRAIL_SINKS", "datadog", "DD_API_KEY", "dd-key", "AUDITTRAIL_DATADOG_API_KEY_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:dd", "DD_SITE", "datadoghq.eu", "AUDITTRAIL_DATADOG_SITE", "us5.datadoghq.com"),
			[]string{"datadog"}, nil, func(t *testing.T, c Config) {
				if d := c.Datadog; d.APIKey.Value != "" || d.APIKey.SecretARN == "" || d.Site != "us5.datadoghq.com" {
					t.Errorf("datadog = %v", d)
				}
			}},
		{"otlp from OTEL_ variables", with("AUDITTRAIL_SINKS", "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", "OTEL_EXPORTER_OTLP_HEADERS", "api-key=x", "OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
			[]string{"otlp"}, nil, func(t *testing.T, c Config) {
				if o := c.OTLP; o.Endpoint != "http://collector:4318/v1/logs" || o.Headers.Value != "api-key=x" || o.Compression != "none" {
					t.Errorf("otlp = %+v", o)
				}
			}},
		{"otlp: the logs endpoint as is", with("AUDITTRAIL_SINKS", "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://b:4318/custom"),
			[]string{"otlp"}, nil, func(t *testing.T, c Config) {
				if c.OTLP.Endpoint != "http://b:4318/custom" {
					t.Errorf("endpoint %s", c.OTLP.Endpoint)
				}
			}},
		{"s3", with("AUDITTRAIL_SINKS", "s3", "AUDITTRAIL_S3_BUCKET", "trail", "AUDITTRAIL_S3_COMPRESSION", "zstd"),
			[]string{"s3"}, nil, func(t *testing.T, c Config) {
				if s := c.S3; s.Region != "eu-west-1" || s.Prefix != "audittrail/" || s.Compression != "zstd" {
					t.Errorf("s3 = %+v", s)
				}
			}},
		{"every sink misconfigured: each says why", with("AUDITTRAIL_SINKS", "splunk,elasticsearch,datadog,otlp,s3,http", "AUDITTRAIL_SPLUNK_URL", "hec:8088",
			"AUDITTRAIL_ELASTICSEARCH_URL", "https://u:hunter2@es", "AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4", "gcp", "AUDITTRAIL_OTLP_COMPRESSION", "zstd", "AUDITTRAIL_S3_COMPRESSION", "lz4"),
			[]string{"stdout"}, []string{"AUDITTRAIL_SPLUNK_URL", "AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4", "AUDITTRAIL_DATADOG_API_KEY", "AUDITTRAIL_OTLP_ENDPOINT", "AUDITTRAIL_OTLP_COMPRESSION",
				"AUDITTRAIL_S3_BUCKET", "AUDITTRAIL_S3_COMPRESSION", "AUDITTRAIL_HTTP_URL"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(lookupFrom(tt.env))
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want %q", err, w)
				}
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Error("an error shows a password")
			}
			if !slices.Equal(c.Sinks, tt.sinks) {
				t.Errorf("sinks %v, want %v", c.Sinks, tt.sinks)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("sanitized config does not validate: %v", err)
			}
		})
	}
}
