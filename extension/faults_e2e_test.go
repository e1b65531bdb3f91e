package extension_test

// Fault tests of the delivery core: the real extension under lambdasim
// delivers to the file store and, through its http sink, to a receiver the
// test controls. The receiver is a test device, not a SIEM: it decodes what
// any NDJSON HTTP input would, and can be told to be down, to hang, or to
// refuse, on command and deterministically — faults the real receivers of
// the SIEM sinks only give through a network proxy. In every case the
// records the extension made are all delivered (after removing duplicates
// by event.id) or accounted for by coverage-gap records, as checked by
// `audittrail verify` itself.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim"
	"github.com/audittrail/audittrail/layer"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks/file"
	"github.com/klauspost/compress/gzip"
)

// Receiver modes.
const (
	up     = "up"     // 204, records kept
	down   = "down"   // 503
	hang   = "hang"   // no answer until the client gives up
	refuse = "refuse" // 400: the records are refused for good
)

// receiver is the controllable NDJSON endpoint the http sink posts to.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	// mode is one of up, down, hang, refuse.
	mode    string
	records [][]byte
	// hung counts requests left hanging; each sends on gaveUp once its
	// client gave up (closed the connection or cancelled).
	hung   int
	gaveUp chan struct{}
	// closed ends hanging requests when the test is over.
	closed chan struct{}
}

func newReceiver(t *testing.T, mode string) *receiver {
	r := &receiver{mode: mode, gaveUp: make(chan struct{}, 1000), closed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(r.closed) }) // first: cleanups run last in, first out
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	mode := r.mode
	if mode == hang {
		r.hung++
	}
	r.mu.Unlock()
	switch mode {
	case hang:
		// Read the request whole: only then does the server watch the
		// connection, and end the request's context when the client goes.
		_, _ = io.Copy(io.Discard, req.Body)
		select {
		case <-req.Context().Done():
			r.gaveUp <- struct{}{}
		case <-r.closed:
		}
		return
	case down:
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	case refuse:
		http.Error(w, `{"error":"mapping conflict"}`, http.StatusBadRequest)
		return
	}
	body := io.Reader(req.Body)
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for line := range bytes.Lines(data) {
		r.records = append(r.records, bytes.TrimSuffix(line, []byte("\n")))
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) set(mode string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = mode
}

func (r *receiver) got() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.records)
}

// hungCount returns how many requests were left hanging so far.
func (r *receiver) hungCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hung
}

// faultLambda is a function whose trail goes to the file store and to rcv,
// delivered after every invoke (AUDITTRAIL_FLUSH=end: the strictest case).
func faultLambda(t *testing.T, rcv *receiver, mutate func(*lambdasim.Config)) *lambda {
	tmp := t.TempDir()
	return faultLambdaIn(t, tmp, rcv, mutate)
}

// faultLambdaIn is faultLambda with the sandbox's /tmp at tmp.
func faultLambdaIn(t *testing.T, tmp string, rcv *receiver, mutate func(*lambdasim.Config)) *lambda {
	return newLambda(t, true, func(c *lambdasim.Config) {
		c.TmpDir = tmp
		c.Env["AUDITTRAIL_SINKS"] = "file,http"
		c.Env["AUDITTRAIL_HTTP_URL"] = rcv.srv.URL
		c.Env["AUDITTRAIL_FLUSH"] = "end"
		if mutate != nil {
			mutate(c)
		}
	})
}

// verifyReport is `audittrail verify --json`'s report.
type verifyReport struct {
	OK           bool               `json:"ok"`
	Environments []schema.EnvReport `json:"environments"`
}

