package elasticsearch

import (
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/sinks"
)

// The kinds of result classify gives.
const (
	wantOK        = "ok"
	wantTransient = "transient"
	wantThrottled = "throttled"
	wantPermanent = "permanent"
	wantPartial   = "partial"
)

// kindOf names the class of err.
func kindOf(err error) string {
	var pe *sinks.PartialError
	_, throttled := sinks.RetryAfter(err)
	switch {
	case err == nil:
		return wantOK
	case errors.As(err, &pe):
		return wantPartial
	case sinks.IsPermanent(err):
		return wantPermanent
	case throttled:
		return wantThrottled
	default:
		return wantTransient
	}
}

// answer builds the HTTP answer of a receiver.
func answer(status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestClassifyDocumentedAnswers classifies the answers of
// testdata/responses (see SOURCES.md there). Documented examples, no real
// peer here produces them: VictoriaLogs, the one _bulk receiver available,
// always answers errors:false, and never with per-item errors.
func TestClassifyDocumentedAnswers(t *testing.T) {
	for _, tt := range []struct {
		file     string // under testdata/responses; "" for an empty body
		status   int
		header   http.Header
		n        int
		withID   bool
		want     string
		rejected []int
		retry    bool
		mention  string // a part of the error message
	}{
		// Taken.
		{file: "spec_example1_successes.json", status: 200, n: 4, withID: true, want: wantOK},
		{file: "victorialogs_created.json", status: 200, n: 2, withID: true, want: wantOK},
		{file: "failure_store.json", status: 200, n: 2, withID: true, want: wantOK},
		{file: "aoss_created.json", status: 200, n: 2, want: wantOK},
		// A resend: the documents already there answer 409 and count as delivered.
		{file: "create_conflicts.json", status: 200, n: 4, withID: true, want: wantOK},
		// Without _id a 409 cannot mean "already there".
		{file: "create_conflicts.json", status: 200, n: 4, withID: false, want: wantPartial, rejected: []int{0, 1}, mention: "version_conflict_engine_exception"},
		// Per-item failures.
		{file: "spec_example2_failed_actions.json", status: 200, n: 3, withID: true, want: wantPartial, rejected: []int{0, 1}, mention: "404 document_missing_exception: [5]: document missing"},
		{file: "rejected_execution.json", status: 200, n: 4, withID: true, want: wantPartial, retry: true, mention: "2 of 4 failed for now (first: 429 es_rejected_execution_exception"},
		{file: "mapping_and_unavailable.json", status: 200, n: 4, withID: true, want: wantPartial, rejected: []int{0, 3}, retry: true, mention: "document_parsing_exception"},
		{file: "cluster_block.json", status: 200, n: 2, withID: true, want: wantPartial, retry: true, mention: "cluster_block_exception"},
		{file: "unauthorized_index.json", status: 200, n: 2, withID: true, want: wantPartial, rejected: []int{0, 1}, mention: "security_exception"},
		// Answers that do not say what was stored.
		{file: "spec_example3_filter_path.json", status: 200, n: 2, withID: true, want: wantTransient, mention: "no errors field"},
		{file: "spec_example2_failed_actions.json", status: 200, n: 5, withID: true, want: wantTransient, mention: "3 items for 5 documents"},
		// VictoriaLogs's answer to a request it stopped reading (peers.md).
		{file: "", status: 200, n: 2, withID: true, want: wantTransient, mention: "not a bulk response"},
		// Whole requests refused.
		{file: "error_no_newline.json", status: 400, n: 2, withID: true, want: wantPermanent, mention: "terminated by a newline"},
		{file: "error_unauthenticated.json", status: 401, n: 2, withID: true, want: wantPermanent, mention: "missing authentication credentials"},
		{file: "error_aoss_forbidden.json", status: 403, n: 2, want: wantPermanent, mention: "403 Forbidden"},
		{file: "", status: 413, n: 2, withID: true, want: wantPermanent, mention: "413"},
		// Whole requests failed for now.
		{file: "error_rejected_execution.json", status: 429, n: 2, withID: true, want: wantTransient, mention: "es_rejected_execution_exception"},
		{file: "error_rejected_execution.json", status: 429, header: http.Header{"Retry-After": {"3"}}, n: 2, withID: true, want: wantThrottled},
		{file: "", status: 502, n: 2, withID: true, want: wantTransient},
		{file: "", status: 503, header: http.Header{"Retry-After": {"1"}}, n: 2, withID: true, want: wantThrottled},
	} {
		name := tt.file
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			body := ""
			if tt.file != "" {
				body = readFile(t, "testdata/responses/"+tt.file)
			}
			err := classify(answer(tt.status, tt.header, body), tt.n, tt.withID)
			if got := kindOf(err); got != tt.want {
				t.Fatalf("HTTP %d: %s (%v), want %s", tt.status, got, err, tt.want)
			}
			if tt.mention != "" && (err == nil || !strings.Contains(err.Error(), tt.mention)) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			var pe *sinks.PartialError
			if errors.As(err, &pe) && (!slices.Equal(pe.Rejected, tt.rejected) || pe.Retry != tt.retry) {
				t.Errorf("rejected %v, retry %v; want %v, %v", pe.Rejected, pe.Retry, tt.rejected, tt.retry)
			}
		})
	}
}

