package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// environOf is the os.Environ() of env.
func environOf(env map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

func check(env map[string]string) Report { return Check(lookupFrom(env), environOf(env)) }

const (
	testARN  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hec-token"
	testARN2 = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys"
)

// everySink configures every sink, correctly.
// writeTemp writes content to a file of its own and returns its path.
func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "openapi.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func everySink() map[string]string {
	return map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "orders-api", "AWS_REGION": "eu-west-1",
		"AUDITTRAIL_SINKS":    "stdout,file,http,splunk,elasticsearch,datadog,otlp,s3",
		"AUDITTRAIL_FILE_DIR": "/tmp/trail",
		"AUDITTRAIL_HTTP_URL": "https://vector.example.com/in", "AUDITTRAIL_HTTP_COMPRESSION": "zstd",
		"AUDITTRAIL_HTTP_AUTHORIZATION_SSM_PARAMETER": "/audittrail/http-auth",
		"AUDITTRAIL_SPLUNK_URL":                       "https://hec.example.com:8088", "AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN": testARN,
		"AUDITTRAIL_SPLUNK_INDEX": "audit", "AUDITTRAIL_SPLUNK_ACK": "on",
		"AUDITTRAIL_ELASTICSEARCH_URL": "https://es.example.com:9243", "AUDITTRAIL_ELASTICSEARCH_USERNAME": "writer",
		"AUDITTRAIL_ELASTICSEARCH_PASSWORD": "es-password-1",
		"AUDITTRAIL_DATADOG_SITE":           "datadoghq.eu", "AUDITTRAIL_DATADOG_API_KEY": "dd-key-1", "AUDITTRAIL_DATADOG_TAGS": "env:prod",
		"AUDITTRAIL_OTLP_ENDPOINT": "https://otel.example.com:4318/v1/logs", "AUDITTRAIL_OTLP_HEADERS": "api-key=otlp-1",
		"AUDITTRAIL_S3_BUCKET": "archive", "AUDITTRAIL_S3_COMPRESSION": "zstd",
	}
}

