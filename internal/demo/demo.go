// Package demo runs the whole audittrail pipeline locally: lambdasim starts
// the extension and the sample function, the demo sends a realistic mix of
// API requests, shuts the environment down, and summarizes the trail.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim"
	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
	"github.com/audittrail/audittrail/layer"
	"github.com/audittrail/audittrail/query"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks/file"
)

// Options configure a demo run.
type Options struct {
	// TrailDir is the file store the extension writes to; earlier demo
	// segments in it are removed first.
	TrailDir string
	// Out receives the progress lines and the summary.
	Out io.Writer
	// Executable is the audittrail binary; empty means the running one.
	Executable string
}

// request is one call of the demo's traffic mix.
type request struct {
	method, path string
	opt          samplefn.EventOptions
	why          string
}

func traffic() []request {
	reader := samplefn.EventOptions{SourceIP: "203.0.113.10", UserAgent: "curl/8.5.0",
		JWT: &samplefn.JWT{Subject: "user-7f3a", Scopes: []string{"users:read"}}}
	admin := samplefn.EventOptions{SourceIP: "198.51.100.4", UserAgent: "Mozilla/5.0",
		JWT: &samplefn.JWT{Subject: "admin-01", Scopes: []string{"users:read", "admin"}}}
	anon := samplefn.EventOptions{SourceIP: "192.0.2.66", UserAgent: "python-requests/2.31"}
	stuffer := samplefn.EventOptions{SourceIP: "198.51.100.77", UserAgent: "python-requests/2.31"}
	reqs := []request{
		{"GET", "/health", anon, "cold start"},
		{"GET", "/users/42", reader, ""},
		{"POST", "/users", admin, ""},
		{"DELETE", "/users/42", anon, "no credentials"},
		{"DELETE", "/users/42", anon, "no credentials"},
		{"DELETE", "/users/42", reader, "missing admin scope"},
		{"GET", "/admin", reader, "forbidden"},
		{"DELETE", "/users/42", admin, ""},
		{"GET", "/slow?ms=150", reader, "slow route"},
		{"GET", "/error", reader, "handled error"},
		{"GET", "/does-not-exist", anon, "unknown route"},
		{"GET", "/panic", anon, "runtime crash: reset"},
		{"GET", "/users/43", reader, "cold start after the reset"},
		{"GET", "/timeout", reader, "function timeout: reset"},
		{"GET", "/health", anon, "cold start after the reset"},
		// Planted attacks, each a finding of a detector.
		{"GET", "/users/42?fields=id%27%20UNION%20SELECT%20password%20FROM%20users--", anon, "attack: SQL injection"},
		{"GET", "/debug/export", anon, "attack: leaks a card number and a key"},
		{"", "", anon, "attack: direct invoke, bypassing the API"},
	}
	for range 10 { // credential stuffing: one address, one refusal after another
		reqs = append(reqs, request{"DELETE", "/users/42", stuffer, "attack: credential stuffing"})
	}
	return reqs
}

// openAPISpec is the demo API's description, as its team wrote it:
// /debug/export is not in it (a shadow route), nor /does-not-exist.
const openAPISpec = `openapi: 3.0.3
info: {title: orders-api, version: "1.0"}
paths:
  /health:
    get: {responses: {"200": {description: up}}}
  /users:
    post: {responses: {"201": {description: created}, "401": {description: no credentials}}}
  /users/{id}:
    get: {responses: {"200": {description: the user}, "404": {description: no such user}}}
    delete: {responses: {"204": {description: deleted}, "401": {description: no credentials}, "403": {description: not an admin}}}
  /admin:
    get: {responses: {"200": {description: the console}, "403": {description: not an admin}}}
  /slow:
    get: {responses: {"200": {description: slept}}}
  /error:
    get: {responses: {"500": {description: a handled error}}}
  /panic:
    get: {responses: {"502": {description: the runtime crashed}}}
  /timeout:
    get: {responses: {"502": {description: the function timed out}}}
`