// runVerify runs `audittrail verify --json` over the given trails, each a
// list of lines (records, or the extension's marked stdout lines among
// other log lines).
func runVerify(t *testing.T, trails ...[][]byte) verifyReport {
	t.Helper()
	var args []string
	for i, lines := range trails {
		p := filepath.Join(t.TempDir(), "trail"+string(rune('a'+i))+".ndjson")
		if err := os.WriteFile(p, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(binary, append([]string{"verify", "--json"}, args...)...).Output()
	var rep verifyReport
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		t.Fatalf("verify: %v, %v: %s", err, jerr, out)
	}
	if rep.OK != (err == nil) {
		t.Errorf("verify's exit status (%v) disagrees with its report (ok %v)", err, rep.OK)
	}
	return rep
}

// requireComplete fails unless every environment verifies, and every one
// in closed is closed (it had its SHUTDOWN).
func requireComplete(t *testing.T, rep verifyReport, closed int) {
	t.Helper()
	n := 0
	for _, e := range rep.Environments {
		if !e.OK() {
			t.Errorf("environment %s: unaccounted %v, breaks %v", e.EnvID, e.Unaccounted, e.Breaks)
		}
		if e.Closed {
			n++
		}
	}
	if !rep.OK || n != closed {
		t.Fatalf("verify: ok %v, %d closed environments, want %d: %+v", rep.OK, n, closed, rep.Environments)
	}
}

// fileTrail reads the file store back as lines.
func fileTrail(t *testing.T, l *lambda) [][]byte {
	t.Helper()
	var out [][]byte
	if err := file.Scan(l.trail, func(b []byte) error { out = append(out, slices.Clone(b)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// logLines returns the function's CloudWatch Logs (the processes' output).
func logLines(l *lambda) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(strings.NewReader(l.logs.String()))
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		out = append(out, slices.Clone(sc.Bytes()))
	}
	return out
}

// ids returns the distinct event.ids of records (marked lines unwrapped)
// and how many records carried a duplicate.
func ids(t *testing.T, lines [][]byte) (map[string]bool, int) {
	t.Helper()
	out, dups := map[string]bool{}, 0
	for _, l := range lines {
		var rec struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
			Record *struct {
				Event struct {
					ID string `json:"id"`
				} `json:"event"`
			} `json:"record"`
		}
		if json.Unmarshal(l, &rec) != nil {
			continue
		}
		id := rec.Event.ID
		if rec.Record != nil {
			id = rec.Record.Event.ID
		}
		if id == "" {
			continue
		}
		if out[id] {
			dups++
		}
		out[id] = true
	}
	return out, dups
}

// gapsOf returns the coverage-gap records among lines.
func gapsOf(lines [][]byte) []schema.Gap {
	var out []schema.Gap
	for _, l := range lines {
		var r schema.Record
		if json.Unmarshal(l, &r) == nil && r.Gap != nil {
			out = append(out, *r.Gap)
		}
	}
	return out
}

func invokeOK(t *testing.T, l *lambda, path string) *lambdasim.Result {
	t.Helper()
	res := l.invoke(t, "GET", path)
	if res.ErrorType != "" {
		t.Fatalf("GET %s: %s %s", path, res.ErrorType, res.Payload)
	}
	return res
}

// TestSinkDownThenBack: the receiver is down for five invokes, then back.
// Nothing is lost: it ends up holding every record the file store holds,
// and no coverage gap was needed.
func TestSinkDownThenBack(t *testing.T) {
	rcv := newReceiver(t, down)
	l := faultLambda(t, rcv, nil)
	for range 5 {
		invokeOK(t, l, "/health")
	}
	if n := len(rcv.got()); n != 0 {
		t.Fatalf("a down receiver holds %d records", n)
	}
	rcv.set(up)
	for range 3 {
		invokeOK(t, l, "/users/7")
	}
	l.shutdown(t)
	got := rcv.got()
	requireComplete(t, runVerify(t, got), 1)
	want, _ := ids(t, fileTrail(t, l))
	have, dups := ids(t, got)
	if len(want) < 8 || !mapsEqual(have, want) {
		t.Fatalf("receiver holds %d distinct records (%d duplicates), the file store %d", len(have), dups, len(want))
	}
	if g := gapsOf(got); len(g) != 0 {
		t.Errorf("coverage gaps where nothing was lost: %+v", g)
	}
}

// TestHangingSinkIsCutOffBeforeTheFreeze: a receiver that never answers
// costs each invoke at most the flush budget, and every request it left
// hanging was abandoned before the freeze — the extension's connection
// closes while the process is stopped, which a frozen process cannot do.
// The records of the abandoned sends come later, when it answers again.
func TestHangingSinkIsCutOffBeforeTheFreeze(t *testing.T) {
	rcv := newReceiver(t, hang)
	l := faultLambda(t, rcv, nil)
	abandoned := 0
	for i := range 5 {
		invokeOK(t, l, "/health")
		// Lambda froze the environment before Invoke returned.
		started := rcv.hungCount()
		if i == 0 && started == 0 {
			t.Fatal("no delivery attempted")
		}
		// After a few failures the sink rests (its circuit is open), and
		// later invokes may try nothing at all.
		for ; abandoned < started; abandoned++ {
			select {
			case <-rcv.gaveUp:
			case <-time.After(10 * time.Second): // a failure bound, not a wait
				t.Fatalf("invoke %d: a send was still in flight at the freeze", i+1)
			}
		}
	}
	rcv.set(up)
	invokeOK(t, l, "/health")
	l.shutdown(t)
	got := rcv.got()
	requireComplete(t, runVerify(t, got), 1)
	want, _ := ids(t, fileTrail(t, l))
	if have, _ := ids(t, got); !mapsEqual(have, want) {
		t.Fatalf("receiver holds %d distinct records, the file store %d", len(have), len(want))
	}
}

// TestShutdownWithSinkDown: the receiver never comes back. At SHUTDOWN the
// records it lacks are written to stdout (CloudWatch Logs) as marked lines:
// the receiver's part and stdout together are the whole trail.
func TestShutdownWithSinkDown(t *testing.T) {
	rcv := newReceiver(t, down)
	l := faultLambda(t, rcv, nil)
	for range 3 {
		invokeOK(t, l, "/users/1")
	}
	sd := l.shutdown(t)
	if !sd.Exited["audittrail"] {
		t.Fatalf("extension did not exit before the shutdown deadline: %+v", sd)
	}
	logs := logLines(l)
	requireComplete(t, runVerify(t, rcv.got(), logs), 1)
	want, _ := ids(t, fileTrail(t, l))
	if have, _ := ids(t, logs); !mapsEqual(have, want) {
		t.Fatalf("stdout holds %d distinct records, the file store %d", len(have), len(want))
	}
}

// TestResetKeepsTheSpool: a timeout, a crash or the OOM killer resets the
// environment while the receiver is down. The records of the old
// environment wait on /tmp, which the reset keeps, and the next
// environment delivers them: the receiver alone ends up with both
// environments whole.
func TestResetKeepsTheSpool(t *testing.T) {
	for _, tt := range []struct{ name, path, errorType string }{
		{"timeout", "/timeout", "Sandbox.Timedout"},
		{"crash", "/panic", "Runtime.ExitError"},
		{"out of memory", "/oom", "Runtime.ExitError"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, down)
			l := faultLambda(t, rcv, func(c *lambdasim.Config) { c.Timeout = time.Second })
			invokeOK(t, l, "/health")
			if res := l.invoke(t, "GET", tt.path); res.ErrorType != tt.errorType {
				t.Fatalf("GET %s: error %q, want %q", tt.path, res.ErrorType, tt.errorType)
			}
			rcv.set(up)
			if res := invokeOK(t, l, "/health"); !res.ColdStart {
				t.Fatal("no re-init after the reset")
			}
			l.shutdown(t)
			got := rcv.got()
			rep := runVerify(t, got)
			requireComplete(t, rep, 2)
			if len(rep.Environments) != 2 {
				t.Fatalf("environments %+v, want the reset one and the new one", rep.Environments)
			}
		})
	}
}

