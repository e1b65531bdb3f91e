package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/peers"
)

// TestQueryVictoriaLogs runs `audittrail query --from victorialogs+URL`
// against a real VictoriaLogs holding queryTrail.
func TestQueryVictoriaLogs(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	body := strings.Join(queryTrail, "\n") + "\n"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, vl.URL+"/insert/jsonline?_time_field=@timestamp&_msg_field=event.action", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("insert: %s", resp.Status)
	}
	vl.Flush(t)
	now := time.Date(2026, 11, 22, 10, 0, 4, 0, time.UTC)
	from := "victorialogs+" + vl.URL
	tests := []struct {
		name string
		args []string
		ids  []string
	}{
		{"filter", []string{"http.response.status_code>=400 user.id=user-*"}, []string{"3", "4"}},
		{"all", []string{""}, []string{"1", "2", "3", "4", "5"}},
		{"since and until", []string{"--since", "2026-11-22T10:00:01Z", "--until", "2026-11-22T10:00:03Z", ""}, []string{"2", "3"}},
		{"limit: the newest", []string{"--limit", "1", "http.request.method=GET"}, []string{"4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"--from", from, "--output", "ndjson"}, tt.args...)
			if code := queryCommand(t.Context(), args, now, noEnv, &out, &errOut); code != 0 {
				t.Fatalf("exit code %d: %s", code, errOut.String())
			}
			var got []string
			for line := range strings.Lines(out.String()) {
				var rec struct {
					Event struct{ ID string } `json:"event"`
					HTTP  struct {
						Request struct{ Method string } `json:"request"`
					} `json:"http"`
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not nested ndjson: %q", out.String())
				}
				got = append(got, rec.Event.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.ids) {
				t.Errorf("records %v, want %v", got, tt.ids)
			}
		})
	}

	t.Run("table", func(t *testing.T) {
		var out, errOut bytes.Buffer
		args := []string{"--from", from, "--fields", "event.id,http.route,http.response.status_code", "event.id=3"}
		if code := queryCommand(t.Context(), args, now, noEnv, &out, &errOut); code != 0 {
			t.Fatalf("exit code %d: %s", code, errOut.String())
		}
		want := "event.id  http.route   http.response.status_code\n3         /users/{id}  403\n"
		if out.String() != want {
			t.Errorf("table\n%s\nwant\n%s", out.String(), want)
		}
	})
	t.Run("server error", func(t *testing.T) {
		var out, errOut bytes.Buffer
		args := []string{"--from", "victorialogs+http://" + strings.TrimPrefix(vl.URL, "http://") + "/nope", "--output", "ndjson", ""}
		if code := queryCommand(t.Context(), args, now, noEnv, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "victorialogs") {
			t.Errorf("exit code %d, stderr %q; want 1 and a victorialogs error", code, errOut.String())
		}
	})
}
