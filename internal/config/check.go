package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/audittrail/audittrail/detect"
	"github.com/audittrail/audittrail/schema"
)

// Severity says how bad a Problem is.
type Severity string

// Severities. An error means something the configuration asks for will not
// happen (a sink disabled, a bad value replaced by its default, a variable
// ignored); a warning means it works, but probably not as meant.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	Severity Severity `json:"severity"`
	// Variable is the variable to fix, when one is to blame.
	Variable string `json:"variable,omitempty"`
	// Message is the whole line, the variable first, as the extension logs
	// it. It never holds a secret's value.
	Message string `json:"message"`
	// Suggestion is the known variable an unknown one is closest to.
	Suggestion string `json:"suggestion,omitempty"`
}

// String returns the message.
func (p Problem) String() string { return p.Message }

// Report is what Check found: the configuration the extension would run
// with, and every problem with it.
type Report struct {
	Config   Effective `json:"config"`
	Problems []Problem `json:"problems"`
	// Errors and Warnings count the problems of each severity.
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// Effective is the configuration the extension runs with (after bad values
// fell back to their defaults), fit to print: secrets appear only as where
// they come from ("[REDACTED]", "secretsmanager:<arn>", "ssm:<name>"),
// URLs without their passwords or query values, keys never.
type Effective struct {
	FunctionName     string `json:"function_name"`
	Region           string `json:"region"`
	ManagedInstances bool   `json:"managed_instances"`
	// Sinks are the enabled sinks, in order, with their settings.
	Sinks []EffectiveSink `json:"sinks"`
	// DisabledSinks were asked for in AUDITTRAIL_SINKS but left out.
	DisabledSinks  []string `json:"disabled_sinks"`
	Flush          string   `json:"flush"`
	FlushBudget    string   `json:"flush_budget"`
	QueueBytes     int      `json:"queue_bytes"`
	SpoolDir       string   `json:"spool_dir"` // "" when the spool is off
	SpoolBytes     int64    `json:"spool_bytes"`
	TelemetryTypes []string `json:"telemetry_types"`
	Proxy          bool     `json:"proxy"`
	CaptureBytes   int      `json:"capture_bytes"`
	// Upstream is where the proxy forwards; "" means Lambda's Runtime API.
	Upstream string `json:"upstream"`
	// RedactQuery, AllowQuery and RecordHeaders are the names added to (or
	// taken from) the built-in redaction rules.
	RedactQuery   []string `json:"redact_query"`
	AllowQuery    []string `json:"allow_query"`
	RecordHeaders []string `json:"record_headers"`
	// Pseudonyms is "off", "on" or "redact" (identities redacted: the key
	// cannot be had); PseudonymKey says where the key comes from.
	Pseudonyms   string `json:"pseudonyms"`
	PseudonymKey string `json:"pseudonym_key"`
	// Chain is "sha256" or "hmac-sha256" (keyed); ChainKey says where the
	// key comes from.
	Chain    string `json:"chain"`
	ChainKey string `json:"chain_key"`
	CABundle string `json:"ca_bundle"`
	LogLevel string `json:"log_level"`
	// Detectors are the security detectors that run (none when
	// AUDITTRAIL_DETECT is off), with their settings.
	Detectors       []string `json:"detectors"`
	ExpectedSources []string `json:"expected_sources"`
	OpenAPISpec     string   `json:"openapi_spec"`
	FindingRecords  bool     `json:"finding_records"`
}

// Chain hashes (Effective.Chain).
const (
	ChainPlain = "sha256"
	ChainKeyed = "hmac-sha256"
)

// EffectiveSink is one enabled sink and its settings.
type EffectiveSink struct {
	Name     string   `json:"name"`
	Settings Settings `json:"settings"`
}

// Setting is one setting of a sink, its value fit to print.
type Setting struct {
	Key, Value string
}

// Settings are a sink's settings in a fixed order; in JSON, an object.
type Settings []Setting

// Get returns the value of key, or "".
func (s Settings) Get(key string) string {
	for _, kv := range s {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// MarshalJSON writes the settings as one JSON object, keys in order.
func (s Settings) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of strings, keeping its order.
func (s *Settings) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("config: settings are not a JSON object")
	}
	out := Settings{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("config: settings: %w", err)
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("config: setting %v: %w", t, err)
		}
		k, _ := t.(string) // an object's keys are strings
		out = append(out, Setting{Key: k, Value: v})
	}
	*s = out
	return nil
}

