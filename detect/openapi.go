package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/audittrail/audittrail/schema"
)

// This file is the undocumented_route detector: an OpenAPI 3 description
// loaded once (LoadSpec) into a segment trie, and a check of each request
// against it (Spec.Check). Its unexported names start with "spec" because
// other detectors share the package. See openapi.md.

// MaxSpecSize is the largest API description LoadSpec accepts, in bytes.
const MaxSpecSize = 4 << 20

// MaxYAMLSpecSize is the largest YAML description LoadSpec accepts: a YAML
// parse takes about 20 times the document's size in memory while the
// extension starts (a JSON one about 2 times), and a function may have
// 128 MB in all.
const MaxYAMLSpecSize = 1 << 20

const (
	// specMaxOperations bounds the operations of a description.
	specMaxOperations = 20000
	// specMaxPrefixes bounds the server path prefixes (servers[].url with
	// their variables' values) templates are also matched under.
	specMaxPrefixes = 8
	// specMaxEntries bounds the mapping entries and sequence items the
	// reader visits: YAML aliases let a small document name the same
	// mapping many times over.
	specMaxEntries = 1 << 20
	// specMaxMergeDepth bounds nested YAML merge keys (<<), which can
	// refer to themselves.
	specMaxMergeDepth = 8
	// specReasonPath bounds the path as a finding's reason quotes it.
	specReasonPath = 256
)

// Spec is an OpenAPI 3 description reduced to what the detector needs: its
// operations (method + path template) and the status codes each documents.
// A Spec is read-only once loaded: Check is safe for concurrent use.
type Spec struct {
	root       *specNode
	operations int
}

// The methods an OpenAPI path item names (3.2 adds QUERY), in the order of
// specRoute.ops.
var specMethodNames = [...]string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "QUERY"}

const (
	specGET     = 0
	specOPTIONS = 4
	specHEAD    = 5
)

// specMethod returns the index of m (any case) in specMethodNames, or -1.
func specMethod(m string) int {
	for i, name := range specMethodNames {
		if strings.EqualFold(m, name) {
			return i
		}
	}
	return -1
}

// specNode is a node of the segment trie: the templates whose first
// segments lead to it. A request path walks it segment by segment, trying
// literal children before patterns ("v{n}") before parameters ("{id}")
// before a greedy parameter ("{proxy+}"), so that /users/me is preferred to
// /users/{id}.
type specNode struct {
	literals map[string]*specNode
	patterns []*specPattern
	param    *specNode
	// greedy is the route of a {name+} segment: one or more segments.
	greedy *specRoute
	// route is the route of the templates that end here.
	route *specRoute
}

// specPattern is a segment mixing literal text and parameters.
type specPattern struct {
	// key identifies the pattern (parameters written "{}").
	key   string
	parts []specPart
	next  *specNode
}

// specPart is a literal piece of a pattern segment, or a parameter.
type specPart struct {
	lit   string
	param bool
}

// specRoute is a path template's operations.
type specRoute struct {
	template string
	ops      [len(specMethodNames)]*specOperation
	// any serves every method without an operation of its own
	// (x-amazon-apigateway-any-method, or a path item given by a $ref
	// the detector does not follow).
	any *specOperation
	// extra are OpenAPI 3.2 additionalOperations, by upper-case method.
	extra map[string]*specOperation
}

// specOperation is what an operation documents of its responses.
type specOperation struct {
	// name is the operation as findings quote it: "GET /users/{id}".
	name string
	// known is false when the operation lists no responses: its status
	// codes are not checked.
	known      bool
	codes      [10]uint64 // bit c%64 of codes[c/64]: status c (100-599)
	ranges     uint8      // bit d: the range "dXX" (1-5)
	hasDefault bool
	// documented lists the response keys, for findings: codes, ranges,
	// "default".
	documented []string
}

// covers reports whether the operation documents status.
func (o *specOperation) covers(status int) bool {
	if !o.known || o.hasDefault {
		return true
	}
	if status >= 100 && status <= 599 && o.codes[status/64]&(1<<(status%64)) != 0 {
		return true
	}
	d := status / 100
	return d >= 1 && d <= 5 && o.ranges&(1<<d) != 0
}

