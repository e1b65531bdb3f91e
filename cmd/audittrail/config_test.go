package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runConfigWith runs `audittrail config ARGS` in the environment env.
func runConfigWith(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var environ []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		environ = append(environ, k+"="+env[k])
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errOut bytes.Buffer
	code = runConfig(args, lookup, environ, &out, &errOut)
	return code, out.String(), errOut.String()
}

// realistic is a function's environment: Splunk and S3, Datadog half
// configured (its key's name misspelled), Datadog's own extension's
// variables beside ours.
func realistic() map[string]string {
	return map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "orders-api", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "eu-west-1",
		"AWS_LAMBDA_EXEC_WRAPPER": "/opt/audittrail-wrapper", "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"AUDITTRAIL_SINKS":                       "splunk,s3,datadog",
		"AUDITTRAIL_SPLUNK_URL":                  "https://hec.example.splunkcloud.com:8088",
		"AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN":     "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hec-token",
		"AUDITTRAIL_SPLUNK_INDEX":                "audit",
		"AUDITTRAIL_S3_BUCKET":                   "my-audit-archive",
		"AUDITTRAIL_DATADOG_SITE":                "datadoghq.eu",
		"AUDITTRAIL_DATADOG_APIKEY":              "0123456789abcdef0123456789abcdef",
		"DD_SITE":                                "datadoghq.com",
		"AUDITTRAIL_FLUSH":                       "end",
		"AUDITTRAIL_REDACT_QUERY":                "email",
		"AUDITTRAIL_RECORD_HEADERS":              "x-request-id",
		"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pseudonym-key",
		"AUDITTRAIL_CHAIN_KEY":                   "correct horse battery staple",
	}
}

// TestConfigCheckGolden: the text report of a realistic environment. Run
// with -update to rewrite testdata/config-check.golden.
func TestConfigCheckGolden(t *testing.T) {
	code, out, errOut := runConfigWith(realistic(), "check")
	if code != 1 || errOut != "" {
		t.Errorf("exit %d, stderr %q; want 1 (errors), nothing on stderr", code, errOut)
	}
	golden := filepath.Join("testdata", "config-check.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if out != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, out)
	}
}

// TestConfigCheckJSON: the JSON report reads back into the report, and
// says what the text does.
func TestConfigCheckJSON(t *testing.T) {
	env := realistic()
	code, out, _ := runConfigWith(env, "check", "--json")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var got config.Report
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("not a report: %v\n%s", err, out)
	}
	want := config.Check(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, slices.Collect(func(yield func(string) bool) {
		for k, v := range env {
			if !yield(k + "=" + v) {
				return
			}
		}
	}))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	// What a script would ask.
	var doc struct {
		Config struct {
			Sinks []struct {
				Name     string            `json:"name"`
				Settings map[string]string `json:"settings"`
			} `json:"sinks"`
			DisabledSinks []string `json:"disabled_sinks"`
			Chain         string   `json:"chain"`
			ChainKey      string   `json:"chain_key"`
			SpoolBytes    int64    `json:"spool_bytes"`
		} `json:"config"`
		Problems []struct {
			Severity, Variable, Message, Suggestion string
		} `json:"problems"`
		Errors, Warnings int
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Config
	if len(c.Sinks) != 2 || c.Sinks[0].Name != "splunk" || c.Sinks[0].Settings["token"] != "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:hec-token" ||
		c.Sinks[1].Settings["bucket"] != "my-audit-archive" || !slices.Equal(c.DisabledSinks, []string{"datadog"}) ||
		c.Chain != "hmac-sha256" || c.ChainKey != "[REDACTED]" || c.SpoolBytes != 64<<20 {
		t.Errorf("config %+v", c)
	}
	if doc.Errors != 2 || doc.Warnings != 1 || len(doc.Problems) != 3 {
		t.Fatalf("problems %+v", doc.Problems)
	}
	if p := doc.Problems[1]; p.Severity != "error" || p.Variable != "AUDITTRAIL_DATADOG_APIKEY" || p.Suggestion != "AUDITTRAIL_DATADOG_API_KEY" {
		t.Errorf("problem %+v", p)
	}
}

