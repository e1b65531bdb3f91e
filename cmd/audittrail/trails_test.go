package main

import (
	"strings"
	"testing"
)

// TestBackendOf: --from names a SIEM by its scheme prefix, and its
// credentials come from the environment or the URL's user info, never
// staying in the URL.
func TestBackendOf(t *testing.T) {
	env := map[string]string{
		"AUDITTRAIL_ELASTICSEARCH_API_KEY": "es-key",
		"SPLUNK_TOKEN":                     "splunk-token",
		"DD_API_KEY":                       "dd-api",
		"DD_APP_KEY":                       "dd-app",
	}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		from    string
		scheme  string // "": a file path
		url     string
		headers map[string]string
		err     string
	}{
		{"demo-trail", "", "", nil, ""},
		{"victorialogs+http://127.0.0.1:9428", "victorialogs+", "victorialogs+http://127.0.0.1:9428", nil, ""},
		{"elasticsearch+https://es.example.com:9200/logs-audittrail-default", "elasticsearch+", "https://es.example.com:9200/logs-audittrail-default",
			map[string]string{"Authorization": "ApiKey es-key"}, ""},
		{"elasticsearch+https://reader:s3cret@es.example.com:9200", "elasticsearch+", "https://es.example.com:9200",
			map[string]string{"Authorization": "Basic cmVhZGVyOnMzY3JldA=="}, ""},
		{"splunk+https://splunk.example.com:8089?index=audit", "splunk+", "https://splunk.example.com:8089?index=audit",
			map[string]string{"Authorization": "Bearer splunk-token"}, ""},
		{"datadog+https://api.datadoghq.eu", "datadog+", "https://api.datadoghq.eu",
			map[string]string{"Dd-Api-Key": "dd-api", "Dd-Application-Key": "dd-app"}, ""},
		{"splunk+ftp://splunk.example.com", "splunk+", "", nil, "want splunk+https://"},
		{"elasticsearch+https://u:hunter2@", "elasticsearch+", "", nil, "want elasticsearch+https://"},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			b, src, ok, err := backendOf(tt.from, getenv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %v, want one saying %q without the password", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.scheme != "") || ok && b.scheme != tt.scheme {
				t.Fatalf("backend %q (ok %v), want %q", b.scheme, ok, tt.scheme)
			}
			if !ok {
				return
			}
			if src.URL != tt.url {
				t.Errorf("URL %q, want %q", src.URL, tt.url)
			}
			for k, v := range tt.headers {
				if got := src.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
