package extension

import (
	"io"
	"strings"
	"testing"
)

func TestTeeKeepsABoundedPrefix(t *testing.T) {
	tests := []struct {
		name, body string
		limit      int
		prefix     string
		truncated  bool
	}{
		{"whole", "hello", 10, "hello", false},
		{"prefix", "hello world", 5, "hello", true},
		{"empty", "", 5, "", false},
		{"no inspection", "hello", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var size int64
			var trunc bool
			p := &proxy{limit: tt.limit, failed: func(err error) { t.Fatal(err) }}
			body := p.tee(io.NopCloser(strings.NewReader(tt.body)), func(b []byte, n int64, tr bool) { got, size, trunc = string(b), n, tr })
			passed, err := io.ReadAll(body)
			if err != nil || string(passed) != tt.body {
				t.Fatalf("passed %q, %v", passed, err)
			}
			_ = body.Close()
			if got != tt.prefix || size != int64(len(tt.body)) || trunc != tt.truncated {
				t.Errorf("prefix %q size %d truncated %v", got, size, trunc)
			}
		})
	}
}

// TestTeeSurvivesInspectionFailure: a failure in the inspection is
// reported and the bytes still pass.
func TestTeeSurvivesInspectionFailure(t *testing.T) {
	var failure error
	p := &proxy{limit: 4, failed: func(err error) { failure = err }}
	body := p.tee(io.NopCloser(strings.NewReader("payload")), func([]byte, int64, bool) { panic("normalizer bug") })
	passed, err := io.ReadAll(body)
	if err != nil || string(passed) != "payload" {
		t.Fatalf("passed %q, %v", passed, err)
	}
	if failure == nil || !strings.Contains(failure.Error(), "normalizer bug") {
		t.Errorf("failure = %v", failure)
	}
	if err := body.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestInvocationResultPaths(t *testing.T) {
	tests := []struct {
		path, id, kind string
		ok             bool
	}{
		{"/2018-06-01/runtime/invocation/abc-1/response", "abc-1", "response", true},
		{"/2018-06-01/runtime/invocation/abc-1/error", "abc-1", "error", true},
		{"/2018-06-01/runtime/invocation/next", "", "", false},
		{"/2018-06-01/runtime/invocation//response", "", "", false},
		{"/2018-06-01/runtime/invocation/abc/other", "", "", false},
		{"/2018-06-01/runtime/init/error", "", "", false},
		{"/2020-01-01/extension/event/next", "", "", false},
	}
	for _, tt := range tests {
		id, kind, ok := invocationResult(tt.path)
		if id != tt.id || kind != tt.kind || ok != tt.ok {
			t.Errorf("invocationResult(%q) = %q %q %v", tt.path, id, kind, ok)
		}
	}
}

// FuzzInvocationResult: any path parses or is refused, never panics, and
// an accepted path rebuilds from its parts.
func FuzzInvocationResult(f *testing.F) {
	f.Add("/2018-06-01/runtime/invocation/abc/response")
	f.Add("/2018-06-01/runtime/invocation/a/b/error")
	f.Fuzz(func(t *testing.T, path string) {
		id, kind, ok := invocationResult(path)
		if ok && pathInvocation+id+"/"+kind != path {
			t.Fatalf("%q parsed as %q %q", path, id, kind)
		}
	})
}
