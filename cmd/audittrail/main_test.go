package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/schema"
)

func TestCLI(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"audittrail", "version"}, 0, "audittrail dev (commit unknown, built unknown)", ""},
		{[]string{"audittrail", "help"}, 0, "Commands:", ""},
		{[]string{"audittrail", "frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"audittrail", "demo", "--bogus"}, 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(t.Context(), tt.args, &out, &errOut); code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
			}
		})
	}
}

// TestExtensionModeWithoutLambda: run outside Lambda with no arguments, the
// extension fails clearly (exit 1), never hangs or panics.
func TestExtensionModeWithoutLambda(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:1"}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want exit code 1; output %s", err, out)
	}
	if !bytes.Contains(out, []byte(`"logger":"audittrail"`)) || !bytes.Contains(out, []byte("cannot run")) {
		t.Errorf("output %s", out)
	}
}

// TestDemo runs `audittrail demo` as `make demo` does.
func TestDemo(t *testing.T) {
	bin := build(t)
	trail := filepath.Join(t.TempDir(), "demo-trail")
	cmd := exec.Command(bin, "demo", "--trail", trail)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{"HTTP 401", "HTTP 403", "Runtime.ExitError", "Sandbox.Timedout",
		// the trail knows who called what, from where, and how it ended
		"DELETE  /users/{id}      403    user-7f3a  203.0.113.10   failure",
		"GET     /error           500    user-7f3a  203.0.113.10   failure  OrderNotFound",
		"invocations      28 (3 cold starts,", "3 init, 3 shutdown records", "coverage gaps    0", trail,
		"verify: 3 environment(s), complete and unaltered",
		// its planted attacks are findings, one of each detector but anomaly
		"security findings 6",
		"undocumented_route       medium   GET /does-not-exist",
		"injection_attempt        high     GET /users/42",
		"undocumented_route       medium   GET /debug/export",
		"sensitive_data_exposure  high     GET /debug/export  Sensitive data in the response body: 1 aws_access_key_id, 1 card_number",
		"gateway_bypass           high     -                  invoked through direct, expected apigateway-http",
		"auth_failure_burst       high     DELETE /users/42   10 authentication failures (401/403) for one client.address",
		// and it ends with a query of its 403s
		"The 403s of this run (audittrail query", "DELETE               /users/{id}  user-7f3a  203.0.113.10",
		"GET                  /admin       user-7f3a  203.0.113.10"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(trail, "*.ndjson.zst"))
	if len(segs) == 0 {
		t.Error("no segment files in the trail")
	}
}

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "audittrail")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestNormalize(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	event := write("event.json", `{"version":"2.0","routeKey":"DELETE /users/{id}","rawPath":"/users/7","rawQueryString":"","headers":{"authorization":"Bearer SECRET"},
		"requestContext":{"apiId":"api1","stage":"$default","requestId":"req-1","domainName":"api1.execute-api.us-east-1.amazonaws.com",
		"http":{"method":"DELETE","path":"/users/7","sourceIp":"192.0.2.9","userAgent":"curl/8"},
		"authorizer":{"jwt":{"claims":{"sub":"u-1"},"scopes":["users:write"]}}}}`)
	response := write("response.json", `{"statusCode":403,"body":"{\"message\":\"Forbidden\"}"}`)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout []string
		stderr string
	}{
		{"native", []string{"--response", response, event}, "", 0,
			[]string{`"method":"DELETE"`, `"route":"/users/{id}"`, `"status_code":403`, `"id":"u-1"`, `"address":"192.0.2.9"`, `"outcome":"failure"`, `"capture":"proxy"`}, ""},
		{"ocsf", []string{"--format", "ocsf", "--response", response, event}, "", 0,
			[]string{`"class_uid":6003`, `"activity_name":"Delete"`, `"type_uid":600304`, `"status":"Failure"`, `"operation":"DELETE /users/{id}"`}, ""},
		{"stdin, unknown shape", []string{"-"}, `{"orderId":42}`, 0, []string{`"gateway":"direct"`}, ""},
		{"malformed", []string{"-"}, `{"orderId":`, 1, nil, "standard input: not valid JSON"},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, "", 1, nil, "no such file"},
		{"bad format", []string{"--format", "xml", event}, "", 2, nil, "--format native|ocsf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runNormalize(tt.args, func(string) (string, bool) { return "", false }, strings.NewReader(tt.stdin), &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q", code, tt.code, errOut.String())
			}
			if tt.code == 0 && (strings.Count(out.String(), "\n") != 1 || !json.Valid(out.Bytes())) {
				t.Errorf("want one JSON line, got %q", out.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %s:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "SECRET") {
				t.Errorf("secret in the output: %s", out.String())
			}
		})
	}
}