// LoadSpec reads an OpenAPI 3.0 or 3.1 document (3.2 too), JSON or YAML, of
// at most MaxSpecSize bytes. Errors name the problem: not OpenAPI 3 (Swagger
// 2.0 among them), not JSON or YAML, no paths, a bad path template or
// response code.
func LoadSpec(data []byte) (*Spec, error) {
	if len(data) > MaxSpecSize {
		return nil, fmt.Errorf("openapi: the API description is %d bytes, more than the %d accepted", len(data), MaxSpecSize)
	}
	top, err := specParse(data)
	if err != nil {
		return nil, err
	}
	doc, err := specRead(top)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	s, err := doc.build()
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return s, nil
}

// Operations returns how many operations the description documents (an
// x-amazon-apigateway-any-method counts as one).
func (s *Spec) Operations() int { return s.operations }

// Check returns the findings for one request: undocumented_route when no
// operation matches method and path, undocumented_status when one does but
// does not document status (an explicit code, a range like "4XX" or
// "default" covers it). A status of 0 or less is unknown: not checked; an
// empty method is unknown too: only the path is checked. HEAD is served by
// GET when the path has no HEAD operation, and OPTIONS on a documented
// path is taken for a CORS preflight unless the path documents OPTIONS
// itself. A query string or fragment in path is ignored.
func (s *Spec) Check(method, path string, status int) []schema.Finding {
	if s == nil || s.root == nil {
		return nil
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	var buf [16]string
	segs := specSplit(buf[:0], path)
	m := specMatcher{method: specMethod(method), name: method}
	if method == "" {
		m.anyMethod = true
	}
	if r := s.root.match(segs, &m); r != nil {
		op := r.lookup(&m)
		if op == nil || status <= 0 || op.covers(status) {
			return nil
		}
		return []schema.Finding{{
			Type:     schema.FindingUndocumentedStatus,
			Severity: schema.SeverityLow,
			Reason: fmt.Sprintf("%s %s answered %d, which the API description does not document for %s",
				specShowMethod(method), specShowPath(path), status, op.name),
			Evidence: schema.Evidence{
				Location: "response.status",
				Rule:     "openapi.status",
				Expected: slices.Clone(op.documented),
			},
		}}
	}
	// No operation: does the path exist with other methods?
	all := specMatcher{collect: true}
	s.root.match(segs, &all)
	if all.found && m.method == specOPTIONS {
		return nil // a CORS preflight on a documented path
	}
	f := schema.Finding{
		Type:     schema.FindingUndocumentedRoute,
		Severity: schema.SeverityMedium,
		Reason:   fmt.Sprintf("%s %s is not in the API description", specShowMethod(method), specShowPath(path)),
		Evidence: schema.Evidence{Location: "request.path", Rule: "openapi.path"},
	}
	if all.found {
		f.Evidence.Rule = "openapi.method"
		f.Evidence.Expected = all.methods()
		f.Reason += "; the path documents " + strings.Join(f.Evidence.Expected, ", ")
	}
	return []schema.Finding{f}
}

// specMatcher says which routes a walk of the trie accepts: those with an
// operation for method, or, collecting, none (it notes their methods and
// walks on).
type specMatcher struct {
	method    int    // index in specMethodNames, or -1
	name      string // the request's method, for additionalOperations
	anyMethod bool   // the method is unknown: any route will do

	collect bool
	found   bool
	seen    uint16 // bit i: specMethodNames[i]
	extra   []string
}

// accepts reports whether r serves the request.
func (m *specMatcher) accepts(r *specRoute) bool {
	if m.collect {
		m.found = true
		for i, op := range r.ops {
			if op != nil {
				m.seen |= 1 << i
			}
		}
		for name := range r.extra {
			if !slices.Contains(m.extra, name) {
				m.extra = append(m.extra, name)
			}
		}
		return false
	}
	return m.anyMethod || r.lookup(m) != nil
}

// methods lists the methods collected, sorted.
func (m *specMatcher) methods() []string {
	out := slices.Clone(m.extra)
	for i, name := range specMethodNames {
		if m.seen&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// lookup returns r's operation for the request's method, or nil.
func (r *specRoute) lookup(m *specMatcher) *specOperation {
	switch {
	case m.anyMethod:
		return nil
	case m.method >= 0 && r.ops[m.method] != nil:
		return r.ops[m.method]
	case m.method == specHEAD && r.ops[specGET] != nil:
		return r.ops[specGET]
	case m.method < 0 && r.extra != nil:
		if op := r.extra[strings.ToUpper(m.name)]; op != nil {
			return op
		}
	}
	return r.any
}

// match walks the trie for segs and returns the first route m accepts,
// trying literal, pattern, parameter and greedy children in that order.
// Each trie node is visited at most once per walk.
func (n *specNode) match(segs []string, m *specMatcher) *specRoute {
	if len(segs) == 0 {
		if n.route != nil && m.accepts(n.route) {
			return n.route
		}
		return nil
	}
	seg, rest := segs[0], segs[1:]
	if c := n.literals[seg]; c != nil {
		if r := c.match(rest, m); r != nil {
			return r
		}
	}
	for _, p := range n.patterns {
		if specMatchPattern(p.parts, seg) {
			if r := p.next.match(rest, m); r != nil {
				return r
			}
		}
	}
	if seg == "" {
		return nil // a parameter matches a non-empty segment
	}
	if n.param != nil {
		if r := n.param.match(rest, m); r != nil {
			return r
		}
	}
	if n.greedy != nil && m.accepts(n.greedy) {
		return n.greedy
	}
	return nil
}

// specMatchPattern reports whether seg matches parts, each parameter
// taking one byte or more. Parameters are never adjacent (specCompile
// refuses that), so taking each literal at its first place is enough:
// linear time, whatever the segment.
func specMatchPattern(parts []specPart, seg string) bool {
	pos := 0
	for i, p := range parts {
		if !p.param {
			if i == 0 {
				if !strings.HasPrefix(seg, p.lit) {
					return false
				}
				pos = len(p.lit)
			}
			continue
		}
		if i+1 == len(parts) { // the parameter ends the segment
			return pos < len(seg)
		}
		lit := parts[i+1].lit
		if i+2 == len(parts) { // the literal ends the segment
			return len(seg)-len(lit) > pos && strings.HasSuffix(seg, lit)
		}
		if pos+1 > len(seg) {
			return false
		}
		j := strings.Index(seg[pos+1:], lit)
		if j < 0 {
			return false
		}
		pos += 1 + j + len(lit)
	}
	return pos == len(seg)
}

// specSplit appends the segments of a request path to segs, each
// percent-decoded (an undecodable one is kept as it is). One trailing
// slash is ignored, and the leading one is optional.
func specSplit(segs []string, path string) []string {
	path = strings.TrimPrefix(path, "/")
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return segs
	}
	for {
		seg, rest, more := strings.Cut(path, "/")
		segs = append(segs, specUnescape(seg))
		if !more {
			return segs
		}
		path = rest
	}
}

// specUnescape percent-decodes one segment, or returns it as it is.
func specUnescape(seg string) string {
	if strings.IndexByte(seg, '%') < 0 {
		return seg
	}
	if d, err := url.PathUnescape(seg); err == nil {
		return d
	}
	return seg
}

// specShowMethod is the request's method as a reason quotes it.
func specShowMethod(m string) string {
	if m == "" {
		return "(unknown method)"
	}
	return specShorten(strings.ToUpper(m), 16)
}

// specShowPath is the request's path (its query already cut) as a reason
// quotes it: valid UTF-8, at most specReasonPath bytes.
func specShowPath(p string) string {
	if p == "" {
		return "/"
	}
	return specShorten(p, specReasonPath)
}

// specShorten cuts s to at most n bytes on a rune boundary, marking the
// cut, and replaces invalid UTF-8.
func specShorten(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Reading the document: JSON and YAML are both seen as specValues, so that
// one reader (specRead) walks either.

// specKind is what a specValue holds.
type specKind int

const (
	specOther specKind = iota // an unresolved alias, say
	specNull
	specScalar
	specObject
	specArray
)

// specValue is one value of the parsed document.
type specValue interface {
	kind() specKind
	// text is a scalar's text: a string unquoted, a number as written.
	text() string
	// fields calls fn for each member of an object, in a stable order.
	fields(fn func(key string, v specValue) error) error
	// elems calls fn for each element of an array.
	elems(fn func(v specValue) error) error
}

// specParse parses data as JSON when it looks like JSON (an object), or
// as YAML.
func specParse(data []byte) (specValue, error) {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\uFEFF")))
	if len(trimmed) == 0 {
		return nil, errors.New("openapi: the API description is empty")
	}
	if trimmed[0] == '{' {
		var top json.RawMessage
		err := json.Unmarshal(trimmed, &top)
		if err == nil {
			return specJSON(top), nil
		}
		// A YAML flow mapping also begins with "{".
		if y, yerr := specParseYAML(data); yerr == nil {
			return y, nil
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("openapi: not valid JSON (at byte %d): %w", syn.Offset, err)
		}
		return nil, fmt.Errorf("openapi: not valid JSON: %w", err)
	}
	return specParseYAML(data)
}

// specParseYAML parses data into a YAML node tree. Aliases are not
// expanded there (yaml.v3 expands them only when decoding into Go values):
// specYAML follows them within the specMaxEntries budget.
func specParseYAML(data []byte) (v specValue, err error) {
	defer func() {
		// yaml.v3 turns its own failures into errors; this keeps any
		// other panic of the parser on bad input an error too.
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("openapi: not valid YAML: the parser failed: %v", r)
		}
	}()
	if len(data) > MaxYAMLSpecSize {
		return nil, fmt.Errorf("openapi: the YAML description is %d bytes, more than the %d accepted for YAML; convert it to JSON (up to %d bytes)", len(data), MaxYAMLSpecSize, MaxSpecSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("openapi: not valid YAML or JSON: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errors.New("openapi: the API description is empty")
	}
	return specYAML{n: doc.Content[0], budget: &specBudget{left: specMaxEntries}}, nil
}

// specJSON is a JSON value, decoded when read.
type specJSON json.RawMessage

func (v specJSON) kind() specKind {
	b := bytes.TrimSpace(v)
	if len(b) == 0 {
		return specNull
	}
	switch b[0] {
	case '{':
		return specObject
	case '[':
		return specArray
	case 'n':
		return specNull
	}
	return specScalar
}

func (v specJSON) text() string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}

func (v specJSON) fields(fn func(string, specValue) error) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := fn(k, specJSON(m[k])); err != nil {
			return err
		}
	}
	return nil
}

func (v specJSON) elems(fn func(specValue) error) error {
	var a []json.RawMessage
	if err := json.Unmarshal(v, &a); err != nil {
		return err
	}
	for _, e := range a {
		if err := fn(specJSON(e)); err != nil {
			return err
		}
	}
	return nil
}

// specBudget counts the entries a YAML reading may still visit.
type specBudget struct{ left int }

var errSpecTooManyEntries = fmt.Errorf("the description has more than %d entries once its YAML aliases are followed", specMaxEntries)

func (b *specBudget) spend() error {
	b.left--
	if b.left < 0 {
		return errSpecTooManyEntries
	}
	return nil
}

// specYAML is a YAML node; aliases are followed, merge keys (<<) merged.
type specYAML struct {
	n      *yaml.Node
	budget *specBudget
}

// node is v's node, its alias followed.
func (v specYAML) node() *yaml.Node {
	n := v.n
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 4; i++ {
		n = n.Alias
	}
	return n
}

func (v specYAML) kind() specKind {
	n := v.node()
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return specNull
		}
		return specScalar
	case yaml.MappingNode:
		return specObject
	case yaml.SequenceNode:
		return specArray
	}
	return specOther
}