// Run runs the demo.
func Run(ctx context.Context, opts Options) error {
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("locating the audittrail binary: %w", err)
		}
	}
	trail, err := filepath.Abs(opts.TrailDir)
	if err != nil {
		return err
	}
	if err := clearTrail(trail); err != nil {
		return err
	}
	opt, err := os.MkdirTemp("", "audittrail-demo-opt")
	if err != nil {
		return err
	}
	defer os.RemoveAll(opt)
	if err := layer.Install(opt, exe); err != nil {
		return err
	}
	spec := filepath.Join(opt, "openapi.yaml")
	if err := os.WriteFile(spec, []byte(openAPISpec), 0o644); err != nil {
		return err
	}
	sim, err := lambdasim.New(lambdasim.Config{
		OptDir: opt,
		// The sample function is a Go binary on an OS-only runtime, whose
		// bootstrap ends with: exec /opt/audittrail-wrapper ./function
		Runtime:       []string{filepath.Join(opt, layer.WrapperPath), exe, "demo-function"},
		OSOnlyRuntime: true,
		Env: map[string]string{"AUDITTRAIL_SINKS": "file", "AUDITTRAIL_FILE_DIR": trail,
			"AUDITTRAIL_OPENAPI_SPEC": spec, "AUDITTRAIL_EXPECTED_SOURCES": schema.GatewayHTTP},
		FunctionName: "orders-api",
		Timeout:      time.Second,
	})
	if err != nil {
		return err
	}
	defer sim.Close()

	fmt.Fprintf(opts.Out, "lambdasim: function orders-api with the audittrail layer (timeout 1s)\n\n")
	for _, r := range traffic() {
		event, shown := []byte(`{"action":"purge-cache"}`), "(direct invoke)"
		if r.method != "" {
			event, shown = samplefn.HTTPEvent(r.method, r.path, r.opt), r.path
		}
		res, err := sim.Invoke(ctx, event)
		if err != nil {
			return fmt.Errorf("invoke %s %s: %w", r.method, shown, err)
		}
		fmt.Fprintf(opts.Out, "  %-6s %-16.16s -> %-22s %6.1f ms%s\n", r.method, shown, outcome(res),
			float64(res.ResponseLatency)/float64(time.Millisecond), note(r.why))
	}
	if _, err := sim.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return summarize(opts.Out, trail)
}

