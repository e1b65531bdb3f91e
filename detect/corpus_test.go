package detect

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// corpusDir holds the labelled corpus: one request a line, in the format
// of `audittrail normalize --stream`, with the finding types expected of
// it.
const corpusDir = "testdata/corpus"

// corpusLine is one line of the corpus.
type corpusLine struct {
	Time string `json:"time"`
	// Event is the Lambda event.
	Event json.RawMessage `json:"event"`
	// Response is the function's result ({"statusCode", "headers",
	// "body", "isBase64Encoded"}) or null.
	Response json.RawMessage `json:"response"`
	// Label lists the finding types expected (none: benign).
	Label []string `json:"label"`
	Note  string   `json:"note"`
}

// corpusRequestBody is the extension's default bound on request bodies
// (DefaultConfig's RequestBodyBytes).
const corpusRequestBody = 16 << 10

// Acceptance bounds of the detectors on the corpus.
const (
	minRecall = 0.95
	maxFPR    = 0.02
)

// confusion counts one detector's verdicts.
type confusion struct{ tp, fp, fn, tn int }

func (c *confusion) add(want, got bool) {
	switch {
	case want && got:
		c.tp++
	case want:
		c.fn++
	case got:
		c.fp++
	default:
		c.tn++
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (c confusion) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c confusion) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c confusion) fpr() float64       { return ratio(c.fp, c.fp+c.tn) }

// corpusDetectors are the detectors the corpus judges: each reads a line
// and says whether it reports its finding type.
func corpusDetectors() []struct {
	typ string
	run func(l corpusLine) bool
} {
	return []struct {
		typ string
		run func(l corpusLine) bool
	}{
		{schema.FindingInjectionAttempt, func(l corpusLine) bool {
			req, ok := ParseRequest(l.Event, corpusRequestBody)
			return ok && len(Injection(&req)) > 0
		}},
		{schema.FindingSensitiveDataExposure, func(l corpusLine) bool {
			body := corpusResponseBody(l.Response)
			return len(body) > 0 && len(Sensitive(body, SensitiveOptions{})) > 0
		}},
	}
}

// corpusResponseBody is the body of a line's response: the body field of
// an HTTP integration response (base64 undone), the response itself when
// it is a bare value, nothing when null.
func corpusResponseBody(resp json.RawMessage) []byte {
	if len(resp) == 0 || string(resp) == "null" {
		return nil
	}
	var r struct {
		StatusCode      *int    `json:"statusCode"`
		Body            *string `json:"body"`
		IsBase64Encoded bool    `json:"isBase64Encoded"`
	}
	if json.Unmarshal(resp, &r) != nil || r.StatusCode == nil {
		return resp
	}
	if r.Body == nil {
		return nil
	}
	if r.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(*r.Body)
		if err != nil {
			return nil
		}
		return b
	}
	return []byte(*r.Body)
}

// readCorpus reads every *.ndjson file of the corpus, in name order.
func readCorpus(t *testing.T) (files []string, lines map[string][]corpusLine) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.ndjson"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus in %s: %v", corpusDir, err)
	}
	slices.Sort(paths)
	lines = map[string][]corpusLine{}
	known := Names()
	for _, p := range paths {
		name := filepath.Base(p)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 8<<20)
		for n := 1; sc.Scan(); n++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var l corpusLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s:%d: %v", name, n, err)
			}
			if _, err := time.Parse(time.RFC3339, l.Time); err != nil || len(l.Event) == 0 || l.Label == nil || l.Note == "" {
				t.Fatalf("%s:%d: want time (RFC 3339), event, label and note", name, n)
			}
			for _, typ := range l.Label {
				if !slices.Contains(known, typ) {
					t.Fatalf("%s:%d: unknown finding type %q", name, n, typ)
				}
			}
			lines[name] = append(lines[name], l)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files = append(files, name)
	}
	return files, lines
}

