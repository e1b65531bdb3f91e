package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
	"github.com/audittrail/audittrail/schema"
)

// streamOf makes --stream lines: each event with its response status.
func streamOf(t *testing.T, lines ...string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func streamLineOf(t *testing.T, second int, event []byte, status int) string {
	t.Helper()
	resp := fmt.Sprintf(`{"statusCode":%d,"body":"{}"}`, status)
	return fmt.Sprintf(`{"time":"2026-12-01T10:00:%02dZ","event":%s,"response":%s}`, second, event, resp)
}

// TestNormalizeStream: records come out in order, the detectors' state is
// kept across lines (the tenth 401 from one address is a burst), a
// finding is also a security_finding record right after its invocation,
// and a bad line is reported by number and skipped.
func TestNormalizeStream(t *testing.T) {
	anon := samplefn.EventOptions{SourceIP: "198.51.100.77"}
	var lines []string
	lines = append(lines, streamLineOf(t, 0, samplefn.HTTPEvent("GET", "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", anon), 200))
	lines = append(lines, `{"time":"2026-12-01T10:00:01Z","event":`) // cut short
	for i := range 10 {
		lines = append(lines, streamLineOf(t, 2+i, samplefn.HTTPEvent("DELETE", "/users/42", anon), 401))
	}
	var out, errOut bytes.Buffer
	code := runNormalize([]string{"--stream"}, func(string) (string, bool) { return "", false },
		strings.NewReader(streamOf(t, lines...)), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "line 2:") {
		t.Fatalf("exit %d (want 1 for the bad line), stderr %q", code, errOut.String())
	}
	var recs []schema.Record
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r schema.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	// 11 invocations, a finding after the first and after the last.
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Event.Action)
	}
	want := []string{"invocation", "security_finding"}
	for range 10 {
		want = append(want, "invocation")
	}
	want = append(want, "security_finding")
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("records %v\nwant %v", actions, want)
	}
	first, burst := recs[1], recs[len(recs)-1]
	if f := first.Security.Findings[0]; f.Type != schema.FindingInjectionAttempt || first.Security.InvocationID != recs[0].Event.ID {
		t.Errorf("first finding %+v about %s, want an injection_attempt about %s", f, first.Security.InvocationID, recs[0].Event.ID)
	}
	if f := burst.Security.Findings[0]; f.Type != schema.FindingAuthFailureBurst || f.Evidence.Count != 10 {
		t.Errorf("last finding %+v, want an auth_failure_burst of 10", f)
	}
	if !recs[11].Timestamp.Equal(recs[2].Timestamp.Add(9e9)) {
		t.Errorf("timestamps %v .. %v: want each line's time", recs[2].Timestamp, recs[11].Timestamp)
	}
	ids := map[string]bool{}
	for _, r := range recs {
		if ids[r.Event.ID] {
			t.Errorf("event.id %s given twice: the same event on two lines is two requests", r.Event.ID)
		}
		ids[r.Event.ID] = true
	}
	if strings.Contains(out.String(), "password FROM") {
		t.Error("the payload is in the output; a finding's evidence names the rule, not the payload")
	}
}

// TestNormalizeStreamOCSF: a finding renders as an OCSF Detection Finding.
func TestNormalizeStreamOCSF(t *testing.T) {
	line := streamLineOf(t, 0, samplefn.HTTPEvent("GET", "/files?path=..%2F..%2F..%2Fetc%2Fpasswd", samplefn.EventOptions{}), 200)
	var out, errOut bytes.Buffer
	code := runNormalize([]string{"--stream", "--format", "ocsf"}, func(string) (string, bool) { return "", false },
		strings.NewReader(line+"\n"), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	dec := json.NewDecoder(&out)
	var classes []float64
	var finding map[string]any
	for dec.More() {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		classes = append(classes, ev["class_uid"].(float64))
		if ev["class_uid"].(float64) == 2004 {
			finding = ev
		}
	}
	if len(classes) != 2 || classes[0] != 6003 || classes[1] != 2004 {
		t.Fatalf("classes %v, want an API Activity then a Detection Finding", classes)
	}
	info := finding["finding_info"].(map[string]any)
	if finding["type_uid"].(float64) != 200401 || finding["severity_id"].(float64) < 3 ||
		info["types"].([]any)[0] != schema.FindingInjectionAttempt || info["related_events"] == nil {
		t.Errorf("detection finding %v", finding)
	}
}

// TestNormalizeStreamConfig: the detectors take the extension's variables.
func TestNormalizeStreamConfig(t *testing.T) {
	line := streamLineOf(t, 0, samplefn.HTTPEvent("GET", "/files?path=..%2F..%2F..%2Fetc%2Fpasswd", samplefn.EventOptions{}), 200)
	for _, tt := range []struct {
		env      map[string]string
		findings bool
	}{
		{nil, true},
		{map[string]string{"AUDITTRAIL_DETECT": "off"}, false},
		{map[string]string{"AUDITTRAIL_DETECT_OFF": "injection_attempt"}, false},
	} {
		var out, errOut bytes.Buffer
		lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
		if code := runNormalize([]string{"--stream"}, lookup, strings.NewReader(line), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", tt.env, code, errOut.String())
		}
		if got := strings.Contains(out.String(), `"findings"`); got != tt.findings {
			t.Errorf("%v: findings %v, want %v:\n%s", tt.env, got, tt.findings, out.String())
		}
	}
}

// FuzzNormalizeStream: any input lines give records or line errors, never
// a panic, and every record printed is JSON.
func FuzzNormalizeStream(f *testing.F) {
	f.Add(`{"time":"2026-12-01T10:00:00Z","event":{"httpMethod":"GET","path":"/","requestContext":{}},"response":{"statusCode":401}}` + "\n" + `{"time":1}`)
	f.Add(`{"time":"2026-12-01T10:00:00Z","event":"x","response":null,"duration_ms":-1e308}`)
	f.Add("\n\n{")
	noEnvLookup := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, in string) {
		var out, errOut bytes.Buffer
		code := runNormalize([]string{"--stream"}, noEnvLookup, strings.NewReader(in), &out, &errOut)
		if code != 0 && code != 1 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if !json.Valid(sc.Bytes()) {
				t.Fatalf("output line is not JSON: %q", sc.Text())
			}
		}
	})
}