func (v specYAML) text() string { return v.node().Value }

func (v specYAML) fields(fn func(string, specValue) error) error {
	return v.fieldsDepth(fn, 0)
}

func (v specYAML) fieldsDepth(fn func(string, specValue) error, depth int) error {
	n := v.node()
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: not a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := v.budget.spend(); err != nil {
			return err
		}
		k := specYAML{n: n.Content[i], budget: v.budget}.node()
		val := specYAML{n: n.Content[i+1], budget: v.budget}
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a key that is not a string", k.Line)
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			if err := val.merge(fn, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := fn(k.Value, val); err != nil {
			return err
		}
	}
	return nil
}

// merge reads the mapping, or sequence of mappings, of a merge key.
func (v specYAML) merge(fn func(string, specValue) error, depth int) error {
	if depth > specMaxMergeDepth {
		return fmt.Errorf("line %d: YAML merge keys (<<) nested more than %d deep", v.n.Line, specMaxMergeDepth)
	}
	if v.kind() == specArray {
		return v.elems(func(e specValue) error { return e.(specYAML).fieldsDepth(fn, depth) })
	}
	return v.fieldsDepth(fn, depth)
}

func (v specYAML) elems(fn func(specValue) error) error {
	n := v.node()
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: not a sequence", n.Line)
	}
	for _, e := range n.Content {
		if err := v.budget.spend(); err != nil {
			return err
		}
		if err := fn(specYAML{n: e, budget: v.budget}); err != nil {
			return err
		}
	}
	return nil
}