// TestCorpus runs Injection and Sensitive over the labelled corpus,
// fails when a detector's recall is under minRecall or its false-positive
// rate over maxFPR, and keeps the measured table in
// testdata/corpus/results.md (-update rewrites it). Lines labelled with
// other finding types are negatives for these two detectors.
func TestCorpus(t *testing.T) {
	files, lines := readCorpus(t)
	dets := corpusDetectors()
	total := make([]confusion, len(dets))
	perFile := map[string][]confusion{}
	var misses []string
	for _, name := range files {
		perFile[name] = make([]confusion, len(dets))
		for n, l := range lines[name] {
			for d, det := range dets {
				want, got := slices.Contains(l.Label, det.typ), det.run(l)
				total[d].add(want, got)
				perFile[name][d].add(want, got)
				if want != got {
					kind := "false positive"
					if want {
						kind = "missed"
					}
					misses = append(misses, fmt.Sprintf("| %s:%d | %s | %s | %s |", name, n+1, det.typ, kind, l.Note))
				}
			}
		}
	}

	var md strings.Builder
	md.WriteString("# Detector results on the labelled corpus\n\n")
	md.WriteString("Measured by `go test -run TestCorpus ./detect/` (rewritten with `-update`) over every\n")
	md.WriteString("`testdata/corpus/*.ndjson` line; a line is positive for a detector when its label names the\n")
	md.WriteString("detector's finding type, negative otherwise. Acceptance: recall at least ")
	fmt.Fprintf(&md, "%.2f, false-positive rate at most %.2f.\n\n", minRecall, maxFPR)
	md.WriteString("| detector | lines | TP | FP | FN | TN | precision | recall | false-positive rate |\n")
	md.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for d, det := range dets {
		c := total[d]
		fmt.Fprintf(&md, "| %s | %d | %d | %d | %d | %d | %.3f | %.3f | %.3f |\n", det.typ, c.tp+c.fp+c.fn+c.tn, c.tp, c.fp, c.fn, c.tn, c.precision(), c.recall(), c.fpr())
	}
	md.WriteString("\n## Per file\n\n| file | lines |")
	for _, det := range dets {
		fmt.Fprintf(&md, " %s (TP/FP/FN/TN) |", det.typ)
	}
	md.WriteString("\n|---|---:|")
	for range dets {
		md.WriteString("---|")
	}
	md.WriteString("\n")
	for _, name := range files {
		fmt.Fprintf(&md, "| %s | %d |", name, len(lines[name]))
		for d := range dets {
			c := perFile[name][d]
			fmt.Fprintf(&md, " %d/%d/%d/%d |", c.tp, c.fp, c.fn, c.tn)
		}
		md.WriteString("\n")
	}
	md.WriteString("\n## Lines the detectors get wrong\n\n")
	if len(misses) == 0 {
		md.WriteString("None.\n")
	} else {
		md.WriteString("| line | detector | error | note |\n|---|---|---|---|\n")
		md.WriteString(strings.Join(misses, "\n") + "\n")
	}
	t.Log("\n" + md.String())

	for d, det := range dets {
		c := total[d]
		if c.tp+c.fn == 0 || c.fp+c.tn == 0 {
			t.Errorf("%s: the corpus needs positive and negative lines", det.typ)
			continue
		}
		if c.recall() < minRecall {
			t.Errorf("%s: recall %.3f, want at least %.2f", det.typ, c.recall(), minRecall)
		}
		if c.fpr() > maxFPR {
			t.Errorf("%s: false-positive rate %.3f, want at most %.2f", det.typ, c.fpr(), maxFPR)
		}
	}

	golden := filepath.Join(corpusDir, "results.md")
	if *update {
		if err := os.WriteFile(golden, []byte(md.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCorpus -update ./detect/)", err)
	}
	if string(want) != md.String() {
		t.Errorf("%s is not what the detectors measure now: run go test -run TestCorpus -update ./detect/ and review the diff", golden)
	}
}

// TestCorpusSize keeps the corpus as large as issue 8 asks: 300 benign
// lines and 40 per attack class at least.
func TestCorpusSize(t *testing.T) {
	_, lines := readCorpus(t)
	for file, min := range map[string]int{"benign.ndjson": 300, "sqli.ndjson": 40, "xss.ndjson": 40, "traversal.ndjson": 40, "cmd.ndjson": 40, "ssrf.ndjson": 40, "sensitive.ndjson": 40} {
		if n := len(lines[file]); n < min {
			t.Errorf("%s: %d lines, want at least %d", file, n, min)
		}
	}
}
