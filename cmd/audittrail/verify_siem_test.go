package main

// verify --from reads a trail back from a real VictoriaLogs, where it was
// delivered by the real sinks: through the Elasticsearch bulk API (which
// VictoriaLogs flattens into fields of strings, so verify rebuilds each
// record to the schema's types) and through the Datadog logs API (whose
// message keeps the record whole).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/detect"
	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
	"github.com/audittrail/audittrail/internal/peers"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks"
	"github.com/audittrail/audittrail/sinks/datadog"
	"github.com/audittrail/audittrail/sinks/elasticsearch"
)

// sealedTrail is one environment's trail of n invocations, closed by a
// shutdown record: real-shaped records (principals, routes, statuses,
// durations, cold starts, findings with arrays of objects), sealed.
func sealedTrail(t *testing.T, n int) [][]byte {
	t.Helper()
	d, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	env := schema.Environment{EnvID: "3deb6497-b4d4-4813-9a19-7b9dbe128894", FunctionName: "orders-api", Region: "eu-west-1", AccountID: "123456789012", Inspector: d}
	b := schema.NewBuilder(env)
	var chain schema.Chain
	var out [][]byte
	seal := func(r *schema.Record) {
		rec, err := chain.Seal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	// An hour ago: Datadog's intake takes records of the last 18 hours.
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range n {
		at := t0.Add(time.Duration(i) * 1500 * time.Millisecond)
		opt := samplefn.EventOptions{SourceIP: fmt.Sprintf("203.0.113.%d", i%7), Time: at,
			JWT: &samplefn.JWT{Subject: fmt.Sprintf("user-%d", i%3), Scopes: []string{"users:read"}}}
		path, status, body := fmt.Sprintf("/users/%d", i), 200, `{"id":1}`
		switch i % 5 {
		case 1:
			path, status = "/users/1?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", 403
		case 3:
			body = `{"card":"4111 1111 1111 1111"}`
		}
		x := schema.Exchange{Event: samplefn.HTTPEvent("GET", path, opt)}
		x.Response = fmt.Appendf(nil, `{"statusCode":%d,"body":%q}`, status, body)
		id := fmt.Sprintf("req-%d", i)
		rec := schema.InvocationRecord(env, id, x, at)
		ms := 12.5 + float64(i)
		rec.AWS = &schema.AWS{Lambda: &schema.Lambda{DurationMs: &ms, Status: "success"}}
		cold := i == 0
		rec.FaaS.Coldstart = &cold
		d.Exchange(&rec, x, nil)
		d.Finished(&rec)
		seal(&rec)
		for _, f := range schema.FindingRecords(&rec) {
			seal(&f)
		}
	}
	for _, r := range b.Shutdown("spindown", t0.Add(time.Hour)) {
		seal(&r)
	}
	return out
}

func verifyFrom(t *testing.T, from string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := verifyCommand(t.Context(), []string{"--json", "--from", from}, noEnv, strings.NewReader(""), &out, &errOut)
	if code == 2 {
		t.Fatalf("verify --from %s: %s", from, errOut.String())
	}
	return code, out.String()
}

func TestVerifyFromVictoriaLogs(t *testing.T) {
	trail := sealedTrail(t, 12)
	var findings int
	for _, r := range trail {
		if bytes.Contains(r, []byte(`"security_finding"`)) {
			findings++
		}
	}
	if findings == 0 || !bytes.Contains(trail[1], []byte(`"kinds"`)) && !bytes.Contains(bytes.Join(trail, nil), []byte(`"kinds"`)) {
		t.Fatalf("the test trail should hold findings with evidence arrays: %d finding records", findings)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	t.Run("elasticsearch bulk: flattened, rebuilt", func(t *testing.T) {
		vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
		s, err := elasticsearch.New(elasticsearch.Config{URL: vl.URL + "/insert/elasticsearch?_time_field=@timestamp&_msg_field=event.action"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, trail); err != nil {
			t.Fatal(err)
		}
		vl.Flush(t)
		code, report := verifyFrom(t, "victorialogs+"+vl.URL)
		if code != 0 || !strings.Contains(report, fmt.Sprintf(`"records": %d`, len(trail))) {
			t.Fatalf("verify exit %d, want 0 with %d records:\n%s", code, len(trail), report)
		}

		// Someone edits a record in the SIEM: an altered status under the
		// same seq. verify must see it.
		var rec map[string]any
		if err := json.Unmarshal(trail[2], &rec); err != nil {
			t.Fatal(err)
		}
		rec["http"].(map[string]any)["response"].(map[string]any)["status_code"] = 200
		rec["event"].(map[string]any)["id"] = "edited"
		edited, _ := json.Marshal(rec)
		if err := s.Write(ctx, [][]byte{edited}); err != nil {
			t.Fatal(err)
		}
		vl.Flush(t)
		if code, report := verifyFrom(t, "victorialogs+"+vl.URL); code != 1 || !strings.Contains(report, "altered") {
			t.Errorf("after an edit: verify exit %d, want 1 naming the altered record:\n%s", code, report)
		}
	})

	t.Run("datadog logs API: the message is the record", func(t *testing.T) {
		vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
		s, err := datadog.New(datadog.Config{APIKey: sinks.StaticSecret("test-key"), URL: vl.URL + "/insert/datadog/api/v2/logs", Client: http.DefaultClient})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, trail); err != nil {
			t.Fatal(err)
		}
		vl.Flush(t)
		if code, report := verifyFrom(t, "victorialogs+"+vl.URL); code != 0 || !strings.Contains(report, fmt.Sprintf(`"records": %d`, len(trail))) {
			t.Fatalf("verify exit %d, want 0 with %d records:\n%s", code, len(trail), report)
		}
	})

	t.Run("a record lost in the SIEM is missing", func(t *testing.T) {
		vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
		s, err := elasticsearch.New(elasticsearch.Config{URL: vl.URL + "/insert/elasticsearch?_time_field=@timestamp&_msg_field=event.action"})
		if err != nil {
			t.Fatal(err)
		}
		lossy := append(append([][]byte{}, trail[:4]...), trail[5:]...)
		if err := s.Write(ctx, lossy); err != nil {
			t.Fatal(err)
		}
		vl.Flush(t)
		if code, report := verifyFrom(t, "victorialogs+"+vl.URL); code != 1 || !strings.Contains(report, `"unaccounted"`) {
			t.Errorf("verify exit %d, want 1 with an unaccounted gap:\n%s", code, report)
		}
	})
}