// TestConfigCheckNeverPrintsSecrets: no secret's value appears in either
// output, whichever way it was given, misspelled or given twice.
func TestConfigCheckNeverPrintsSecrets(t *testing.T) {
	secrets := map[string]string{
		"AUDITTRAIL_HTTP_AUTHORIZATION":     "Bearer s3cret-http-auth",
		"AUDITTRAIL_SPLUNK_TOKEN":           "s3cret-splunk-token",
		"AUDITTRAIL_ELASTICSEARCH_API_KEY":  "s3cret-es-api-key",
		"AUDITTRAIL_ELASTICSEARCH_PASSWORD": "s3cret-es-password",
		"AUDITTRAIL_DATADOG_API_KEY":        "s3cret-dd-api-key",
		"DD_API_KEY":                        "s3cret-dd-fallback",
		"AUDITTRAIL_OTLP_HEADERS":           "api-key=s3cret-otlp-headers",
		"OTEL_EXPORTER_OTLP_HEADERS":        "api-key=s3cret-otel-headers",
		"AUDITTRAIL_PSEUDONYMIZE_KEY":       "s3cret-pseudonym-key-0123456789",
		"AUDITTRAIL_CHAIN_KEY":              "s3cret-chain-key-0123456789",
		"AUDITTRAIL_SPLUNK_TOKN":            "s3cret-misspelled",
		"AUDITTRAIL_DATADOG_APIKEY":         "s3cret-misspelled-too",
	}
	urls := map[string]string{ // passwords and tokens in URLs
		"AUDITTRAIL_HTTP_URL":          "https://user:s3cret-url-password@vector.example.com/in?token=s3cret-url-query",
		"AUDITTRAIL_SPLUNK_URL":        "https://s3cret-url-user@hec.example.com:8088",
		"AUDITTRAIL_ELASTICSEARCH_URL": "https://es.example.com/?s3cret-url-bare",
		"AUDITTRAIL_DATADOG_URL":       "http://dd.example.com/v2?dd-api-key=s3cret-url-dd#s3cret-url-fragment",
		"AUDITTRAIL_OTLP_ENDPOINT":     "ftp://u:s3cret-url-bad-scheme@otel.example.com",
	}
	base := map[string]string{"AUDITTRAIL_SINKS": "http,splunk,elasticsearch,datadog,otlp", "AWS_REGION": "eu-west-1"}
	envs := map[string]map[string]string{
		"values":      with(base, secrets, urls),
		"values, ARN": with(base, secrets, urls, suffixed(secrets, "_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:x")),
		"values, SSM": with(base, secrets, urls, suffixed(secrets, "_SSM_PARAMETER", "/x")),
	}
	for name, env := range envs {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{{"check"}, {"check", "--json"}} {
				code, out, errOut := runConfigWith(env, args...)
				if code != 1 {
					t.Errorf("%v: exit %d, want 1", args, code)
				}
				if name == "values" && !strings.Contains(out, "[REDACTED]") {
					t.Errorf("%v: no [REDACTED] in\n%s", args, out)
				}
				all := out + errOut + unescapedJSON(t, out, args)
				for _, v := range env {
					if i := strings.Index(v, "s3cret"); i >= 0 {
						secret, _, _ := strings.Cut(v[i:], "@")
						secret, _, _ = strings.Cut(secret, "#")
						if strings.Contains(all, secret) {
							t.Errorf("%v prints %q:\n%s", args, secret, out)
						}
					}
				}
				if strings.Contains(all, "s3cret") {
					t.Errorf("%v prints a secret:\n%s", args, out)
				}
			}
		})
	}
}

// with merges maps into a new one.
func with(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// suffixed gives each AUDITTRAIL_ name of m a suffix and the value v.
func suffixed(m map[string]string, suffix, v string) map[string]string {
	out := map[string]string{}
	for k := range m {
		if strings.HasPrefix(k, "AUDITTRAIL_") {
			out[k+suffix] = v
		}
	}
	return out
}

// unescapedJSON returns every string of a JSON document, unescaped, so
// that an escaped secret is found too.
func unescapedJSON(t *testing.T, out string, args []string) string {
	if !slices.Contains(args, "--json") {
		return ""
	}
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v + "\n")
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for k, e := range v {
				b.WriteString(k + "\n")
				walk(e)
			}
		}
	}
	walk(doc)
	return b.String()
}