// specDoc is what the reader takes from a description.
type specDoc struct {
	servers    []specServer
	paths      []specPath
	operations int
}

type specServer struct {
	url string
	// vars: each variable's default first, then its enum values.
	vars map[string][]string
}

type specPath struct {
	template string
	ops      []specRawOp
	// ref: the path item is (also) a $ref, which is not followed.
	ref bool
}

type specRawOp struct {
	method    string // upper case; "" for x-amazon-apigateway-any-method
	responses []string
}

// specRead reads the parts of a description the detector needs.
func specRead(top specValue) (*specDoc, error) {
	if top.kind() != specObject {
		return nil, errors.New("not an OpenAPI 3 document: its top level is not an object")
	}
	var version, swagger, servers, paths specValue
	err := top.fields(func(k string, v specValue) error {
		switch k {
		case "openapi":
			version = v
		case "swagger":
			swagger = v
		case "servers":
			servers = v
		case "paths":
			paths = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the top level: %w", err)
	}
	switch {
	case swagger != nil && version == nil:
		if t := swagger.text(); t != "2.0" {
			//lint:ignore ST1005 Swagger is a name
			return nil, fmt.Errorf("Swagger %q is not supported; convert to OpenAPI 3", t)
		}
		//lint:ignore ST1005 Swagger is a name
		return nil, errors.New("Swagger 2.0 is not supported; convert to OpenAPI 3")
	case version == nil:
		return nil, errors.New(`not an OpenAPI 3 document: it has no "openapi" field`)
	case version.kind() != specScalar || !strings.HasPrefix(version.text(), "3."):
		return nil, fmt.Errorf("not an OpenAPI 3 document: openapi is %q, want 3.0.x or 3.1.x", version.text())
	}
	doc := &specDoc{}
	if servers != nil && servers.kind() != specNull {
		if doc.servers, err = specReadServers(servers); err != nil {
			return nil, fmt.Errorf("servers: %w", err)
		}
	}
	if paths == nil || paths.kind() == specNull {
		return nil, errors.New("the API description has no paths")
	}
	if paths.kind() != specObject {
		return nil, errors.New("paths is not an object")
	}
	err = paths.fields(func(template string, item specValue) error {
		if strings.HasPrefix(template, "x-") {
			return nil
		}
		p, err := specReadPath(template, item)
		if err != nil {
			return fmt.Errorf("paths %q: %w", template, err)
		}
		doc.operations += len(p.ops)
		if doc.operations > specMaxOperations {
			return fmt.Errorf("more than %d operations", specMaxOperations)
		}
		doc.paths = append(doc.paths, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if doc.operations == 0 && !slices.ContainsFunc(doc.paths, func(p specPath) bool { return p.ref }) {
		return nil, errors.New("the API description has no operations under paths")
	}
	return doc, nil
}

func specReadServers(v specValue) ([]specServer, error) {
	if v.kind() != specArray {
		return nil, errors.New("not an array")
	}
	var out []specServer
	err := v.elems(func(e specValue) error {
		if e.kind() != specObject {
			return errors.New("a server that is not an object")
		}
		s := specServer{vars: map[string][]string{}}
		err := e.fields(func(k string, f specValue) error {
			switch k {
			case "url":
				s.url = f.text()
			case "variables":
				if f.kind() != specObject {
					return errors.New("variables is not an object")
				}
				return f.fields(func(name string, def specValue) error {
					return specReadVariable(s.vars, name, def)
				})
			}
			return nil
		})
		if err == nil && s.url != "" {
			out = append(out, s)
		}
		return err
	})
	return out, err
}

func specReadVariable(vars map[string][]string, name string, v specValue) error {
	if v.kind() != specObject {
		return fmt.Errorf("variable %q is not an object", name)
	}
	var def string
	var enum []string
	err := v.fields(func(k string, f specValue) error {
		switch k {
		case "default":
			def = f.text()
		case "enum":
			if f.kind() != specArray {
				return fmt.Errorf("variable %q: enum is not an array", name)
			}
			return f.elems(func(e specValue) error {
				enum = append(enum, e.text())
				return nil
			})
		}
		return nil
	})
	vals := []string{def}
	for _, e := range enum {
		if !slices.Contains(vals, e) {
			vals = append(vals, e)
		}
	}
	vars[name] = vals
	return err
}

func specReadPath(template string, item specValue) (specPath, error) {
	p := specPath{template: template}
	switch item.kind() {
	case specNull:
		return p, nil
	case specObject:
	default:
		return p, errors.New("not an object")
	}
	err := item.fields(func(k string, v specValue) error {
		lower := strings.ToLower(k)
		switch {
		case k == "$ref":
			p.ref = true
		case lower == "x-amazon-apigateway-any-method":
			return p.addOp("", k, v)
		case specMethod(lower) >= 0:
			return p.addOp(strings.ToUpper(k), k, v)
		case k == "additionalOperations": // OpenAPI 3.2
			if v.kind() != specObject {
				return errors.New("additionalOperations is not an object")
			}
			return v.fields(func(method string, op specValue) error {
				return p.addOp(strings.ToUpper(method), method, op)
			})
		}
		return nil
	})
	return p, err
}

// addOp reads the operation under key k.
func (p *specPath) addOp(method, k string, v specValue) error {
	op := specRawOp{method: method}
	switch v.kind() {
	case specNull:
	case specObject:
		err := v.fields(func(field string, r specValue) error {
			if field != "responses" || r.kind() == specNull {
				return nil
			}
			if r.kind() != specObject {
				return errors.New("responses is not an object")
			}
			return r.fields(func(code string, _ specValue) error {
				op.responses = append(op.responses, code)
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	default:
		return fmt.Errorf("%s is not an object", k)
	}
	p.ops = append(p.ops, op)
	return nil
}

// build compiles the templates into the trie.
func (d *specDoc) build() (*Spec, error) {
	prefixes, err := specPrefixes(d.servers)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(d.paths, func(a, b specPath) int { return strings.Compare(a.template, b.template) })
	s := &Spec{root: &specNode{}, operations: d.operations}
	for _, p := range d.paths {
		segs, err := specCompile(p.template)
		if err != nil {
			return nil, fmt.Errorf("paths: bad template %q: %w", p.template, err)
		}
		if len(p.ops) == 0 && !p.ref {
			continue // a path without operations documents nothing
		}
		ops := make([]*specOperation, len(p.ops))
		for i, raw := range p.ops {
			if ops[i], err = specNewOperation(p.template, raw); err != nil {
				return nil, err
			}
		}
		for _, prefix := range prefixes {
			r := s.root.insert(append(slices.Clip(prefix), segs...), p.template)
			for i, raw := range p.ops {
				r.add(raw.method, ops[i])
			}
			if p.ref && r.any == nil {
				r.any = &specOperation{name: "ANY " + p.template}
			}
		}
	}
	return s, nil
}

// add gives r the operation op for method ("": any method), merging it
// with one already there (two templates that differ only in parameter
// names, or a prefixed template that is also a template of its own).
func (r *specRoute) add(method string, op *specOperation) {
	merge := func(old *specOperation) *specOperation {
		if old == nil {
			return op
		}
		return old.union(op)
	}
	switch i := specMethod(method); {
	case method == "":
		r.any = merge(r.any)
	case i >= 0:
		r.ops[i] = merge(r.ops[i])
	default:
		if r.extra == nil {
			r.extra = map[string]*specOperation{}
		}
		r.extra[method] = merge(r.extra[method])
	}
}

// union returns a new operation documenting what a or b does.
func (a *specOperation) union(b *specOperation) *specOperation {
	u := *a
	u.known = a.known || b.known
	for i := range u.codes {
		u.codes[i] |= b.codes[i]
	}
	u.ranges |= b.ranges
	u.hasDefault = a.hasDefault || b.hasDefault
	u.documented = nil
	for _, k := range slices.Concat(a.documented, b.documented) {
		if !slices.Contains(u.documented, k) {
			u.documented = append(u.documented, k)
		}
	}
	specSortDocumented(u.documented)
	return &u
}

// specNewOperation compiles an operation's response keys.
func specNewOperation(template string, raw specRawOp) (*specOperation, error) {
	method := raw.method
	if method == "" {
		method = "ANY"
	}
	op := &specOperation{name: method + " " + template}
	for _, key := range raw.responses {
		switch {
		case strings.HasPrefix(key, "x-"):
			continue
		case key == "default":
			op.hasDefault = true
		case len(key) == 3 && key[0] >= '1' && key[0] <= '5' && strings.EqualFold(key[1:], "XX"):
			op.ranges |= 1 << (key[0] - '0')
			key = strings.ToUpper(key)
		default:
			c, err := strconv.Atoi(key)
			if err != nil || len(key) != 3 || c < 100 || c > 599 {
				return nil, fmt.Errorf("paths %q %s: bad response code %q (want 100 to 599, 1XX to 5XX or default)", template, strings.ToLower(method), key)
			}
			op.codes[c/64] |= 1 << (c % 64)
		}
		op.known = true
		if !slices.Contains(op.documented, key) {
			op.documented = append(op.documented, key)
		}
	}
	specSortDocumented(op.documented)
	return op, nil
}

// specSortDocumented orders response keys: codes, ranges, default.
func specSortDocumented(keys []string) {
	rank := func(k string) int {
		switch {
		case k == "default":
			return 2
		case strings.HasSuffix(k, "XX"):
			return 1
		}
		return 0
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
}

// specSegment is one compiled segment of a template.
type specSegment struct {
	kind  specSegKind
	lit   string     // specLiteral: the segment, percent-decoded
	parts []specPart // specPatternSeg
}

type specSegKind int

const (
	specLiteral specSegKind = iota
	specParam
	specGreedy
	specPatternSeg
)

// specCompile compiles a path template: literal segments, {params}, a
// last {name+} (greedy, as API Gateway writes it) and segments mixing
// both ("{name}.{ext}").
func specCompile(template string) ([]specSegment, error) {
	if !strings.HasPrefix(template, "/") {
		return nil, errors.New(`it does not start with "/"`)
	}
	if strings.ContainsAny(template, "?#") {
		return nil, errors.New("it holds a query or fragment")
	}
	body := strings.TrimSuffix(template[1:], "/")
	if body == "" {
		return nil, nil
	}
	raw := strings.Split(body, "/")
	segs := make([]specSegment, 0, len(raw))
	for i, s := range raw {
		seg, err := specCompileSegment(s)
		if err != nil {
			return nil, err
		}
		if seg.kind == specGreedy && i != len(raw)-1 {
			return nil, fmt.Errorf("the greedy parameter %q is not the last segment", s)
		}
		segs = append(segs, seg)
	}
	return segs, nil
}

func specCompileSegment(s string) (specSegment, error) {
	if s == "" {
		return specSegment{}, errors.New("an empty segment")
	}
	if !strings.ContainsAny(s, "{}") {
		return specSegment{kind: specLiteral, lit: specUnescape(s)}, nil
	}
	var parts []specPart
	for rest := s; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if closing := strings.IndexByte(rest, '}'); closing >= 0 && (open < 0 || closing < open) {
			return specSegment{}, fmt.Errorf(`a "}" without "{" in %q`, s)
		}
		if open < 0 {
			parts = append(parts, specPart{lit: specUnescape(rest)})
			break
		}
		if open > 0 {
			parts = append(parts, specPart{lit: specUnescape(rest[:open])})
		}
		name, after, ok := strings.Cut(rest[open+1:], "}")
		switch {
		case !ok:
			return specSegment{}, fmt.Errorf(`an unclosed "{" in %q`, s)
		case strings.Contains(name, "{"):
			return specSegment{}, fmt.Errorf(`nested "{" in %q`, s)
		case name == "" || name == "+":
			return specSegment{}, fmt.Errorf("a parameter without a name in %q", s)
		case len(parts) > 0 && parts[len(parts)-1].param:
			return specSegment{}, fmt.Errorf("adjacent parameters in %q", s)
		}
		if strings.HasSuffix(name, "+") {
			if len(parts) > 0 || after != "" {
				return specSegment{}, fmt.Errorf("the greedy parameter in %q is not a whole segment", s)
			}
			return specSegment{kind: specGreedy}, nil
		}
		parts = append(parts, specPart{param: true})
		rest = after
	}
	if len(parts) == 1 && parts[0].param {
		return specSegment{kind: specParam}, nil
	}
	return specSegment{kind: specPatternSeg, parts: parts}, nil
}

// insert adds the route of segs to the trie, or returns the one there.
func (n *specNode) insert(segs []specSegment, template string) *specRoute {
	for _, seg := range segs {
		switch seg.kind {
		case specLiteral:
			if n.literals == nil {
				n.literals = map[string]*specNode{}
			}
			c := n.literals[seg.lit]
			if c == nil {
				c = &specNode{}
				n.literals[seg.lit] = c
			}
			n = c
		case specParam:
			if n.param == nil {
				n.param = &specNode{}
			}
			n = n.param
		case specPatternSeg:
			n = n.pattern(seg.parts)
		case specGreedy: // the last segment (specCompile checks)
			if n.greedy == nil {
				n.greedy = &specRoute{template: template}
			}
			return n.greedy
		}
	}
	if n.route == nil {
		n.route = &specRoute{template: template}
	}
	return n.route
}

// pattern returns n's child for a pattern segment, keeping the patterns
// with more literal text first (the more specific).
func (n *specNode) pattern(parts []specPart) *specNode {
	var key strings.Builder
	for _, p := range parts {
		if p.param {
			key.WriteString("{}") // literal parts hold no braces
		} else {
			key.WriteString(p.lit)
		}
	}
	for _, p := range n.patterns {
		if p.key == key.String() {
			return p.next
		}
	}
	p := &specPattern{key: key.String(), parts: parts, next: &specNode{}}
	n.patterns = append(n.patterns, p)
	slices.SortStableFunc(n.patterns, func(a, b *specPattern) int {
		return specLiteralLen(b.parts) - specLiteralLen(a.parts)
	})
	return p.next
}

// specLiteralLen is the length of a pattern's literal text.
func specLiteralLen(parts []specPart) int {
	n := 0
	for _, p := range parts {
		n += len(p.lit)
	}
	return n
}

// specPrefixes returns the path prefixes templates are matched under: none
// (the bare template) first, then each server URL's path, its variables
// replaced by their default and enum values, at most specMaxPrefixes.
func specPrefixes(servers []specServer) ([][]specSegment, error) {
	prefixes := [][]specSegment{nil}
	seen := map[string]bool{"": true}
	for _, s := range servers {
		for _, p := range specServerPaths(s) {
			if seen[p] || len(prefixes) > specMaxPrefixes {
				continue
			}
			seen[p] = true
			segs, err := specCompile(p)
			if err != nil {
				return nil, fmt.Errorf("servers: bad url %q: %w", s.url, err)
			}
			if len(segs) > 0 && segs[len(segs)-1].kind == specGreedy {
				return nil, fmt.Errorf("servers: bad url %q: a greedy parameter", s.url)
			}
			prefixes = append(prefixes, segs)
		}
	}
	return prefixes, nil
}

// specServerPaths returns the paths of a server URL ("https://host/v1",
// "/v1", "v1"), once for each value of its variables.
func specServerPaths(s specServer) []string {
	u := s.url
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			u = u[j:]
		} else {
			u = ""
		}
	} else if rest, ok := strings.CutPrefix(u, "//"); ok {
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			u = rest[j:]
		} else {
			u = ""
		}
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimLeft(u, ".")
	paths := []string{u}
	for _, name := range slices.Sorted(maps.Keys(s.vars)) {
		vals := s.vars[name]
		ref := "{" + name + "}"
		var next []string
		for _, p := range paths {
			if !strings.Contains(p, ref) {
				next = append(next, p)
				continue
			}
			for _, v := range vals {
				if len(next) < specMaxPrefixes {
					next = append(next, strings.ReplaceAll(p, ref, v))
				}
			}
		}
		paths = next
	}
	for i, p := range paths {
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
		p = strings.TrimSuffix(p, "/")
		if p != "" && !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		paths[i] = p
	}
	return paths
}