// Check reads the configuration exactly as the extension does (FromEnv
// through lookup: os.LookupEnv in production, a map in tests) and reports
// it with every problem: what FromEnv reports, the AUDITTRAIL_* variables
// of environ (os.Environ(): it names the variables set) that the extension
// does not know, and settings that contradict each other or go unused.
// Errors come first.
func Check(lookup func(string) (string, bool), environ []string) Report {
	c, err := FromEnv(lookup)
	e := setVars(lookup)
	requested := splitList(e.get("AUDITTRAIL_SINKS", SinkStdout))

	problems := []Problem{}
	for _, msg := range flatten(err) {
		problems = append(problems, Problem{Severity: SeverityError, Variable: variableOf(msg), Message: msg})
	}
	for _, u := range unknownVariables(environ) {
		problems = append(problems, Problem{Severity: SeverityError, Variable: u.name, Message: u.message(), Suggestion: u.suggestion})
	}
	problems = append(problems, crossChecks(c, e, requested)...)
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return severityRank(a.Severity) - severityRank(b.Severity)
	})

	r := Report{Config: effective(c, requested), Problems: problems}
	for _, p := range problems {
		if p.Severity == SeverityError {
			r.Errors++
		} else {
			r.Warnings++
		}
	}
	return r
}

func severityRank(s Severity) int {
	if s == SeverityError {
		return 0
	}
	return 1
}

// FromEnviron is FromEnv, with the unknown variables of environ
// (os.Environ()) among the problems: what the extension runs with.
func FromEnviron(lookup func(string) (string, bool), environ []string) (Config, error) {
	c, err := FromEnv(lookup)
	return c, errors.Join(append([]error{err}, UnknownVariables(environ)...)...)
}

// UnknownVariables reports each variable of environ (os.Environ(): NAME=value
// entries) that looks like one of the extension's but is not (an
// AUDITTRAIL_* name it does not read, in any case, or a near miss of one,
// like AUDITRAIL_SINKS), with the closest known name when there is one:
// "AUDITTRAIL_SPLUNK_TOKN: unknown variable, ignored; did you mean
// AUDITTRAIL_SPLUNK_TOKEN?". Values are never looked at. Sorted by name.
func UnknownVariables(environ []string) []error {
	var errs []error
	for _, u := range unknownVariables(environ) {
		errs = append(errs, errors.New(u.message()))
	}
	return errs
}

// ownPrefix starts every variable of the extension's own.
const ownPrefix = "AUDITTRAIL_"

// unknown is a variable of the environment the extension does not read.
type unknown struct {
	name, suggestion string
}

func (u unknown) message() string {
	name := u.name
	if strings.ContainsFunc(name, func(r rune) bool { return !isNameRune(r) }) {
		name = fmt.Sprintf("%q", name)
	}
	switch {
	case u.suggestion == "":
		return name + ": unknown variable, ignored (the README's Configuration section lists them all)"
	case strings.EqualFold(u.name, u.suggestion):
		return name + ": unknown variable, ignored; did you mean " + u.suggestion + "? (names are case-sensitive)"
	}
	return name + ": unknown variable, ignored; did you mean " + u.suggestion + "?"
}

func isNameRune(r rune) bool {
	return r == '_' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z'
}

func unknownVariables(environ []string) []unknown {
	var ours, known []string
	for _, v := range Variables() {
		ours = append(ours, v.Name)
	}
	known = slices.Concat(ours, names(LambdaVariables()), names(FallbackVariables()))
	var out []unknown
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if name == "" || slices.Contains(known, name) || slices.ContainsFunc(out, func(u unknown) bool { return u.name == name }) {
			continue
		}
		up := strings.ToUpper(name)
		own := strings.HasPrefix(up, ownPrefix)
		if !own && !strings.Contains(up, "AUDIT") && !strings.Contains(up, "TRAIL") {
			continue // cheap: most of the environment is never compared
		}
		limit := 2 // a near miss of our prefix, or someone else's variable
		if own {
			limit = max(2, (len(up)-len(ownPrefix))/3)
		}
		best := closest(up, ours, limit)
		if best == "" && !own {
			continue
		}
		out = append(out, unknown{name: name, suggestion: best})
	}
	slices.SortFunc(out, func(a, b unknown) int { return strings.Compare(a.name, b.name) })
	return out
}

