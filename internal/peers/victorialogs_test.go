package peers

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// esBulk is an Elasticsearch _bulk body with two documents.
const esBulk = `{"create":{"_index":"audit"}}
{"@timestamp":"2025-11-22T08:00:00Z","message":"es one","sink":"es","event":{"type":"invocation"},"duration_ms":12}
{"create":{"_index":"audit"}}
{"@timestamp":"2025-11-22T08:00:01Z","message":"es two","sink":"es","event":{"type":"shutdown"}}
`

const esBulkQuery = "/insert/elasticsearch/_bulk?_msg_field=message&_time_field=@timestamp"

// ddLogs is a Datadog logs v2 body with one log.
const ddLogs = `[{"message":"dd one","ddsource":"audittrail","service":"audit-ext","hostname":"fn-1","ddtags":"env:test,sink:dd"}]`

func TestVictoriaLogsIngest(t *testing.T) {
	t.Parallel()
	vl := VictoriaLogs(t, VictoriaLogsOptions{})
	client := &http.Client{}

	status, answer := post(t, client, vl.URL+esBulkQuery, "application/x-ndjson", nil, esBulk)
	if status != http.StatusOK || !strings.Contains(answer, `"errors":false`) {
		t.Fatalf("_bulk: %d %s, want 200 without errors", status, answer)
	}
	status, answer = post(t, client, vl.URL+"/insert/datadog/api/v2/logs", "application/json",
		http.Header{"Dd-Api-Key": {"ignored"}}, ddLogs)
	if status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("datadog: %d %s, want 200 or 202", status, answer)
	}

	es := vl.Query(t, "sink:es")
	var msgs []string
	for _, row := range es {
		msgs = append(msgs, row["_msg"])
	}
	sort.Strings(msgs)
	if !reflect.DeepEqual(msgs, []string{"es one", "es two"}) {
		t.Fatalf("sink:es rows = %v", es)
	}
	for _, row := range es {
		if row["_msg"] == "es one" && (row["event.type"] != "invocation" || row["duration_ms"] != "12" || row["_time"] != "2025-11-22T08:00:00Z") {
			t.Errorf("es one = %v, want flattened fields, numbers as text and the document's time", row)
		}
	}

	dd := vl.Query(t, `service:"audit-ext"`)
	if len(dd) != 1 || dd[0]["_msg"] != "dd one" || dd[0]["ddsource"] != "audittrail" || dd[0]["sink"] != "dd" || dd[0]["env"] != "test" {
		t.Fatalf(`service:"audit-ext" rows = %v, want the Datadog log with its ddtags split into fields`, dd)
	}

	counts := vl.Query(t, "* | stats by (sink) count() n")
	got := map[string]string{}
	for _, row := range counts {
		got[row["sink"]] = row["n"]
	}
	if want := map[string]string{"es": "2", "dd": "1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("counts by sink = %v, want %v", got, want)
	}
}

func TestVictoriaLogsReadOnly(t *testing.T) {
	t.Parallel()
	vl := VictoriaLogs(t, VictoriaLogsOptions{ReadOnly: true})
	url := vl.URL
	// A fresh client per step: SetReadOnly restarts the server, which closes
	// the connections a client keeps.
	send := func() (int, string) {
		return post(t, &http.Client{}, vl.URL+esBulkQuery, "application/x-ndjson", nil, esBulk)
	}

	if status, answer := send(); status != http.StatusTooManyRequests || !strings.Contains(answer, "read-only") {
		t.Fatalf("_bulk to read-only storage: %d %s, want 429 read-only", status, answer)
	}
	vl.SetReadOnly(t, false)
	if vl.URL != url {
		t.Fatalf("URL changed across SetReadOnly: %s -> %s", url, vl.URL)
	}
	if status, answer := send(); status != http.StatusOK {
		t.Fatalf("_bulk after SetReadOnly(false): %d %s, want 200", status, answer)
	}
	vl.SetReadOnly(t, true)
	if status, answer := send(); status != http.StatusTooManyRequests {
		t.Fatalf("_bulk after SetReadOnly(true): %d %s, want 429", status, answer)
	}
	if rows := vl.Query(t, "sink:es"); len(rows) != 2 {
		t.Fatalf("rows stored while writable = %v, want 2 kept across restarts", rows)
	}
}
