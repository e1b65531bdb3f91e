package config

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr []string
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Sinks, []string{"stdout"}) || c.FileDir != "/tmp/audittrail/trail" ||
					!slices.Equal(c.TelemetryTypes, []string{"platform"}) || c.QueueBytes != 4<<20 || c.LogLevel != slog.LevelInfo || c.LogRecords() {
					t.Errorf("defaults = %+v", c)
				}
			},
		},
		{
			name: "all set",
			env: map[string]string{
				"AUDITTRAIL_SINKS": " File , stdout,file", "AUDITTRAIL_FILE_DIR": "/x", "AUDITTRAIL_TELEMETRY_TYPES": "platform,function",
				"AUDITTRAIL_QUEUE_BYTES": "100000", "AUDITTRAIL_LOG_LEVEL": "debug", "TMPDIR": "/t",
				"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_INITIALIZATION_TYPE": "lambda-managed-instances",
			},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Sinks, []string{"file", "stdout"}) || c.FileDir != "/x" || !c.LogRecords() ||
					c.QueueBytes != 100000 || c.LogLevel != slog.LevelDebug || c.Lambda.MemoryMB != 512 || !c.Lambda.ManagedInstances() {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "TMPDIR moves the default file dir",
			env:  map[string]string{"TMPDIR": "/sandbox/tmp"},
			check: func(t *testing.T, c Config) {
				if c.FileDir != "/sandbox/tmp/audittrail/trail" {
					t.Errorf("FileDir = %q", c.FileDir)
				}
			},
		},
		{
			name: "every problem reported, defaults kept",
			env: map[string]string{
				"AUDITTRAIL_SINKS": "splunkk", "AUDITTRAIL_TELEMETRY_TYPES": "function,metrics",
				"AUDITTRAIL_QUEUE_BYTES": "lots", "AUDITTRAIL_LOG_LEVEL": "loud",
			},
			wantErr: []string{`AUDITTRAIL_SINKS: unknown sink "splunkk"`, `AUDITTRAIL_TELEMETRY_TYPES: unknown type "metrics"`,
				"AUDITTRAIL_TELEMETRY_TYPES: must include platform", "AUDITTRAIL_QUEUE_BYTES", "AUDITTRAIL_LOG_LEVEL"},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Sinks, []string{"stdout"}) || !slices.Equal(c.TelemetryTypes, []string{"platform", "function"}) || c.QueueBytes != 4<<20 {
					t.Errorf("sanitized config = %+v", c)
				}
			},
		},
		{
			name: "delivery defaults",
			env:  map[string]string{"TMPDIR": "/t"},
			check: func(t *testing.T, c Config) {
				if c.SpoolDir != "/t/audittrail/spool" || c.SpoolBytes != 64<<20 || c.Flush != (Flush{Mode: FlushAdaptive}) || c.ChainKey != nil {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "delivery set",
			env: map[string]string{"AUDITTRAIL_SPOOL_BYTES": "0", "AUDITTRAIL_FLUSH": "Continuous:250ms", "AUDITTRAIL_CHAIN_KEY": "0123456789abcdef",
				"AUDITTRAIL_SINKS": "http,file", "AUDITTRAIL_HTTP_URL": "https://siem.example.com/in", "AUDITTRAIL_HTTP_COMPRESSION": "ZSTD"},
			check: func(t *testing.T, c Config) {
				if c.SpoolBytes != 0 || c.Flush != (Flush{FlushContinuous, 250 * time.Millisecond}) || string(c.ChainKey) != "0123456789abcdef" ||
					!slices.Equal(c.Sinks, []string{"http", "file"}) || c.HTTP.Compression != "zstd" || c.Flush.String() != "continuous:250ms" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "delivery problems: each reported, the option falls back",
			env: map[string]string{"AUDITTRAIL_SPOOL_BYTES": "1000", "AUDITTRAIL_FLUSH": "sometimes", "AUDITTRAIL_CHAIN_KEY": "short",
				"AUDITTRAIL_SINKS": "http,file", "AUDITTRAIL_HTTP_URL": "ftp://x", "AUDITTRAIL_HTTP_COMPRESSION": "lz4"},
			wantErr: []string{"AUDITTRAIL_SPOOL_BYTES: 1000 is below", `AUDITTRAIL_FLUSH: "sometimes" is not`, "AUDITTRAIL_CHAIN_KEY: too short",
				`AUDITTRAIL_HTTP_URL: "ftp://x" is not`, `AUDITTRAIL_HTTP_COMPRESSION: "lz4"`},
			check: func(t *testing.T, c Config) {
				if c.SpoolBytes != 64<<20 || c.Flush.Mode != FlushAdaptive || c.ChainKey != nil || !slices.Equal(c.Sinks, []string{"file"}) {
					t.Errorf("sanitized config = %+v", c)
				}
			},
		},
		{
			name:    "http sink without a URL",
			env:     map[string]string{"AUDITTRAIL_SINKS": "http"},
			wantErr: []string{"AUDITTRAIL_HTTP_URL: required by the http sink"},
		},
		{
			name:    "queue too small",
			env:     map[string]string{"AUDITTRAIL_QUEUE_BYTES": "10"},
			wantErr: []string{"below the minimum"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(lookupFrom(tt.env))
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not contain %q", err, want)
				}
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestParseFlush(t *testing.T) {
	tests := []struct {
		in      string
		want    Flush
		wantErr bool
	}{
		{"adaptive", Flush{Mode: FlushAdaptive}, false},
		{" END ", Flush{Mode: FlushEnd}, false},
		{"periodic:2s", Flush{FlushPeriodic, 2 * time.Second}, false},
		{"continuous:100ms", Flush{FlushContinuous, 100 * time.Millisecond}, false},
		{"periodic", Flush{}, true},
		{"periodic:5ms", Flush{}, true},
		{"continuous:2h", Flush{}, true},
		{"end:1s", Flush{}, true},
		{"", Flush{}, true},
		{"always", Flush{}, true},
	}
	for _, tt := range tests {
		got, err := ParseFlush(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseFlush(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's table in step with the
// variables the code reads.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables() {
		row := "| `" + v.Name + "` | `" + v.Default + "` | " + v.Doc + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README lacks the row:\n%s", row)
		}
	}
	for _, v := range append(LambdaVariables(), FallbackVariables()...) {
		if !strings.Contains(string(readme), "`"+v.Name+"`") {
			t.Errorf("README does not mention %s", v.Name)
		}
	}
}

// TestEveryVariableReadIsDocumented fails when FromEnv reads a variable that
// Variables or LambdaVariables does not list, or lists one it never reads.
func TestEveryVariableReadIsDocumented(t *testing.T) {
	var read []string
	_, _ = FromEnv(func(k string) (string, bool) { read = append(read, k); return "", false })
	var documented []string
	for _, v := range slices.Concat(Variables(), LambdaVariables(), FallbackVariables()) {
		documented = append(documented, v.Name)
	}
	slices.Sort(read)
	read = slices.Compact(read)
	slices.Sort(documented)
	if !slices.Equal(read, documented) {
		t.Errorf("read %v\ndocumented %v", read, documented)
	}
}

// FuzzFromEnv: any values give a usable configuration (or errors), never a
// panic, and the configuration always validates after sanitizing.
func FuzzFromEnv(f *testing.F) {
	f.Add("file,stdout", "platform,function", "65536", "debug", "256")
	f.Add("", "", "", "", "")
	f.Add("splunk", "metrics", "-1", "LOUD", "x")
	f.Fuzz(func(t *testing.T, sinks, types, queue, level, memory string) {
		env := map[string]string{
			"AUDITTRAIL_SINKS": sinks, "AUDITTRAIL_TELEMETRY_TYPES": types, "AUDITTRAIL_QUEUE_BYTES": queue,
			"AUDITTRAIL_LOG_LEVEL": level, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
		}
		c, _ := FromEnv(lookupFrom(env))
		if err := c.Validate(); err != nil {
			t.Fatalf("sanitized config does not validate: %v (%+v)", err, c)
		}
	})
}

func TestRedactionFromEnv(t *testing.T) {
	c, err := FromEnv(lookupFrom(map[string]string{
		"AUDITTRAIL_REDACT_QUERY": "q, Email", "AUDITTRAIL_ALLOW_QUERY": "code",
		"AUDITTRAIL_RECORD_HEADERS": "X-Request-Id,Authorization", "AUDITTRAIL_PSEUDONYMIZE_KEY": "0123456789abcdef0123",
	}))
	if err == nil || !strings.Contains(err.Error(), `AUDITTRAIL_RECORD_HEADERS: header "authorization"`) {
		t.Errorf("err = %v, want the refused header reported", err)
	}
	r := c.Redaction
	if !slices.Equal(r.RedactQuery, []string{"q", "email"}) || !slices.Equal(r.AllowQuery, []string{"code"}) ||
		!slices.Equal(r.Headers, []string{"x-request-id"}) || string(r.PseudonymKey) != "0123456789abcdef0123" {
		t.Errorf("redaction = %+v", r)
	}
	if _, err := FromEnv(lookupFrom(map[string]string{"AUDITTRAIL_PSEUDONYMIZE_KEY": "short"})); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short key: %v", err)
	}
}

func TestPseudonymKeyARN(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf"
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		drop    bool
	}{
		{"valid", map[string]string{"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": arn}, "", false},
		{"not an ARN fails closed", map[string]string{"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": "my-key"}, "not a Secrets Manager secret ARN", true},
		{"both set", map[string]string{"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": arn, "AUDITTRAIL_PSEUDONYMIZE_KEY": "0123456789abcdef"}, "set one", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(lookupFrom(tt.env))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if c.Redaction.DropIdentities != tt.drop {
				t.Errorf("DropIdentities = %v, want %v", c.Redaction.DropIdentities, tt.drop)
			}
		})
	}
}

func TestFlushBudget(t *testing.T) {
	tests := []struct {
		v       string
		want    time.Duration
		wantErr bool
	}{
		{"", 50 * time.Millisecond, false},
		{"20ms", 20 * time.Millisecond, false},
		{"0", 0, false},
		{"2s", 50 * time.Millisecond, true},
		{"fast", 50 * time.Millisecond, true},
	}
	for _, tt := range tests {
		c, err := FromEnv(lookupFrom(map[string]string{"AUDITTRAIL_FLUSH_BUDGET": tt.v}))
		if c.FlushBudget != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%q: budget %v err %v", tt.v, c.FlushBudget, err)
		}
	}
}