func TestVerifyCommand(t *testing.T) {
	env := schema.Environment{EnvID: "env-1", FunctionName: "fn"}
	var chain schema.Chain
	var lines []string
	for i := range 4 {
		r := schema.InvocationRecord(env, fmt.Sprintf("r%d", i), schema.Exchange{Event: []byte(`{}`)}, time.Unix(0, 0))
		b, err := chain.Seal(&r)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	dir := t.TempDir()
	write := func(name string, ls ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(ls, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	undelivered := `{"audittrail.undelivered":"shutdown_deadline","record":` + lines[3] + `}`
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"complete, one record from stdout", []string{write("ok.ndjson", lines[0], lines[1], lines[2], undelivered)}, 0, "complete and unaltered"},
		{"missing", []string{write("missing.ndjson", lines[0], lines[2], lines[3])}, 1, "MISSING seq 2-2, unaccounted"},
		{"tampered", []string{write("tampered.ndjson", lines[0], strings.Replace(lines[1], `"fn"`, `"evil"`, 1), lines[2], lines[3])}, 1, "BROKEN chain at seq 2"},
		{"json", []string{"--json", write("ok2.ndjson", lines...)}, 0, `"ok": true`},
		{"no such file", []string{filepath.Join(dir, "nope")}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runVerify(t.Context(), tt.args, strings.NewReader(""), &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s stderr %s", code, tt.code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
}

func TestVerifyCommandKeyed(t *testing.T) {
	const key = "0123456789abcdef-chain-key"
	seal := func(c schema.Chain, env string) []string {
		var lines []string
		for i := range 4 {
			r := schema.InvocationRecord(schema.Environment{EnvID: env, FunctionName: "fn"}, fmt.Sprintf("r%d", i), schema.Exchange{Event: []byte(`{}`)}, time.Unix(0, 0))
			b, err := c.Seal(&r)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(b))
		}
		return lines
	}
	keyed, plain := seal(schema.NewChain([]byte(key)), "env-k"), seal(schema.Chain{}, "env-p")
	// A new environment's gap naming records of one never seen.
	b := schema.NewBuilder(schema.Environment{EnvID: "env-new"})
	g := b.Gap(schema.GapInternalError, "extension", 3, 0, "spool unreadable", time.Unix(0, 0))
	g.Gap.SeqFrom, g.Gap.SeqTo, g.Gap.EnvID = 1, 3, "env-gone"
	var c schema.Chain
	gap, _ := c.Seal(&g)

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trail := write("keyed.ndjson", strings.Join(keyed, "\n")+"\n")
	tampered := write("tampered.ndjson", strings.Join([]string{keyed[0], strings.Replace(keyed[1], `"fn"`, `"evil"`, 1), keyed[2], keyed[3]}, "\n"))
	plainTrail := write("plain.ndjson", strings.Join(plain, "\n"))
	gapTrail := write("gap.ndjson", string(gap)+"\n")
	keyFile := write("key", key+"\n")
	crlfKeyFile := write("key-crlf", key+"\r\n")
	wrongKeyFile := write("wrong-key", "another-key-entirely")
	emptyKeyFile := write("empty-key", "\n")
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout []string
		stderr string
	}{
		{"key file", []string{"--key-file", keyFile, trail}, nil, 0, []string{"env-k: 4 records, seq 1..4, open (no shutdown record yet), keyed chain", "complete and unaltered"}, ""},
		{"key file with CRLF", []string{"--key-file", crlfKeyFile, trail}, nil, 0, []string{"complete and unaltered"}, ""},
		{"key from the environment", []string{trail}, map[string]string{"AUDITTRAIL_CHAIN_KEY": key}, 0, []string{"complete and unaltered"}, ""},
		{"key file before the environment", []string{"--key-file", keyFile, trail}, map[string]string{"AUDITTRAIL_CHAIN_KEY": "wrong"}, 0, []string{"complete and unaltered"}, ""},
		{"no key: links only, not an error", []string{trail}, nil, 0, []string{"keyed chain: hashes not checked without the key (4 records", "complete and unaltered"}, ""},
		{"no key, json", []string{"--json", trail}, nil, 0, []string{`"hashes_unchecked": 4`, `"hash_alg": "hmac-sha256"`, `"ok": true`}, ""},
		{"wrong key", []string{"--key-file", wrongKeyFile, trail}, nil, 1, []string{"BROKEN chain at seq 1: HMAC does not match", "BROKEN chain at seq 4: HMAC", "NOT complete"}, ""},
		{"altered, with the key", []string{"--key-file", keyFile, tampered}, nil, 1, []string{"BROKEN chain at seq 2: HMAC does not match the record: altered"}, ""},
		{"plain trail, with a key", []string{"--key-file", keyFile, plainTrail}, nil, 1, []string{"BROKEN chain at seq 1: plain SHA-256 hash where the chain is keyed"}, ""},
		{"plain trail, no key", []string{plainTrail}, nil, 0, []string{"env-p: 4 records, seq 1..4, open (no shutdown record yet)\n", "complete and unaltered"}, ""},
		{"loss of another environment", []string{gapTrail}, nil, 0, []string{"environment env-gone: no records, open", "missing seq 1-3, accounted for by a coverage gap"}, ""},
		{"missing key file", []string{"--key-file", filepath.Join(dir, "nope"), trail}, nil, 2, nil, "verify: key file: open"},
		{"empty key file", []string{"--key-file", emptyKeyFile, trail}, nil, 2, nil, "is empty"},
		{"help documents the key", []string{"-h"}, nil, 0, nil, "AUDITTRAIL_CHAIN_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			if code := verifyCommand(t.Context(), tt.args, getenv, strings.NewReader(""), &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s stderr %s", code, tt.code, out.String(), errOut.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr lacks %q: %s", tt.stderr, errOut.String())
			}
			if strings.Contains(out.String()+errOut.String(), key) {
				t.Errorf("the key is in the output")
			}
		})
	}
}