func TestConfigCheckExitCodes(t *testing.T) {
	clean := map[string]string{"AUDITTRAIL_SINKS": "s3", "AUDITTRAIL_S3_BUCKET": "b", "AUDITTRAIL_S3_REGION": "eu-west-1"}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"clean", clean, []string{"check"}, 0, "no problems\n", ""},
		{"clean, JSON", clean, []string{"check", "--json"}, 0, `"errors": 0`, ""},
		{"warnings only", nil, []string{"check"}, 0, "problems: 0 errors, 1 warning", ""},
		{"an error", with(clean, map[string]string{"AUDITTRAIL_FLUSH": "never"}), []string{"check"}, 1, "problems: 1 error, 0 warnings", ""},
		{"an error, JSON", with(clean, map[string]string{"AUDITTRAIL_S3_BUKET": "b"}), []string{"check", "--json"}, 1, `"errors": 1`, ""},
		{"no subcommand", clean, nil, 2, "", "usage: audittrail config check"},
		{"unknown subcommand", clean, []string{"lint"}, 2, "", "usage: audittrail config check"},
		{"unknown flag", clean, []string{"check", "--yaml"}, 2, "", "flag provided but not defined: -yaml"},
		{"an argument", clean, []string{"check", "extra"}, 2, "", `unexpected argument "extra"`},
		{"help", clean, []string{"--help"}, 0, "usage: audittrail config check", ""},
		{"check help", clean, []string{"check", "-h"}, 0, "", "usage: audittrail config check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runConfigWith(tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) || tt.stdout == "" && out != "" {
				t.Errorf("stdout %q, stderr %q", out, errOut)
			}
		})
	}
}

// TestConfigCheckBinary: the real binary reads its own environment, as the
// extension does, and exits as documented; help lists the command.
func TestConfigCheckBinary(t *testing.T) {
	bin := build(t)
	tests := []struct {
		env  []string
		code int
		want string
	}{
		{[]string{"AUDITTRAIL_SINKS=s3", "AUDITTRAIL_S3_BUCKET=b", "AWS_REGION=eu-west-1"}, 0, "no problems"},
		{[]string{"AUDITTRAIL_SINKS=s3", "AUDITTRAIL_S3_BUCKET=b", "AUDITTRAIL_S3_REGIN=eu-west-1"}, 1, "did you mean AUDITTRAIL_S3_REGION?"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, "config", "check")
		cmd.Env = tt.env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.code || !bytes.Contains(out, []byte(tt.want)) {
			t.Errorf("env %v: exit %d (want %d), output\n%s", tt.env, code, tt.code, out)
		}
	}
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"audittrail", "help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "config check [--json]") {
		t.Errorf("help: exit %d, %s", code, out.String())
	}
}

// FuzzConfigCheckSecrets: whatever a secret holds, neither output prints
// it.
func FuzzConfigCheckSecrets(f *testing.F) {
	f.Add("hunter2")
	f.Add(`"quoted" and \ escaped <html>`)
	f.Add("line\nbreak")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		secret := "s3cret:" + s + ":s3cret"
		env := map[string]string{
			"AUDITTRAIL_SINKS": "splunk,datadog,otlp", "AUDITTRAIL_SPLUNK_URL": "https://hec:8088",
			"AUDITTRAIL_SPLUNK_TOKEN": secret, "AUDITTRAIL_DATADOG_API_KEY": secret, "AUDITTRAIL_OTLP_HEADERS": secret,
			"AUDITTRAIL_OTLP_ENDPOINT": "https://otel:4318/v1/logs", "AUDITTRAIL_CHAIN_KEY": secret,
			"AUDITTRAIL_PSEUDONYMIZE_KEY": secret, "AUDITTRAIL_SPLUNK_TOKN": secret,
		}
		for _, args := range [][]string{{"check"}, {"check", "--json"}} {
			_, out, errOut := runConfigWith(env, args...)
			if all := out + errOut + unescapedJSON(t, out, args); strings.Contains(all, strings.TrimSpace(secret)) {
				t.Fatalf("%v prints the secret:\n%s", args, out)
			}
		}
	})
}