// TestExtensionKilledMidWrite: the extension is SIGKILLed while its records
// wait on the spool, leaving a frame cut short at the end of a segment, as
// a kill in the middle of an append does. The next environment delivers
// everything readable, counts the torn frame in a spool_unreadable gap,
// and never stumbles on it.
func TestExtensionKilledMidWrite(t *testing.T) {
	rcv := newReceiver(t, down)
	tmp := t.TempDir()
	l := faultLambdaIn(t, tmp, rcv, nil)
	for range 3 {
		invokeOK(t, l, "/health")
	}
	// The environment is frozen now; kill the extension where it stands.
	var pid int
	for _, p := range l.sim.Processes() {
		if p.Kind == "extension" && p.Name == "audittrail" {
			pid = p.Pid
		}
	}
	if pid == 0 {
		t.Fatal("extension process not found")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(tmp, "audittrail", "spool", "http", "spool-*"))
	if len(segs) == 0 {
		t.Fatal("no spool segment for the http sink")
	}
	slices.Sort(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A frame header announcing 500 bytes, and only 3 of them.
	if _, err := f.Write([]byte{0xf4, 0x01, 0, 0, 0xde, 0xad, 0xbe, 0xef, '{', '"', 'a'}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rcv.set(up)
	// Lambda finds the extension dead: this invoke fails (Extension.Crash),
	// or, when the function answered first, succeeds; either way the
	// environment is reset.
	if res := l.invoke(t, "GET", "/health"); res.ErrorType != "" && res.ErrorType != "Extension.Crash" {
		t.Fatalf("invoke after the kill: %q, want Extension.Crash or success", res.ErrorType)
	}
	if res := invokeOK(t, l, "/health"); !res.ColdStart {
		t.Fatal("no re-init after the extension died")
	}
	l.shutdown(t)
	got := rcv.got()
	rep := runVerify(t, got)
	// The killed environment is open (no shutdown record) but has no
	// unaccounted hole; the new one is whole.
	requireComplete(t, rep, 1)
	if len(rep.Environments) != 2 {
		t.Fatalf("environments %+v", rep.Environments)
	}
	torn := 0
	for _, g := range gapsOf(got) {
		if g.Reason == schema.GapSpoolUnreadable && g.Sink == "http" {
			torn += int(g.Records)
		}
	}
	if torn != 1 {
		t.Errorf("spool_unreadable gaps count %d records, want the 1 torn frame", torn)
	}
}

// TestSpoolFull: the receiver is down long enough for the spool to fill.
// The oldest records are dropped, and coverage-gap records name every one
// of them, so that the trail still verifies: delivered + accounted =
// produced.
func TestSpoolFull(t *testing.T) {
	rcv := newReceiver(t, down)
	l := faultLambda(t, rcv, func(c *lambdasim.Config) {
		c.Env["AUDITTRAIL_SPOOL_BYTES"] = "65536"                 // 32 KiB for each of the two sinks
		c.Env["AUDITTRAIL_TELEMETRY_TYPES"] = "platform,function" // a log record per line
	})
	for range 12 {
		invokeOK(t, l, "/logs?n=20")
	}
	rcv.set(up)
	invokeOK(t, l, "/health")
	l.shutdown(t)
	got := rcv.got()
	rep := runVerify(t, got)
	requireComplete(t, rep, 1)
	var lost int64
	for _, g := range gapsOf(got) {
		if g.Reason == schema.GapSpoolFull && g.Sink == "http" {
			lost += g.Records
		}
	}
	want, _ := ids(t, fileTrail(t, l))
	have, _ := ids(t, got)
	if lost == 0 || len(rep.Environments[0].Accounted) == 0 {
		t.Fatalf("no loss recorded although the spool overflowed (%d of %d records delivered)", len(have), len(want))
	}
	// Every record the file store has is at the receiver or named lost.
	if int64(len(have))+lost < int64(len(want)) {
		t.Errorf("delivered %d + lost %d < produced %d", len(have), lost, len(want))
	}
}

// TestRefusedRecordsAreDeadLettered: a receiver that refuses the records
// (HTTP 400) is not retried; the records go to the dead letters, a
// sink_rejected gap names them, and at SHUTDOWN the dead letters reach
// stdout, so the receiver's part and stdout still make the whole trail.
func TestRefusedRecordsAreDeadLettered(t *testing.T) {
	rcv := newReceiver(t, refuse)
	l := faultLambda(t, rcv, nil)
	invokeOK(t, l, "/users/1")
	invokeOK(t, l, "/users/2")
	rcv.set(up)
	invokeOK(t, l, "/users/3")
	l.shutdown(t)
	got := rcv.got()
	// The receiver's part and the dead letters on stdout make the whole
	// trail.
	requireComplete(t, runVerify(t, got, logLines(l)), 1)
	// The dead letters are exactly the records the receiver lacks within
	// the ranges its sink_rejected gaps name.
	received := map[int64]bool{}
	var ranges [][2]int64
	for _, line := range got {
		var r schema.Record
		if json.Unmarshal(line, &r) != nil {
			continue
		}
		received[r.Audit.Seq] = true
		if g := r.Gap; g != nil && g.Reason == schema.GapSinkRejected && g.Sink == "http" && strings.Contains(g.Detail, "400") {
			ranges = append(ranges, [2]int64{g.SeqFrom, g.SeqTo})
		}
	}
	dead := map[int64]bool{}
	for _, line := range logLines(l) {
		var m struct {
			Reason string        `json:"audittrail.undelivered"`
			Record schema.Record `json:"record"`
		}
		if json.Unmarshal(line, &m) == nil && m.Reason == schema.GapSinkRejected {
			dead[m.Record.Audit.Seq] = true
		}
	}
	if len(dead) == 0 || len(ranges) == 0 {
		t.Fatalf("%d dead letters, %d sink_rejected gaps", len(dead), len(ranges))
	}
	named := map[int64]bool{}
	for _, r := range ranges {
		for seq := r[0]; seq <= r[1]; seq++ {
			named[seq] = !received[seq]
		}
	}
	for seq := range dead {
		if received[seq] || !named[seq] {
			t.Errorf("dead letter seq %d: received %v, named by a gap %v", seq, received[seq], named[seq])
		}
	}
	for seq, lacking := range named {
		if lacking && !dead[seq] {
			t.Errorf("seq %d named refused but not among the dead letters", seq)
		}
	}
}

// TestDiskFull: /tmp refuses writes (the extension runs with a 4 KiB file
// size limit, so every file it writes fails past that, as on a full disk):
// the spool and the file store fail, records wait in memory, and the
// receiver gets them all once it is back.
func TestDiskFull(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to limit the extension's file size")
	}
	rcv := newReceiver(t, down)
	l := faultLambda(t, rcv, func(c *lambdasim.Config) {
		// The layer as usual, but its extension runs under `ulimit -f 4`.
		real := filepath.Join(t.TempDir(), "audittrail")
		if err := os.Link(binary, real); err != nil {
			if err := copyFile(binary, real); err != nil {
				t.Fatal(err)
			}
		}
		script := "#!" + bash + "\nulimit -f 4\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(c.OptDir, layer.ExtensionPath), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	})
	for range 4 {
		invokeOK(t, l, "/users/1")
	}
	rcv.set(up)
	invokeOK(t, l, "/health")
	l.shutdown(t)
	got := rcv.got()
	requireComplete(t, runVerify(t, got), 1)
	have, _ := ids(t, got)
	if len(have) < 5 {
		t.Fatalf("receiver holds %d records", len(have))
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestContinuousDeliversWhileTheFunctionRuns: with AUDITTRAIL_FLUSH=
// continuous, records are delivered in the background during later
// invocations, not after them; a delivery still under way when the
// function answers gets the budget to finish, and is abandoned before the
// freeze if it does not.
func TestContinuousDeliversWhileTheFunctionRuns(t *testing.T) {
	rcv := newReceiver(t, up)
	l := faultLambda(t, rcv, func(c *lambdasim.Config) { c.Env["AUDITTRAIL_FLUSH"] = "continuous:10ms" })
	first := invokeOK(t, l, "/slow?ms=100")
	for range 3 {
		invokeOK(t, l, "/slow?ms=100")
	}
	if have, _ := ids(t, rcv.got()); len(have) == 0 {
		t.Fatal("nothing delivered in the background")
	}
	var seen bool
	for _, line := range rcv.got() {
		var r schema.Record
		if json.Unmarshal(line, &r) == nil && r.FaaS.InvocationID == first.RequestID {
			seen = true
		}
	}
	if !seen {
		t.Error("the first invocation's record was not delivered during the later ones")
	}
	rcv.set(hang)
	invokeOK(t, l, "/slow?ms=100")
	started := rcv.hungCount()
	if started == 0 {
		t.Fatal("no background delivery during the invocation")
	}
	for range started {
		select {
		case <-rcv.gaveUp:
		case <-time.After(10 * time.Second): // a failure bound, not a wait
			t.Fatal("a background send was still in flight at the freeze")
		}
	}
	rcv.set(up)
	l.shutdown(t)
	requireComplete(t, runVerify(t, rcv.got()), 1)
}