// outcome describes what the caller got back.
func outcome(res *lambdasim.Result) string {
	if res.ErrorType != "" {
		return res.ErrorType
	}
	var resp struct {
		StatusCode int `json:"statusCode"`
	}
	if json.Unmarshal(res.Payload, &resp) == nil && resp.StatusCode != 0 {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return "ok"
}

func note(why string) string {
	if why == "" {
		return ""
	}
	return "   (" + why + ")"
}

// clearTrail removes the segments of an earlier demo run.
func clearTrail(dir string) error {
	segs, err := file.Segments(dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := os.Remove(s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// summarize reads the trail back and prints what it holds.
func summarize(out io.Writer, trail string) error {
	var total, invocations, cold, failed, gaps, shutdowns, inits, findings int
	var findingLines []string
	fmt.Fprintf(out, "\nInvocation records in the trail:\n  %-7s %-16s %-6s %-10s %-14s %-8s %s\n",
		"method", "route", "status", "principal", "client", "outcome", "error")
	err := file.Scan(trail, func(b []byte) error {
		var r schema.Record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("trail record: %w", err)
		}
		total++
		switch r.Event.Action {
		case schema.ActionInit:
			inits++
		case schema.ActionInvocation:
			printInvocation(out, &r)
			invocations++
			if r.FaaS.Coldstart != nil && *r.FaaS.Coldstart {
				cold++
			}
			if r.Event.Outcome == schema.OutcomeFailure {
				failed++
			}
		case schema.ActionShutdown:
			shutdowns++
		case schema.ActionCoverageGap:
			gaps++
		case schema.ActionSecurityFinding:
			findings++
			findingLines = append(findingLines, findingLine(&r))
		}
		return nil
	})
	if err != nil {
		return err
	}
	segs, _ := file.Segments(trail)
	fmt.Fprintf(out, "\nThe trail:\n")
	fmt.Fprintf(out, "  invocations      %d (%d cold starts, %d failed)\n", invocations, cold, failed)
	fmt.Fprintf(out, "  environments     %d init, %d shutdown records\n", inits, shutdowns)
	fmt.Fprintf(out, "  coverage gaps    %d\n", gaps)
	fmt.Fprintf(out, "  security findings %d (security_finding records; audittrail query 'event.action=security_finding')\n", findings)
	fmt.Fprintf(out, "  records written  %d, in %d segment(s) under %s\n", total, len(segs), trail)
	if invocations == 0 {
		return errors.New("the trail holds no invocation records")
	}
	if len(findingLines) > 0 {
		fmt.Fprintf(out, "\nSecurity findings (monitor-only: every request was answered as usual):\n")
		for _, l := range findingLines {
			fmt.Fprintln(out, l)
		}
	}
	if err := verifyTrail(out, trail); err != nil {
		return err
	}
	return queryForbidden(out, trail)
}

// findingLine describes a security_finding record in one line.
func findingLine(r *schema.Record) string {
	f := r.Security.Findings[0]
	where := "-"
	if r.HTTP != nil && r.HTTP.Request != nil {
		where = r.HTTP.Request.Method
		if r.URL != nil {
			where += " " + r.URL.Path
		}
	}
	return fmt.Sprintf("  %-24s %-8s %-18s %s", f.Type, f.Severity, where, f.Reason)
}

// forbiddenFilter is the demo's closing query: who was refused, from where.
const forbiddenFilter = "http.response.status_code=403"

// queryForbidden ends the demo with a query of the trail, as
// `audittrail query` runs it: the 403s of the run.
func queryForbidden(out io.Writer, trail string) error {
	conds, err := query.Parse(forbiddenFilter)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe 403s of this run (audittrail query --from %s '%s'):\n", trail, forbiddenFilter)
	table, err := query.NewOutput(out, query.FormatTable, []string{"@timestamp", "http.request.method", "http.route", "user.id", "client.address"})
	if err != nil {
		return err
	}
	if err := query.ScanFiles(context.Background(), []string{trail}, query.Query{Conds: conds}, table.Add); err != nil {
		return err
	}
	return table.Close()
}

// verifyTrail ends the demo as `audittrail verify` would: every record of
// every environment present or accounted for, every hash and link intact.
func verifyTrail(out io.Writer, trail string) error {
	v := schema.NewVerifier()
	if err := file.Scan(trail, func(b []byte) error { v.Add(b); return nil }); err != nil {
		return err
	}
	reports := v.Report()
	for _, r := range reports {
		if !r.OK() {
			return fmt.Errorf("the trail of environment %s does not verify: %+v", r.EnvID, r)
		}
	}
	fmt.Fprintf(out, "\nverify: %d environment(s), complete and unaltered (audittrail verify %s)\n", len(reports), trail)
	return nil
}

// printInvocation prints one line of the invocation table.
func printInvocation(out io.Writer, r *schema.Record) {
	method, route, status, user, client, errType := "-", "-", "-", "-", "-", ""
	if h := r.HTTP; h != nil {
		if h.Request != nil && h.Request.Method != "" {
			method = h.Request.Method
		}
		if h.Route != "" {
			route = h.Route
		}
		if h.Response != nil && h.Response.StatusCode != 0 {
			status = fmt.Sprint(h.Response.StatusCode)
		}
	}
	if r.User != nil && r.User.ID != "" {
		user = r.User.ID
	}
	if r.Client != nil {
		client = r.Client.Address
	}
	if r.Error != nil {
		errType = r.Error.Type
	}
	fmt.Fprintf(out, "  %-7s %-16s %-6s %-10s %-14s %-8s %s\n", method, route, status, user, client, r.Event.Outcome, errType)
}