func names(vs []Var) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

// closest returns the first of candidates nearest to name, if it is at
// most limit edits away; else "".
func closest(name string, candidates []string, limit int) string {
	best, bestD := "", limit+1
	for _, c := range candidates {
		if abs(len(name)-len(c)) >= bestD {
			continue // cannot be nearer: cheap, and bounds the work on a long name
		}
		if d := distance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// distance is the optimal string alignment distance between a and b: the
// fewest insertions, deletions, substitutions and swaps of adjacent bytes
// that turn one into the other (KYE and KEY are 1 apart).
func distance(a, b string) int {
	// What a and b share at both ends costs nothing: most of a variable's
	// name (AUDITTRAIL_SPLUNK_...).
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	// Three rows of the dynamic programming table: i-2, i-1, i.
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// env answers which variables are set, as FromEnv reads them: a value of
// only spaces is no value.
type env func(string) (string, bool)

func setVars(lookup func(string) (string, bool)) env {
	return func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
}

func (e env) get(name, def string) string {
	if v, ok := e(name); ok {
		return v
	}
	return def
}

func (e env) set(name string) bool { _, ok := e(name); return ok }

// setOf returns the names of vars that are set.
func (e env) setOf(vars ...string) []string {
	return slices.DeleteFunc(vars, func(v string) bool { return !e.set(v) })
}

// flatten splits the problems FromEnv joined into one message each: a
// wrapped join ("sink splunk disabled: A\nB") gives one message per problem,
// each with the prefix.
func flatten(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if inner := errors.Unwrap(err); inner != nil {
		if p, ok := strings.CutSuffix(err.Error(), inner.Error()); ok {
			var out []string
			for _, m := range flatten(inner) {
				out = append(out, p+m)
			}
			return out
		}
	}
	return []string{err.Error()}
}

// variableOf returns the variable a message of FromEnv starts with ("sink
// x disabled: " aside), or "".
func variableOf(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "sink "); ok {
		if _, after, ok := strings.Cut(rest, " disabled: "); ok {
			msg = after
		}
	}
	name, _, ok := strings.Cut(msg, ": ")
	if !ok || name == "" || strings.ContainsFunc(name, func(r rune) bool { return !isNameRune(r) }) {
		return ""
	}
	return name
}

// crossChecks finds settings that contradict each other or go unused:
// problems no single variable shows.
func crossChecks(c Config, e env, requested []string) []Problem {
	var ps []Problem
	add := func(sev Severity, variable, format string, args ...any) {
		ps = append(ps, Problem{Severity: sev, Variable: variable, Message: variable + ": " + fmt.Sprintf(format, args...)})
	}

	// Where the records go.
	if !slices.ContainsFunc(c.Sinks, func(s string) bool { return s != SinkStdout && s != SinkFile }) {
		var where []string
		if slices.Contains(c.Sinks, SinkStdout) {
			where = append(where, "stdout (CloudWatch Logs)")
		}
		if slices.Contains(c.Sinks, SinkFile) {
			where = append(where, "the file store in /tmp (lost with the environment)")
		}
		why := "no SIEM or archive sink"
		switch {
		case !e.set("AUDITTRAIL_SINKS"):
			why = "not set"
		case !slices.Equal(requested, c.Sinks):
			why = "no SIEM or archive sink asked for can run"
		}
		add(SeverityWarning, "AUDITTRAIL_SINKS", "%s, so records go only to %s; name one of splunk, elasticsearch, datadog, otlp, s3, http",
			why, strings.Join(where, " and "))
	}
	for _, sink := range knownSinks {
		if slices.Contains(requested, sink) {
			continue
		}
		var unused []string
		for _, v := range Variables() {
			if sinkOf(v.Name) == sink && e.set(v.Name) {
				unused = append(unused, v.Name)
			}
		}
		if len(unused) > 0 {
			add(SeverityWarning, "AUDITTRAIL_SINKS", "%s is not listed, so %s %s ignored", sink, strings.Join(unused, ", "), isAre(unused))
		}
	}

	// Other tools' variables that ours override.
	if slices.Contains(requested, SinkDatadog) {
		shadowedSecret(add, e, "DD_API_KEY", "AUDITTRAIL_DATADOG_API_KEY", "the datadog sink")
		shadowed(add, e, "DD_SITE", "AUDITTRAIL_DATADOG_SITE", "the datadog sink")
		if e.set("AUDITTRAIL_DATADOG_URL") && e.set("AUDITTRAIL_DATADOG_SITE") {
			add(SeverityWarning, "AUDITTRAIL_DATADOG_SITE", "ignored: AUDITTRAIL_DATADOG_URL is set")
		}
	}
	if slices.Contains(requested, SinkOTLP) {
		shadowed(add, e, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "AUDITTRAIL_OTLP_ENDPOINT", "the otlp sink")
		if !e.set("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") {
			shadowed(add, e, "OTEL_EXPORTER_OTLP_ENDPOINT", "AUDITTRAIL_OTLP_ENDPOINT", "the otlp sink")
		}
		shadowedSecret(add, e, "OTEL_EXPORTER_OTLP_HEADERS", "AUDITTRAIL_OTLP_HEADERS", "the otlp sink")
		shadowed(add, e, "OTEL_EXPORTER_OTLP_COMPRESSION", "AUDITTRAIL_OTLP_COMPRESSION", "the otlp sink")
	}

	// Secrets sent in clear.
	for _, s := range []struct {
		sink, variable, url, what string
		secret                    bool
	}{
		{SinkHTTP, "AUDITTRAIL_HTTP_URL", c.HTTP.URL, "the Authorization header", c.HTTP.Authorization.IsSet()},
		{SinkSplunk, "AUDITTRAIL_SPLUNK_URL", c.Splunk.URL, "the HEC token", c.Splunk.Token.IsSet()},
		{SinkElasticsearch, "AUDITTRAIL_ELASTICSEARCH_URL", c.Elasticsearch.URL, "the credentials", c.Elasticsearch.APIKey.IsSet() || c.Elasticsearch.Password.IsSet()},
		{SinkDatadog, "AUDITTRAIL_DATADOG_URL", c.Datadog.URL, "the API key", c.Datadog.APIKey.IsSet()},
		{SinkOTLP, "AUDITTRAIL_OTLP_ENDPOINT", c.OTLP.Endpoint, "the headers", c.OTLP.Headers.IsSet()},
	} {
		if slices.Contains(c.Sinks, s.sink) && s.secret && cleartext(s.url) {
			add(SeverityWarning, s.variable, "http:// sends %s unencrypted; use https://", s.what)
		}
	}

	// Settings that cannot apply.
	if !c.Proxy {
		if unused := e.setOf("AUDITTRAIL_CAPTURE_BYTES", "AUDITTRAIL_RUNTIME_API_UPSTREAM", "AUDITTRAIL_REDACT_QUERY", "AUDITTRAIL_ALLOW_QUERY", "AUDITTRAIL_RECORD_HEADERS"); len(unused) > 0 {
			add(SeverityWarning, "AUDITTRAIL_PROXY", "off, so nothing is captured and %s %s ignored", strings.Join(unused, ", "), isAre(unused))
		}
	}
	if c.SpoolBytes == 0 && e.set("AUDITTRAIL_SPOOL_DIR") {
		add(SeverityWarning, "AUDITTRAIL_SPOOL_DIR", "ignored: AUDITTRAIL_SPOOL_BYTES=0 turns the spool off")
	}
	if c.Lambda.ManagedInstances() {
		if unused := e.setOf("AUDITTRAIL_FLUSH", "AUDITTRAIL_FLUSH_BUDGET"); len(unused) > 0 {
			add(SeverityWarning, "AWS_LAMBDA_INITIALIZATION_TYPE", "on Lambda Managed Instances delivery runs in the background every 200ms, so %s %s ignored",
				strings.Join(unused, ", "), isAre(unused))
		}
	}

	// Detectors that cannot run.
	detectVars := e.setOf("AUDITTRAIL_DETECT_OFF", "AUDITTRAIL_EXPECTED_SOURCES", "AUDITTRAIL_OPENAPI_SPEC",
		"AUDITTRAIL_AUTH_FAILURE_THRESHOLD", "AUDITTRAIL_AUTH_FAILURE_WINDOW", "AUDITTRAIL_SENSITIVE_KINDS",
		"AUDITTRAIL_SENSITIVE_BULK", "AUDITTRAIL_DETECT_RESPONSE_BYTES", "AUDITTRAIL_DETECT_REQUEST_BYTES", "AUDITTRAIL_FINDING_RECORDS")
	switch {
	case !c.Detect.On && len(detectVars) > 0:
		add(SeverityWarning, "AUDITTRAIL_DETECT", "off, so %s %s ignored", strings.Join(detectVars, ", "), isAre(detectVars))
	case c.Detect.On && !c.Proxy:
		add(SeverityWarning, "AUDITTRAIL_PROXY", "off, so the detectors see no requests or responses: only auth_failure_burst and anomaly can run, and only on what telemetry says")
	}
	if spec := c.Detect.OpenAPISpec; c.Detect.On && spec != "" {
		if slices.Contains(c.Detect.Detectors.Off, schema.FindingUndocumentedRoute) && slices.Contains(c.Detect.Detectors.Off, schema.FindingUndocumentedStatus) {
			add(SeverityWarning, "AUDITTRAIL_OPENAPI_SPEC", "ignored: AUDITTRAIL_DETECT_OFF switches undocumented_route and undocumented_status off")
		} else if data, err := os.ReadFile(spec); err == nil {
			// Where the check runs has the file (a local check of the
			// description, or a check in the function itself): load it.
			if _, err := detect.LoadSpec(data); err != nil {
				add(SeverityError, "AUDITTRAIL_OPENAPI_SPEC", "%s: %v; undocumented_route is off", spec, err)
			}
		}
	}

	// Redaction asked for and taken back.
	for _, a := range c.Redaction.AllowQuery {
		for _, r := range c.Redaction.RedactQuery {
			if strings.Contains(a, r) {
				add(SeverityError, "AUDITTRAIL_ALLOW_QUERY", "%q keeps in clear a parameter AUDITTRAIL_REDACT_QUERY redacts (%q); remove it from one of them", a, r)
			}
		}
	}
	return ps
}

// shadowed reports theirs, another tool's variable, when ours overrides it
// with a different value.
func shadowed(add func(Severity, string, string, ...any), e env, theirs, ours, user string) {
	t, tok := e(theirs)
	o, ook := e(ours)
	if tok && ook && !strings.EqualFold(t, o) {
		add(SeverityWarning, theirs, "ignored by %s: %s is set", user, ours)
	}
}

// shadowedSecret reports theirs, another tool's variable for a secret, when
// the secret ours names (given any of its three ways) overrides it with
// another value.
func shadowedSecret(add func(Severity, string, string, ...any), e env, theirs, ours, user string) {
	t, tok := e(theirs)
	set := e.setOf(ours, ours+"_SECRET_ARN", ours+"_SSM_PARAMETER")
	if !tok || len(set) == 0 {
		return
	}
	if o, _ := e(ours); len(set) == 1 && o == t {
		return // the same value twice
	}
	add(SeverityWarning, theirs, "ignored by %s: %s is set", user, set[0])
}

func isAre(names []string) string {
	if len(names) == 1 {
		return "is"
	}
	return "are"
}

// sinkOf returns the sink a variable configures, or "".
func sinkOf(name string) string {
	for _, s := range knownSinks {
		if strings.HasPrefix(name, ownPrefix+strings.ToUpper(s)+"_") {
			return s
		}
	}
	return ""
}

// cleartext reports an http:// URL to anything but the loopback.
func cleartext(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		return !ip.IsLoopback()
	}
	return host != "localhost"
}

// effective describes c, as the extension runs with it, fit to print.
func effective(c Config, requested []string) Effective {
	e := Effective{
		FunctionName:     c.Lambda.FunctionName,
		Region:           c.Lambda.Region,
		ManagedInstances: c.Lambda.ManagedInstances(),
		Sinks:            []EffectiveSink{},
		DisabledSinks:    list(slices.DeleteFunc(slices.Clone(requested), func(s string) bool { return slices.Contains(c.Sinks, s) })),
		Flush:            c.Flush.String(),
		FlushBudget:      c.FlushBudget.String(),
		QueueBytes:       c.QueueBytes,
		SpoolBytes:       c.SpoolBytes,
		TelemetryTypes:   list(c.TelemetryTypes),
		Proxy:            c.Proxy,
		CaptureBytes:     c.CaptureBytes,
		Upstream:         c.Upstream,
		RedactQuery:      list(c.Redaction.RedactQuery),
		AllowQuery:       list(c.Redaction.AllowQuery),
		RecordHeaders:    list(c.Redaction.Headers),
		Pseudonyms:       "off",
		PseudonymKey:     SecretRef{Value: string(c.Redaction.PseudonymKey), SecretARN: c.PseudonymKeyARN}.String(),
		Chain:            ChainPlain,
		ChainKey:         SecretRef{Value: string(c.ChainKey), SecretARN: c.ChainKeyARN}.String(),
		CABundle:         c.CABundle,
		LogLevel:         strings.ToLower(c.LogLevel.String()),
	}
	if c.SpoolBytes > 0 {
		e.SpoolDir = c.SpoolDir
	}
	e.Detectors, e.ExpectedSources = []string{}, list(c.Detect.Detectors.ExpectedSources)
	if c.Detect.On {
		for _, n := range detect.Names() {
			spec := n != schema.FindingUndocumentedRoute && n != schema.FindingUndocumentedStatus || c.Detect.OpenAPISpec != ""
			if spec && !slices.Contains(c.Detect.Detectors.Off, n) {
				e.Detectors = append(e.Detectors, n)
			}
		}
		e.OpenAPISpec, e.FindingRecords = c.Detect.OpenAPISpec, c.Detect.FindingRecords
	}
	switch {
	case c.Redaction.DropIdentities:
		e.Pseudonyms = "redact"
	case e.PseudonymKey != "":
		e.Pseudonyms = "on"
	}
	if e.ChainKey != "" {
		e.Chain = ChainKeyed
	}
	for _, s := range c.Sinks {
		e.Sinks = append(e.Sinks, EffectiveSink{Name: s, Settings: c.sinkSettings(s)})
	}
	return e
}

// list is s, or an empty list: JSON [] rather than null.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sinkSettings describes the settings of one sink, fit to print.
func (c Config) sinkSettings(sink string) Settings {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	printURL := func(v string) string {
		if v == "" {
			return ""
		}
		return redactURL(v)
	}
	switch sink {
	case SinkFile:
		return Settings{{"dir", c.FileDir}}
	case SinkHTTP:
		h := c.HTTP
		return Settings{{"url", printURL(h.URL)}, {"compression", h.Compression}, {"authorization", h.Authorization.String()}}
	case SinkSplunk:
		s := c.Splunk
		return Settings{{"url", printURL(s.URL)}, {"token", s.Token.String()}, {"index", s.Index}, {"source", s.Source},
			{"sourcetype", s.Sourcetype}, {"host", s.Host}, {"ack", onOff(s.Ack)}}
	case SinkElasticsearch:
		es := c.Elasticsearch
		return Settings{{"url", printURL(es.URL)}, {"data_stream", es.DataStream}, {"api_key", es.APIKey.String()},
			{"username", es.Username}, {"password", es.Password.String()}, {"aws_sigv4", es.SigV4}}
	case SinkDatadog:
		d := c.Datadog
		return Settings{{"site", d.Site}, {"url", printURL(d.URL)}, {"api_key", d.APIKey.String()}, {"service", d.Service}, {"tags", d.Tags}}
	case SinkOTLP:
		o := c.OTLP
		return Settings{{"endpoint", printURL(o.Endpoint)}, {"headers", o.Headers.String()}, {"compression", o.Compression}}
	case SinkS3:
		s := c.S3
		return Settings{{"bucket", s.Bucket}, {"prefix", s.Prefix}, {"region", s.Region}, {"compression", s.Compression}, {"endpoint", printURL(s.Endpoint)}}
	}
	return Settings{}
}