// with returns base with kv (name, value, ...) set on top.
func with(base map[string]string, kv ...string) map[string]string {
	m := maps.Clone(base)
	if m == nil {
		m = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func sinkOfReport(r Report, name string) Settings {
	for _, s := range r.Config.Sinks {
		if s.Name == name {
			return s.Settings
		}
	}
	return nil
}

func TestCheck(t *testing.T) {
	splunk := map[string]string{"AUDITTRAIL_SINKS": "splunk", "AUDITTRAIL_SPLUNK_URL": "https://hec:8088"}
	tests := []struct {
		name string
		env  map[string]string
		// Every problem, as substrings of their messages, errors first.
		errors, warnings []string
		check            func(t *testing.T, r Report)
	}{
		{
			name:     "defaults",
			env:      map[string]string{},
			warnings: []string{"AUDITTRAIL_SINKS: not set, so records go only to stdout (CloudWatch Logs)"},
			check: func(t *testing.T, r Report) {
				want := Effective{
					Sinks: []EffectiveSink{{Name: "stdout", Settings: Settings{}}}, DisabledSinks: []string{},
					Flush: "adaptive", FlushBudget: "50ms", QueueBytes: 4 << 20, SpoolDir: "/tmp/audittrail/spool", SpoolBytes: 64 << 20,
					TelemetryTypes: []string{"platform"}, Proxy: true, CaptureBytes: 1 << 20,
					RedactQuery: []string{}, AllowQuery: []string{}, RecordHeaders: []string{},
					Pseudonyms: "off", Chain: ChainPlain, LogLevel: "info",
					Detectors:       []string{"auth_failure_burst", "gateway_bypass", "sensitive_data_exposure", "injection_attempt", "anomaly"},
					ExpectedSources: []string{}, FindingRecords: true,
				}
				if !reflect.DeepEqual(r.Config, want) {
					t.Errorf("config\n%+v, want\n%+v", r.Config, want)
				}
			},
		},
		{
			name: "every option set",
			env: map[string]string{
				"AUDITTRAIL_SINKS": "s3", "AUDITTRAIL_S3_BUCKET": "b", "AUDITTRAIL_S3_REGION": "us-east-1", "TMPDIR": "/t",
				"AUDITTRAIL_FLUSH": "periodic:2s", "AUDITTRAIL_FLUSH_BUDGET": "20ms", "AUDITTRAIL_QUEUE_BYTES": "100000",
				"AUDITTRAIL_SPOOL_BYTES": "1048576", "AUDITTRAIL_TELEMETRY_TYPES": "platform,function",
				"AUDITTRAIL_RUNTIME_API_UPSTREAM": "127.0.0.1:9009", "AUDITTRAIL_CAPTURE_BYTES": "4096",
				"AUDITTRAIL_REDACT_QUERY": "email", "AUDITTRAIL_ALLOW_QUERY": "code", "AUDITTRAIL_RECORD_HEADERS": "x-request-id",
				"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": testARN2, "AUDITTRAIL_CHAIN_KEY": "0123456789abcdef-chain",
				"AUDITTRAIL_CA_BUNDLE": "/opt/ca.pem", "AUDITTRAIL_LOG_LEVEL": "WARN",
			},
			check: func(t *testing.T, r Report) {
				c := r.Config
				if c.Flush != "periodic:2s" || c.FlushBudget != "20ms" || c.QueueBytes != 100000 || c.SpoolDir != "/t/audittrail/spool" ||
					c.SpoolBytes != 1<<20 || !slices.Equal(c.TelemetryTypes, []string{"platform", "function"}) || c.Upstream != "127.0.0.1:9009" ||
					c.CaptureBytes != 4096 || !slices.Equal(c.RedactQuery, []string{"email"}) || !slices.Equal(c.AllowQuery, []string{"code"}) ||
					!slices.Equal(c.RecordHeaders, []string{"x-request-id"}) || c.Pseudonyms != "on" || c.PseudonymKey != "secretsmanager:"+testARN2 ||
					c.Chain != ChainKeyed || c.ChainKey != "[REDACTED]" || c.CABundle != "/opt/ca.pem" || c.LogLevel != "warn" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "every sink configured: no problem",
			env:  everySink(),
			check: func(t *testing.T, r Report) {
				var names []string
				for _, s := range r.Config.Sinks {
					names = append(names, s.Name)
				}
				if !slices.Equal(names, []string{"stdout", "file", "http", "splunk", "elasticsearch", "datadog", "otlp", "s3"}) {
					t.Errorf("sinks %v", names)
				}
				want := map[string]Settings{
					"stdout": {},
					"file":   {{"dir", "/tmp/trail"}},
					"http":   {{"url", "https://vector.example.com/in"}, {"compression", "zstd"}, {"authorization", "ssm:/audittrail/http-auth"}},
					"splunk": {{"url", "https://hec.example.com:8088"}, {"token", "secretsmanager:" + testARN}, {"index", "audit"},
						{"source", "audittrail"}, {"sourcetype", "audittrail"}, {"host", "orders-api"}, {"ack", "on"}},
					"elasticsearch": {{"url", "https://es.example.com:9243"}, {"data_stream", "logs-audittrail-default"}, {"api_key", ""},
						{"username", "writer"}, {"password", "[REDACTED]"}, {"aws_sigv4", ""}},
					"datadog": {{"site", "datadoghq.eu"}, {"url", ""}, {"api_key", "[REDACTED]"}, {"service", "orders-api"}, {"tags", "env:prod"}},
					"otlp":    {{"endpoint", "https://otel.example.com:4318/v1/logs"}, {"headers", "[REDACTED]"}, {"compression", "gzip"}},
					"s3":      {{"bucket", "archive"}, {"prefix", "audittrail/"}, {"region", "eu-west-1"}, {"compression", "zstd"}, {"endpoint", ""}},
				}
				for name, w := range want {
					if got := sinkOfReport(r, name); !slices.Equal(got, w) {
						t.Errorf("%s settings\n%v, want\n%v", name, got, w)
					}
				}
			},
		},
		{
			name: "typos: unknown variables, each with the closest name",
			env: with(splunk, "AUDITTRAIL_SPLUNK_TOKN", "t0ken", "AUDITTRAIL_CHAIN_KYE", "k", "audittrail_log_level", "debug",
				"AUDITRAIL_FLUSH", "end", "AUDITTRAIL_BANANA", "1", "AUDITTRAIL_SINKS", "splunkk,splunk"),
			errors: []string{
				`AUDITTRAIL_SINKS: unknown sink "splunkk"`,
				"sink splunk disabled: AUDITTRAIL_SPLUNK_TOKEN: required by the splunk sink",
				"AUDITRAIL_FLUSH: unknown variable, ignored; did you mean AUDITTRAIL_FLUSH?",
				"AUDITTRAIL_BANANA: unknown variable, ignored (the README's Configuration section lists them all)",
				"AUDITTRAIL_CHAIN_KYE: unknown variable, ignored; did you mean AUDITTRAIL_CHAIN_KEY?",
				"AUDITTRAIL_SPLUNK_TOKN: unknown variable, ignored; did you mean AUDITTRAIL_SPLUNK_TOKEN?",
				"audittrail_log_level: unknown variable, ignored; did you mean AUDITTRAIL_LOG_LEVEL? (names are case-sensitive)",
			},
			warnings: []string{"AUDITTRAIL_SINKS: no SIEM or archive sink asked for can run, so records go only to stdout"},
			check: func(t *testing.T, r Report) {
				if !slices.Equal(r.Config.DisabledSinks, []string{"splunkk", "splunk"}) {
					t.Errorf("disabled sinks %v", r.Config.DisabledSinks)
				}
				p := r.Problems[5]
				if p.Variable != "AUDITTRAIL_SPLUNK_TOKN" || p.Suggestion != "AUDITTRAIL_SPLUNK_TOKEN" {
					t.Errorf("problem %+v", p)
				}
				if p := r.Problems[1]; p.Variable != "AUDITTRAIL_SPLUNK_TOKEN" {
					t.Errorf("a disabled sink's problem names %q", p.Variable)
				}
			},
		},
		{
			name: "secret values: masked",
			env:  with(splunk, "AUDITTRAIL_SPLUNK_TOKEN", "t0ken", "AUDITTRAIL_PSEUDONYMIZE_KEY", "0123456789abcdef", "AUDITTRAIL_CHAIN_KEY", "0123456789abcdef"),
			check: func(t *testing.T, r Report) {
				if got := sinkOfReport(r, "splunk").Get("token"); got != "[REDACTED]" || r.Config.PseudonymKey != "[REDACTED]" || r.Config.ChainKey != "[REDACTED]" {
					t.Errorf("token %q, pseudonym key %q, chain key %q", got, r.Config.PseudonymKey, r.Config.ChainKey)
				}
			},
		},
		{
			name: "secrets from Secrets Manager",
			env:  with(splunk, "AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN", testARN, "AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN", testARN2, "AUDITTRAIL_CHAIN_KEY_SECRET_ARN", testARN2),
			check: func(t *testing.T, r Report) {
				if got := sinkOfReport(r, "splunk").Get("token"); got != "secretsmanager:"+testARN || r.Config.PseudonymKey != "secretsmanager:"+testARN2 ||
					r.Config.ChainKey != "secretsmanager:"+testARN2 || r.Config.Chain != ChainKeyed || r.Config.Pseudonyms != "on" {
					t.Errorf("token %q, config %+v", got, r.Config)
				}
			},
		},
		{
			name: "secrets from SSM",
			env:  with(splunk, "AUDITTRAIL_SPLUNK_TOKEN_SSM_PARAMETER", "/hec/token"),
			check: func(t *testing.T, r Report) {
				if got := sinkOfReport(r, "splunk").Get("token"); got != "ssm:/hec/token" {
					t.Errorf("token %q", got)
				}
			},
		},
		{
			name:   "a secret given two ways: the one the extension uses is shown",
			env:    with(splunk, "AUDITTRAIL_SPLUNK_TOKEN", "t0ken", "AUDITTRAIL_SPLUNK_TOKEN_SSM_PARAMETER", "/hec/token"),
			errors: []string{"AUDITTRAIL_SPLUNK_TOKEN: set only one of AUDITTRAIL_SPLUNK_TOKEN, AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN and AUDITTRAIL_SPLUNK_TOKEN_SSM_PARAMETER"},
			check: func(t *testing.T, r Report) {
				if got := sinkOfReport(r, "splunk").Get("token"); got != "ssm:/hec/token" {
					t.Errorf("token %q", got)
				}
			},
		},
		{
			name: "keys given two ways, a bad pseudonym key ARN",
			env:  map[string]string{"AUDITTRAIL_SINKS": "s3", "AUDITTRAIL_S3_BUCKET": "b", "AUDITTRAIL_S3_REGION": "eu-west-1", "AUDITTRAIL_CHAIN_KEY": "0123456789abcdef", "AUDITTRAIL_CHAIN_KEY_SECRET_ARN": testARN2, "AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": "my-key"},
			errors: []string{"AUDITTRAIL_CHAIN_KEY_SECRET_ARN: conflicts with AUDITTRAIL_CHAIN_KEY; set one",
				`AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN: secrets: "my-key" is not a Secrets Manager secret ARN`},
			check: func(t *testing.T, r Report) {
				if c := r.Config; c.ChainKey != "secretsmanager:"+testARN2 || c.Pseudonyms != "redact" || c.PseudonymKey != "" {
					t.Errorf("config %+v", c)
				}
			},
		},
		{
			name: "conflicting and unused settings",
			env: with(everySink(),
				"AUDITTRAIL_ELASTICSEARCH_API_KEY", "es-key", // and basic authentication
				"AUDITTRAIL_DATADOG_URL", "https://dd-proxy.example.com/api/v2/logs", // and a site
				"DD_API_KEY", "another-key", "DD_SITE", "datadoghq.com",
				"OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318", "OTEL_EXPORTER_OTLP_HEADERS", "x=y",
				"AUDITTRAIL_HTTP_URL", "http://vector.internal:8080/in",
				"AUDITTRAIL_REDACT_QUERY", "email", "AUDITTRAIL_ALLOW_QUERY", "user_email", "AUDITTRAIL_PROXY", "off",
				"AUDITTRAIL_SPOOL_BYTES", "0", "AUDITTRAIL_SPOOL_DIR", "/tmp/spool",
				"AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances", "AUDITTRAIL_FLUSH", "end",
				"AUDITTRAIL_SINKS", "stdout,file,http,elasticsearch,datadog,otlp"), // not splunk, s3
			errors: []string{
				"sink elasticsearch disabled: AUDITTRAIL_ELASTICSEARCH_API_KEY: choose one of an API key, a username and password, or AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4",
				`AUDITTRAIL_ALLOW_QUERY: "user_email" keeps in clear a parameter AUDITTRAIL_REDACT_QUERY redacts ("email")`,
			},
			warnings: []string{
				"AUDITTRAIL_SINKS: splunk is not listed, so AUDITTRAIL_SPLUNK_URL, AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN, AUDITTRAIL_SPLUNK_INDEX, AUDITTRAIL_SPLUNK_ACK are ignored",
				"AUDITTRAIL_SINKS: s3 is not listed, so AUDITTRAIL_S3_BUCKET, AUDITTRAIL_S3_COMPRESSION are ignored",
				"DD_API_KEY: ignored by the datadog sink: AUDITTRAIL_DATADOG_API_KEY is set",
				"DD_SITE: ignored by the datadog sink: AUDITTRAIL_DATADOG_SITE is set",
				"AUDITTRAIL_DATADOG_SITE: ignored: AUDITTRAIL_DATADOG_URL is set",
				"OTEL_EXPORTER_OTLP_ENDPOINT: ignored by the otlp sink: AUDITTRAIL_OTLP_ENDPOINT is set",
				"OTEL_EXPORTER_OTLP_HEADERS: ignored by the otlp sink: AUDITTRAIL_OTLP_HEADERS is set",
				"AUDITTRAIL_HTTP_URL: http:// sends the Authorization header unencrypted; use https://",
				"AUDITTRAIL_PROXY: off, so nothing is captured and AUDITTRAIL_REDACT_QUERY, AUDITTRAIL_ALLOW_QUERY are ignored",
				"AUDITTRAIL_SPOOL_DIR: ignored: AUDITTRAIL_SPOOL_BYTES=0 turns the spool off",
				"AWS_LAMBDA_INITIALIZATION_TYPE: on Lambda Managed Instances delivery runs in the background every 200ms, so AUDITTRAIL_FLUSH is ignored",
				"AUDITTRAIL_PROXY: off, so the detectors see no requests or responses",
			},
			check: func(t *testing.T, r Report) {
				if !slices.Equal(r.Config.DisabledSinks, []string{"elasticsearch"}) || r.Config.SpoolDir != "" || r.Config.Proxy {
					t.Errorf("config %+v", r.Config)
				}
			},
		},
		{
			name:     "other tools' variables agreeing with ours, or for a sink not used: no problem",
			env:      with(everySink(), "DD_API_KEY", "dd-key-1", "DD_SITE", "DatadogHQ.eu", "OTEL_EXPORTER_OTLP_HEADERS", "api-key=otlp-1", "OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example.com:4318"),
			warnings: []string{"OTEL_EXPORTER_OTLP_ENDPOINT: ignored by the otlp sink"}, // ours says /v1/logs, theirs the base: they differ
		},
		{
			name:     "stdout and file only",
			env:      map[string]string{"AUDITTRAIL_SINKS": "file,stdout"},
			warnings: []string{"AUDITTRAIL_SINKS: no SIEM or archive sink, so records go only to stdout (CloudWatch Logs) and the file store in /tmp (lost with the environment)"},
		},
		{
			name:     "detectors: off, with settings that then do nothing",
			env:      with(everySink(), "AUDITTRAIL_DETECT", "off", "AUDITTRAIL_EXPECTED_SOURCES", "apigateway-http"),
			warnings: []string{"AUDITTRAIL_DETECT: off, so AUDITTRAIL_EXPECTED_SOURCES is ignored"},
			check: func(t *testing.T, r Report) {
				if len(r.Config.Detectors) != 0 {
					t.Errorf("detectors %v, want none", r.Config.Detectors)
				}
			},
		},
		{
			name:   "detectors: an OpenAPI description that cannot be used, a bad setting",
			env:    with(everySink(), "AUDITTRAIL_OPENAPI_SPEC", writeTemp(t, "swagger: \"2.0\"\npaths: {}\n"), "AUDITTRAIL_AUTH_FAILURE_WINDOW", "often"),
			errors: []string{`AUDITTRAIL_AUTH_FAILURE_WINDOW: "often" is not a positive duration`, "Swagger 2.0 is not supported; convert to OpenAPI 3"},
			check: func(t *testing.T, r Report) {
				if !slices.Contains(r.Config.Detectors, "undocumented_route") || r.Config.OpenAPISpec == "" {
					t.Errorf("detectors %v, spec %q: want undocumented_route on with the spec named", r.Config.Detectors, r.Config.OpenAPISpec)
				}
			},
		},
		{
			name: "bad values: each an error, the default shown",
			env: map[string]string{"AUDITTRAIL_SINKS": "s3", "AUDITTRAIL_S3_BUCKET": "b", "AUDITTRAIL_S3_REGION": "eu-west-1",
				"AUDITTRAIL_FLUSH": "sometimes", "AUDITTRAIL_QUEUE_BYTES": "lots", "AUDITTRAIL_PROXY": "maybe", "AUDITTRAIL_RECORD_HEADERS": "authorization,x-id"},
			errors: []string{`AUDITTRAIL_QUEUE_BYTES: "lots" is not a number of bytes`, `AUDITTRAIL_FLUSH: "sometimes" is not`,
				`AUDITTRAIL_PROXY: "maybe" is not on or off`, `AUDITTRAIL_RECORD_HEADERS: header "authorization" may carry a secret`},
			check: func(t *testing.T, r Report) {
				if c := r.Config; c.Flush != "adaptive" || c.QueueBytes != 4<<20 || !c.Proxy || !slices.Equal(c.RecordHeaders, []string{"x-id"}) {
					t.Errorf("config %+v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(tt.env)
			want := append(slices.Clone(tt.errors), tt.warnings...)
			if len(r.Problems) != len(want) || r.Errors != len(tt.errors) || r.Warnings != len(tt.warnings) {
				t.Errorf("%d errors, %d warnings, want %d, %d:\n%s", r.Errors, r.Warnings, len(tt.errors), len(tt.warnings), messages(r))
			}
			for i, p := range r.Problems {
				wantSev := SeverityError
				if i >= len(tt.errors) {
					wantSev = SeverityWarning
				}
				if p.Severity != wantSev {
					t.Errorf("problem %d %q is a %s, want a %s", i, p.Message, p.Severity, wantSev)
				}
			}
			for _, w := range want {
				if !slices.ContainsFunc(r.Problems, func(p Problem) bool { return strings.Contains(p.Message, w) }) {
					t.Errorf("no problem says %q:\n%s", w, messages(r))
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func messages(r Report) string {
	var b strings.Builder
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  %s  %s\n", p.Severity, p.Message)
	}
	return b.String()
}

// TestCheckProblemsAreFromEnvs: check reports what the extension logs, one
// problem per line of FromEnv's error.
func TestCheckProblemsAreFromEnvs(t *testing.T) {
	env := map[string]string{"AUDITTRAIL_SINKS": "splunk,elasticsearch,datadog,otlp,s3,http", "AUDITTRAIL_SPLUNK_URL": "hec:8088",
		"AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4": "gcp", "AUDITTRAIL_QUEUE_BYTES": "1"}
	_, err := FromEnv(lookupFrom(env))
	var got []string
	for _, p := range check(env).Problems {
		if p.Severity == SeverityError {
			got = append(got, p.Message)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(got) != len(lines) {
		t.Fatalf("%d problems, FromEnv has %d lines:\n%s\n%s", len(got), len(lines), strings.Join(got, "\n"), err)
	}
	for i, line := range lines {
		if !strings.HasSuffix(got[i], line) {
			t.Errorf("problem %q does not end with FromEnv's line %q", got[i], line)
		}
		if v := variableOf(got[i]); v == "" || !strings.Contains(got[i], v+": ") {
			t.Errorf("problem %q names no variable", got[i])
		}
	}
}

func TestUnknownVariables(t *testing.T) {
	tests := []struct {
		entry string
		want  string // the whole message; "" for no problem
	}{
		{"AUDITTRAIL_SPLUNK_TOKN=abc", "AUDITTRAIL_SPLUNK_TOKN: unknown variable, ignored; did you mean AUDITTRAIL_SPLUNK_TOKEN?"},
		{"AUDITTRAIL_SINK=splunk", "AUDITTRAIL_SINK: unknown variable, ignored; did you mean AUDITTRAIL_SINKS?"},
		{"AUDITTRAIL_CHAIN_KYE=k", "AUDITTRAIL_CHAIN_KYE: unknown variable, ignored; did you mean AUDITTRAIL_CHAIN_KEY?"},
		{"AUDITTRAIL_SPLUNK_HEC_TOKEN=t", "AUDITTRAIL_SPLUNK_HEC_TOKEN: unknown variable, ignored; did you mean AUDITTRAIL_SPLUNK_TOKEN?"},
		{"AUDITTRAIL_DATADOG_APIKEY_SECRET_ARN=a", "AUDITTRAIL_DATADOG_APIKEY_SECRET_ARN: unknown variable, ignored; did you mean AUDITTRAIL_DATADOG_API_KEY_SECRET_ARN?"},
		{"Audittrail_Sinks=s3", "Audittrail_Sinks: unknown variable, ignored; did you mean AUDITTRAIL_SINKS? (names are case-sensitive)"},
		{"AUDITRAIL_SINKS=s3", "AUDITRAIL_SINKS: unknown variable, ignored; did you mean AUDITTRAIL_SINKS?"},
		{"AUDIT_TRAIL_PROXY=off", "AUDIT_TRAIL_PROXY: unknown variable, ignored; did you mean AUDITTRAIL_PROXY?"},
		{"AUDITTRAIL_BANANA=1", "AUDITTRAIL_BANANA: unknown variable, ignored (the README's Configuration section lists them all)"},
		{"AUDITTRAIL_=1", "AUDITTRAIL_: unknown variable, ignored (the README's Configuration section lists them all)"},
		{"AUDITTRAIL_X Y=1", `"AUDITTRAIL_X Y": unknown variable, ignored (the README's Configuration section lists them all)`},
		{"AUDITTRAIL_SINKS=s3", ""},
		{"AUDITTRAIL_SPLUNK_TOKEN_SSM_PARAMETER=/x", ""},
		{"DD_API_KEY=k", ""},
		{"OTEL_EXPORTER_OTLP_ENDPOINT=http://x", ""},
		{"PATH=/usr/bin", ""},
		{"AWS_CLOUDTRAIL_TRAIL=t", ""},
		{"MY_AUDIT_LOG=/var/log", ""},
		{"=C:=C:\\", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			errs := UnknownVariables([]string{tt.entry})
			switch {
			case tt.want == "" && len(errs) != 0:
				t.Errorf("reported: %v", errs)
			case tt.want != "" && (len(errs) != 1 || errs[0].Error() != tt.want):
				t.Errorf("got %v\nwant %q", errs, tt.want)
			}
		})
	}
}

func TestUnknownVariablesOnceEachSorted(t *testing.T) {
	errs := UnknownVariables([]string{"AUDITTRAIL_Z=1", "AUDITTRAIL_A=secret-value", "AUDITTRAIL_Z=2", "PATH=/bin"})
	if len(errs) != 2 || !strings.HasPrefix(errs[0].Error(), "AUDITTRAIL_A:") || !strings.HasPrefix(errs[1].Error(), "AUDITTRAIL_Z:") {
		t.Errorf("errors %v", errs)
	}
	if strings.Contains(fmt.Sprint(errs), "secret-value") {
		t.Error("a value is printed")
	}
}

func TestFromEnviron(t *testing.T) {
	env := map[string]string{"AUDITTRAIL_SINKS": "file", "AUDITTRAIL_FILE_DIRR": "/x", "AUDITTRAIL_QUEUE_BYTES": "lots"}
	c, err := FromEnviron(lookupFrom(env), environOf(env))
	c2, _ := FromEnv(lookupFrom(env))
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("config %+v, FromEnv's %+v", c, c2)
	}
	if err == nil || !strings.Contains(err.Error(), "AUDITTRAIL_QUEUE_BYTES") || !strings.Contains(err.Error(), "did you mean AUDITTRAIL_FILE_DIR?") {
		t.Errorf("err = %v", err)
	}
	if _, err := FromEnviron(lookupFrom(nil), []string{"HOME=/root"}); err != nil {
		t.Errorf("clean environment: %v", err)
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"KEY", "KEY", 0}, {"KEY", "KYE", 1}, {"TOKN", "TOKEN", 1},
		{"kitten", "sitting", 3}, {"CA", "ABC", 3}, {"AB", "BA", 1},
	}
	for _, tt := range tests {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := distance(tt.b, tt.a); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hec.example.com:8088", "https://hec.example.com:8088"},
		{"https://u:hunter2@es.example.com/", "https://u:xxxxx@es.example.com/"},
		{"https://t0ken@es.example.com/", "https://xxxxx@es.example.com/"},
		{"https://dd.example.com/v2?dd-api-key=s3cret&a=1&bare", "https://dd.example.com/v2?dd-api-key=xxxxx&a=xxxxx&xxxxx"},
		{"https://x.example.com/#s3cret", "https://x.example.com/"},
		{"https://x.example.com/\x7f", "[REDACTED: not a URL]"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecretRefNeverPrintsItsValue(t *testing.T) {
	tests := []struct {
		ref  SecretRef
		want string
	}{
		{SecretRef{}, ""},
		{SecretRef{Value: "v4lue"}, "[REDACTED]"},
		{SecretRef{SecretARN: testARN}, "secretsmanager:" + testARN},
		{SecretRef{SSMParameter: "/p"}, "ssm:/p"},
		// Given several ways (an error FromEnv reports), the one the
		// extension uses.
		{SecretRef{Value: "v4lue", SSMParameter: "/p"}, "ssm:/p"},
		{SecretRef{Value: "v4lue", SecretARN: testARN, SSMParameter: "/p"}, "secretsmanager:" + testARN},
	}
	for _, tt := range tests {
		j, err := json.Marshal(struct{ S SecretRef }{tt.ref})
		wantJSON, _ := json.Marshal(struct{ S string }{tt.want})
		if got := fmt.Sprintf("%v|%+v|%#v|%s", tt.ref, tt.ref, tt.ref, tt.ref); got != strings.Repeat(tt.want+"|", 3)+tt.want {
			t.Errorf("printed %q, want %q", got, tt.want)
		}
		if err != nil || string(j) != string(wantJSON) {
			t.Errorf("JSON %s, %v; want %s", j, err, wantJSON)
		}
	}
}

func TestSettingsJSON(t *testing.T) {
	s := Settings{{"url", "https://x"}, {"b", `"quoted"`}, {"a", ""}}
	j, err := json.Marshal(s)
	if err != nil || string(j) != `{"url":"https://x","b":"\"quoted\"","a":""}` {
		t.Fatalf("JSON %s, %v", j, err)
	}
	var back Settings
	if err := json.Unmarshal(j, &back); err != nil || !slices.Equal(back, s) {
		t.Errorf("read back %v, %v", back, err)
	}
	for _, bad := range []string{`[]`, `{"a":1}`, `"x"`, `{"a":`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzUnknownVariables: any environment entry is handled without a panic,
// and the value never matters: the same name with any value gives the same
// report.
func FuzzUnknownVariables(f *testing.F) {
	f.Add("AUDITTRAIL_SPLUNK_TOKN", "s3cret")
	f.Add("audittrail_sinks", "splunk")
	f.Add("", "=")
	f.Add("AUDIT\xff", "\x00")
	f.Fuzz(func(t *testing.T, name, value string) {
		if strings.Contains(name, "=") {
			return // not a name
		}
		without := fmt.Sprint(UnknownVariables([]string{name + "="}))
		if with := fmt.Sprint(UnknownVariables([]string{name + "=" + value})); with != without {
			t.Errorf("the value changed the report: %s, without it %s", with, without)
		}
	})
}

// BenchmarkUnknownVariables: the cost at the extension's start-up, for a
// function's usual environment (Lambda's variables, a few of ours, one
// typo).
func BenchmarkUnknownVariables(b *testing.B) {
	environ := []string{
		"AWS_LAMBDA_FUNCTION_NAME=orders-api", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/orders-api", "AWS_LAMBDA_LOG_STREAM_NAME=2026/12/01/[$LATEST]abc", "AWS_REGION=eu-west-1",
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001",
		"AWS_ACCESS_KEY_ID=AKIA", "AWS_SECRET_ACCESS_KEY=x", "AWS_SESSION_TOKEN=x", "AWS_XRAY_DAEMON_ADDRESS=169.254.79.129:2000",
		"_HANDLER=bootstrap", "LANG=en_US.UTF-8", "LD_LIBRARY_PATH=/lib64:/usr/lib64", "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"TZ=:UTC", "LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime", "AWS_LAMBDA_EXEC_WRAPPER=/opt/audittrail-wrapper",
		"AUDITTRAIL_SINKS=splunk,s3", "AUDITTRAIL_SPLUNK_URL=https://hec:8088", "AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN=" + testARN,
		"AUDITTRAIL_S3_BUCKET=archive", "AUDITTRAIL_FLUSH=end", "AUDITTRAIL_SPLUNK_INDX=audit", "DB_URL=postgres://db", "STAGE=prod",
	}
	for b.Loop() {
		if len(UnknownVariables(environ)) != 1 {
			b.Fatal("want the one typo")
		}
	}
}

// TestDistanceExhaustive checks distance, which skips what both ends share,
// against the textbook table over every pair of short strings.
func TestDistanceExhaustive(t *testing.T) {
	var words []string
	var grow func(string)
	grow = func(w string) {
		words = append(words, w)
		if len(w) < 5 {
			for _, c := range "abc" {
				grow(w + string(c))
			}
		}
	}
	grow("")
	for _, a := range words {
		for _, b := range words {
			if got, want := distance(a, b), textbookOSA(a, b); got != want {
				t.Fatalf("distance(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func textbookOSA(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
