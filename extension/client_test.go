package extension

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSubscribeAnswers covers answers lambdasim does not give: AWS's own
// emulator (RIE, SAM local) answers 202 Telemetry.NotSupported, which must
// count as "not subscribed", or every invoke would wait for a
// platform.runtimeDone that never comes. A hand-written server stands in.
func TestSubscribeAnswers(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantErr  bool
		wantType string
	}{
		{"ok", 200, "OK", false, ""},
		{"emulator 202", 202, `{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}`, true, "Telemetry.NotSupported"},
		{"validation", 400, `{"errorType":"ValidationError","errorMessage":"bad schema"}`, true, "ValidationError"},
		{"plain text error", 500, "boom", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotID string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotID = r.Header.Get("Lambda-Extension-Identifier")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
			c.id = "ext-1"
			err := c.Subscribe(t.Context(), Subscription{SchemaVersion: "2025-01-29"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if gotID != "ext-1" {
				t.Errorf("identifier header = %q", gotID)
			}
			var apiErr *APIError
			if tt.wantErr && (!errors.As(err, &apiErr) || apiErr.Type != tt.wantType || apiErr.Status != tt.status) {
				t.Errorf("error = %#v, want type %q status %d", err, tt.wantType, tt.status)
			}
		})
	}
}

// TestSubscribeFallsBack: a platform that refuses schema 2025-01-29 (older
// Lambda versions; lambdasim accepts it) gets 2022-12-13; one that refuses
// both leaves the extension running without telemetry.
func TestSubscribeFallsBack(t *testing.T) {
	tests := []struct {
		name    string
		accept  string
		want    bool
		schemas []string
	}{
		{"newest accepted", "2025-01-29", true, []string{"2025-01-29"}},
		{"falls back", "2022-12-13", true, []string{"2025-01-29", "2022-12-13"}},
		{"none accepted", "", false, []string{"2025-01-29", "2022-12-13"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tried []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var s Subscription
				_ = json.NewDecoder(r.Body).Decode(&s)
				tried = append(tried, s.SchemaVersion)
				if s.SchemaVersion != tt.accept || s.Buffering.TimeoutMs != 25 || s.Destination.URI != "http://sandbox.localdomain:1/telemetry" {
					w.WriteHeader(400)
					_, _ = w.Write([]byte(`{"errorType":"ValidationError","errorMessage":"schemaVersion"}`))
					return
				}
				_, _ = w.Write([]byte("OK"))
			}))
			defer srv.Close()
			c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			if got := subscribe(t.Context(), c, "http://sandbox.localdomain:1/telemetry", []string{"platform"}, log); got != tt.want {
				t.Errorf("subscribed = %v, want %v", got, tt.want)
			}
			if strings.Join(tried, ",") != strings.Join(tt.schemas, ",") {
				t.Errorf("tried %v, want %v", tried, tt.schemas)
			}
		})
	}
}