func TestClassifyItem(t *testing.T) {
	for _, tt := range []struct {
		status int
		typ    string
		withID bool
		want   itemClass
	}{
		{201, "", true, itemTaken},
		{200, "", true, itemTaken},
		{409, "version_conflict_engine_exception", true, itemTaken},
		{409, "version_conflict_engine_exception", false, itemRefuse},
		{409, "something_else", true, itemRefuse},
		{429, "es_rejected_execution_exception", true, itemRetry},
		{429, "circuit_breaking_exception", true, itemRetry},
		{503, "unavailable_shards_exception", true, itemRetry},
		{500, "", true, itemRetry},
		{408, "", true, itemRetry},
		{403, "cluster_block_exception", true, itemRetry},
		{0, "", true, itemRetry}, // no status: no verdict
		{400, "mapper_parsing_exception", true, itemRefuse},
		{400, "document_parsing_exception", true, itemRefuse},
		{400, "illegal_argument_exception", true, itemRefuse},
		{403, "security_exception", true, itemRefuse},
		{404, "index_not_found_exception", true, itemRefuse},
	} {
		if got := classifyItem(tt.status, tt.typ, tt.withID); got != tt.want {
			t.Errorf("classifyItem(%d, %q, %v) = %v, want %v", tt.status, tt.typ, tt.withID, got, tt.want)
		}
	}
}

func TestParseBulkOddButReadable(t *testing.T) {
	for _, tt := range []struct {
		body string
		want string
	}{
		// errors after items, an unknown top-level field, an old string error.
		{`{"items":[{"create":{"status":400,"error":"MapperParsingException[failed to parse]"}}],"took":1,"ingest_took":0,"errors":true}`, wantPartial},
		// An item without any operation gives no verdict.
		{`{"errors":true,"items":[{}]}`, wantPartial},
		{`{"errors":true,"items":[{"create":{"status":201}}]}`, wantOK},
		{`{"errors":"yes","items":[]}`, wantTransient},
		{`{"errors":true,"items":{}}`, wantTransient},
		{`[]`, wantTransient},
		{`{"errors":true,"items":[{"create":{"status":201}}]`, wantOK}, // items read, then the body is cut: what we have says it all
		{`{"errors":true`, wantTransient},
	} {
		err := parseBulk(strings.NewReader(tt.body), 1, true)
		if got := kindOf(err); got != tt.want {
			t.Errorf("parseBulk(%s): %s (%v), want %s", tt.body, got, err, tt.want)
		}
	}
}

func TestShortKeepsMessagesToOneLine(t *testing.T) {
	s := short("line one\nline two\x00\xff" + strings.Repeat("é", 300))
	if strings.ContainsAny(s, "\n\x00") || len(s) > maxReason+3 || !strings.HasSuffix(s, "...") || !strings.HasPrefix(s, "line one line two") {
		t.Errorf("short gave %q", s)
	}
}