// TestElasticsearchTemplateCommand installs the template in a stand-in
// that answers as Elasticsearch documents the template APIs (no
// Elasticsearch can run here), configured by the sink's own variables.
func TestElasticsearchTemplateCommand(t *testing.T) {
	var puts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.Header.Get("Authorization") != "ApiKey a2V5" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		puts = append(puts, r.URL.Path)
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	}))
	defer srv.Close()
	env := map[string]string{"AUDITTRAIL_ELASTICSEARCH_URL": srv.URL, "AUDITTRAIL_ELASTICSEARCH_API_KEY": "a2V5"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errOut bytes.Buffer
	if code := runElasticsearchTemplate(t.Context(), nil, lookup, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if len(puts) != 2 || !strings.Contains(puts[0], "_component_template/audittrail-mappings") || !strings.Contains(puts[1], "_index_template/logs-audittrail-default") {
		t.Errorf("PUTs %v", puts)
	}
	out.Reset()
	if code := runElasticsearchTemplate(t.Context(), []string{"--print"}, lookup, &out, &errOut); code != 0 || !json.Valid(out.Bytes()) || !strings.Contains(out.String(), `"event"`) {
		t.Errorf("--print: exit %d, %.200s", code, out.String())
	}
	delete(env, "AUDITTRAIL_ELASTICSEARCH_URL")
	errOut.Reset()
	if code := runElasticsearchTemplate(t.Context(), nil, lookup, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "AUDITTRAIL_ELASTICSEARCH_URL") {
		t.Errorf("without a URL: exit %d, %s", code, errOut.String())
	}
}
