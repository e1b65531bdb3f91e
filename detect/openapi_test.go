package detect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/audittrail/audittrail/schema"
)

// loadTestSpec loads testdata/openapi/name.
func loadTestSpec(t testing.TB, name string) *Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "openapi", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(data)
	if err != nil {
		t.Fatalf("LoadSpec(%s): %v", name, err)
	}
	return s
}

// mustSpec loads an inline description.
func mustSpec(t testing.TB, doc string) *Spec {
	t.Helper()
	s, err := LoadSpec([]byte(doc))
	if err != nil {
		t.Fatalf("LoadSpec: %v\n%s", err, doc)
	}
	return s
}

// verdict is what a test expects of Check: no finding ("" rule), or one
// finding of the rule's type with these expected values.
type verdict struct {
	rule     string // "", "openapi.path", "openapi.method", "openapi.status"
	expected []string
}

var (
	documented = verdict{}
	noPath     = verdict{rule: "openapi.path"}
)

func methods(m ...string) verdict { return verdict{rule: "openapi.method", expected: m} }
func statuses(s ...string) verdict {
	return verdict{rule: "openapi.status", expected: s}
}

// checkVerdict compares Check's findings with want, and the fields every
// finding of the rule must have.
func checkVerdict(t *testing.T, got []schema.Finding, want verdict) {
	t.Helper()
	if want.rule == "" {
		if len(got) != 0 {
			t.Fatalf("findings %+v, want none", got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("findings %+v, want one %s", got, want.rule)
	}
	f := got[0]
	typ, sev, loc := schema.FindingUndocumentedRoute, schema.SeverityMedium, "request.path"
	if want.rule == "openapi.status" {
		typ, sev, loc = schema.FindingUndocumentedStatus, schema.SeverityLow, "response.status"
	}
	if f.Type != typ || f.Severity != sev || f.Evidence.Location != loc || f.Evidence.Rule != want.rule {
		t.Errorf("finding %+v, want type %s, severity %s, location %s, rule %s", f, typ, sev, loc, want.rule)
	}
	if !slices.Equal(f.Evidence.Expected, want.expected) {
		t.Errorf("expected %q, want %q", f.Evidence.Expected, want.expected)
	}
	if f.Reason == "" {
		t.Error("no reason")
	}
}

func TestLoadSpecTestdata(t *testing.T) {
	tests := []struct {
		file       string
		operations int
		err        string // substring of the error; "" when it loads
	}{
		{file: "bookshop-3.0.yaml", operations: 12},
		{file: "telemetry-3.1.json", operations: 4},
		{file: "apigateway-export.yaml", operations: 6},
		{file: "billion-laughs.yaml", operations: 1},
		{file: "swagger-2.0.yaml", err: "openapi: Swagger 2.0 is not supported; convert to OpenAPI 3"},
		{file: "swagger-2.0.json", err: "openapi: Swagger 2.0 is not supported; convert to OpenAPI 3"},
		{file: "not-yaml.txt", err: "not valid YAML or JSON: yaml: line 2"},
		{file: "no-paths.yaml", err: "the API description has no paths"},
		{file: "bad-template.yaml", err: `bad template "/users/{id": an unclosed "{"`},
		{file: "alias-bomb.yaml", err: "entries once its YAML aliases are followed"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "openapi", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := LoadSpec(data)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				if s != nil {
					t.Error("a Spec with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Operations(); got != tt.operations {
				t.Errorf("Operations() = %d, want %d", got, tt.operations)
			}
		})
	}
}

func TestLoadSpecErrors(t *testing.T) {
	const head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
	op := func(template string) string {
		return head + "paths:\n  " + template + ":\n    get:\n      responses: {'200': {description: ok}}\n"
	}
	tests := []struct {
		name, doc, err string
	}{
		{"empty", "", "the API description is empty"},
		{"blank", " \n\t\n", "the API description is empty"},
		{"byte order mark only", "\uFEFF\n", "the API description is empty"},
		{"comments only", "# nothing here\n", "the API description is empty"},
		{"too big", head + strings.Repeat("#", MaxSpecSize), "more than the 4194304 accepted"},
		{"binary", "\x00\x01\x02\x89PNG", "not valid YAML or JSON"},
		{"prose", "This is the API of the shop.", "its top level is not an object"},
		{"array", "[1, 2]", "its top level is not an object"},
		{"bad JSON", `{"openapi": "3.0.0", "paths": {`, "not valid JSON (at byte 31)"},
		{"swagger 1.2", "swagger: '1.2'\n", `Swagger "1.2" is not supported; convert to OpenAPI 3`},
		{"no version", "info: {title: t}\npaths: {}\n", `not an OpenAPI 3 document: it has no "openapi" field`},
		{"version 2", "openapi: 2.0.0\npaths: {}\n", `openapi is "2.0.0", want 3.0.x or 3.1.x`},
		{"version object", "openapi: {v: 3}\npaths: {}\n", "not an OpenAPI 3 document: openapi is"},
		{"null paths", head + "paths:\n", "the API description has no paths"},
		{"paths array", head + "paths: [a]\n", "paths is not an object"},
		{"empty paths", head + "paths: {}\n", "the API description has no operations under paths"},
		{"only extensions", head + "paths: {x-note: 1, /a: {summary: s}}\n", "no operations under paths"},
		{"path item scalar", head + "paths: {/a: 3}\n", `paths "/a": not an object`},
		{"operation scalar", head + "paths: {/a: {get: 3}}\n", `paths "/a": get is not an object`},
		{"responses array", head + "paths: {/a: {get: {responses: [200]}}}\n", "get: responses is not an object"},
		{"key not a string", head + "paths: {/a: {? [get] : {}}}\n", "a key that is not a string"},
		{"no leading slash", op("users"), `bad template "users": it does not start with "/"`},
		{"query", op("/users?id=1"), "it holds a query or fragment"},
		{"unclosed", op("/users/{id"), `an unclosed "{" in "{id"`},
		{"unopened", op("/users/id}"), `a "}" without "{" in "id}"`},
		{"nested", op("/users/{{id}}"), `nested "{"`},
		{"empty name", op("/users/{}"), "a parameter without a name"},
		{"adjacent", op("/files/{name}{ext}"), "adjacent parameters"},
		{"empty segment", op("/users//{id}"), "an empty segment"},
		{"greedy not last", op("/{proxy+}/x"), "is not the last segment"},
		{"greedy in a pattern", op("/files/v{proxy+}"), "is not a whole segment"},
		{"bad code", head + "paths: {/a: {get: {responses: {'200': {}, '20': {}}}}}\n", `paths "/a" get: bad response code "20"`},
		{"code 600", head + "paths: {/a: {get: {responses: {'600': {}}}}}\n", `bad response code "600"`},
		{"range 6XX", head + "paths: {/a: {get: {responses: {'6XX': {}}}}}\n", `bad response code "6XX"`},
		{"word code", head + "paths: {/a: {get: {responses: {ok: {}}}}}\n", `bad response code "ok"`},
		{"servers object", head + "servers: {url: /v1}\n" + "paths: {/a: {get: {}}}\n", "servers: not an array"},
		{"server scalar", head + "servers: [/v1]\n" + "paths: {/a: {get: {}}}\n", "a server that is not an object"},
		{"server variable scalar", head + "servers: [{url: '/{v}', variables: {v: 1}}]\npaths: {/a: {get: {}}}\n", `variable "v" is not an object`},
		{"server greedy", head + "servers: [{url: '/{p+}/x'}]\npaths: {/a: {get: {}}}\n", `servers: bad url "/{p+}/x"`},
		{"merge cycle", head + "paths:\n  /a:\n    get:\n      responses: &r {'200': {}, <<: *r}\n", "merge keys (<<) nested more than 8 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSpec([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "openapi: ") {
				t.Errorf("error %q does not start with openapi:", err)
			}
			if s != nil {
				t.Error("a Spec with the error")
			}
		})
	}
}

// TestYAMLAliases shows why the description is read from yaml.v3's node
// tree: decoding into Go values expands aliases (yaml.v3 refuses a
// document whose aliases expand too much, its own protection), the node
// tree keeps them, and the reader follows only those it needs, within
// its entry budget.
func TestYAMLAliases(t *testing.T) {
	laughs, err := os.ReadFile("testdata/openapi/billion-laughs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(laughs, &v); err == nil || !strings.Contains(err.Error(), "excessive aliasing") {
		t.Errorf("yaml.v3 decoded the billion laughs into Go values: %v", err)
	}
	s, err := LoadSpec(laughs)
	if err != nil {
		t.Fatalf("the unread billion laughs: %v", err)
	}
	checkVerdict(t, s.Check("GET", "/lol", 200), documented)

	bomb, err := os.ReadFile("testdata/openapi/alias-bomb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSpec(bomb); !errors.Is(err, errSpecTooManyEntries) {
		t.Errorf("the alias bomb: %v, want errSpecTooManyEntries", err)
	}

	// Aliases within the budget are followed: a shared path item and a
	// shared responses map.
	shared := mustSpec(t, `openapi: 3.0.0
x-errors: &errors {"401": {description: no}, "403": {description: no}}
x-item: &item {get: {responses: {"200": {description: ok}, <<: *errors}}}
paths:
  /a: *item
  /b: *item
`)
	checkVerdict(t, shared.Check("GET", "/b", 403), documented)
	checkVerdict(t, shared.Check("GET", "/a", 404), statuses("200", "401", "403"))
}

func TestSpecCheckBookshop(t *testing.T) {
	s := loadTestSpec(t, "bookshop-3.0.yaml")
	tests := []struct {
		method, path string
		status       int
		want         verdict
	}{
		{"GET", "/v1/books", 200, documented},
		{"GET", "/books", 200, documented}, // the bare template too
		{"get", "/v1/books", 200, documented},
		{"GET", "/v1/books/", 200, documented},
		{"GET", "/v1/books?author=ann&token=secret", 400, documented},
		{"GET", "/v1/books", 500, statuses("200", "400")},
		{"GET", "/v1/books", 0, documented},
		{"POST", "/v1/books", 409, documented},
		{"DELETE", "/v1/books", 204, methods("GET", "POST")},
		{"GET", "/v1/Books", 200, noPath}, // case-sensitive
		{"GET", "/v2/books", 200, noPath},
		{"GET", "/v1/books/9780140449136", 404, documented},
		{"GET", "/v1/books/9780140449136", 401, statuses("200", "404")},
		{"PUT", "/v1/books/9780140449136", 418, documented},                        // 4XX
		{"PUT", "/v1/books/9780140449136", 503, statuses("204", "4XX")},            // not 5XX
		{"DELETE", "/v1/books/9780140449136", 599, documented},                     // default
		{"PATCH", "/v1/books/9780140449136", 200, methods("DELETE", "GET", "PUT")}, // path-level parameters are no method
		{"GET", "/v1/books/978%2F0140449136", 200, documented},                     // one segment, decoded
		{"GET", "/v1/books/9780140449136/reviews", 200, noPath},
		{"GET", "/v1/books/9780140449136/cover.png", 200, documented},
		{"GET", "/v1/books/9780140449136/cover.tar.gz", 404, documented},
		{"GET", "/v1/books/9780140449136/cover.", 200, noPath},
		{"GET", "/v1/books/9780140449136/cover", 200, noPath},
		{"GET", "/v1/books//cover.png", 200, noPath}, // a parameter is not empty
		{"GET", "/v1/authors/me", 200, documented},
		{"GET", "/v1/authors/me", 404, statuses("200", "401")}, // /authors/me, not /authors/{authorId}
		{"GET", "/v1/authors/%6De", 404, statuses("200", "401")},
		{"GET", "/v1/authors/42", 404, documented},
		{"PATCH", "/v1/authors/me", 403, documented}, // no PATCH on /authors/me: /authors/{authorId}'s
		{"PATCH", "/v1/authors/42", 500, statuses("200", "401", "403")},
		{"DELETE", "/v1/authors/me", 200, methods("GET", "PATCH")},
		{"POST", "/v1/orders", 401, documented}, // merged from the anchor
		{"POST", "/v1/orders", 502, documented}, // 5XX
		{"POST", "/v1/orders", 404, statuses("201", "401", "403", "5XX")},
		{"GET", "/v1/orders/o-1", 200, documented},
		{"GET", "/v1/orders/o-1", 304, statuses("200", "404")}, // x-cache is not a code
		{"HEAD", "/v1/orders/o-1", 404, documented},            // served by GET
		{"HEAD", "/v1/health", 204, documented},
		{"GET", "/v1/health", 200, methods("HEAD")}, // HEAD does not serve GET
		{"OPTIONS", "/v1/books", 204, documented},   // a preflight
		{"OPTIONS", "/v1/internal", 204, noPath},
		{"GET", "/v1/internal/debug", 200, noPath},
		{"GET", "/v1", 200, noPath},
		{"GET", "/", 200, noPath},
		{"GET", "", 200, noPath},
		{"", "/v1/books", 500, documented}, // unknown method: the path only
		{"", "/v1/nothing", 500, noPath},
		{"BREW", "/v1/books", 200, methods("GET", "POST")},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
			checkVerdict(t, s.Check(tt.method, tt.path, tt.status), tt.want)
		})
	}
}

func TestSpecCheckAPIGateway(t *testing.T) {
	s := loadTestSpec(t, "apigateway-export.yaml")
	tests := []struct {
		method, path string
		status       int
		want         verdict
	}{
		{"GET", "/orders", 200, documented},
		{"GET", "/prod/orders", 200, documented}, // the basePath variable: the stage
		{"GET", "/dev/orders", 200, noPath},
		{"GET", "/prod/orders", 500, statuses("200")},
		{"POST", "/orders", 400, documented},
		{"OPTIONS", "/orders", 200, documented},
		{"OPTIONS", "/orders", 403, statuses("200")}, // its own OPTIONS: checked
		{"DELETE", "/orders", 200, methods("GET", "OPTIONS", "POST")},
		{"OPTIONS", "/orders/o-1", 200, documented}, // a preflight on a documented path
		{"GET", "/orders/o-1", 404, documented},
		{"PUT", "/files/reports/2025/q3.pdf", 200, documented}, // any method, greedy
		{"DELETE", "/prod/files/a", 403, documented},
		{"GET", "/files/a", 404, statuses("200", "403")},
		{"GET", "/files", 200, noPath}, // {proxy+} takes one segment or more
		{"GET", "/files/", 200, noPath},
		{"POST", "/webhook", 500, documented}, // responses: {} documents no codes
		{"GET", "/webhook", 200, methods("POST")},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
			checkVerdict(t, s.Check(tt.method, tt.path, tt.status), tt.want)
		})
	}
}

func TestSpecCheckOpenAPI31(t *testing.T) {
	s := loadTestSpec(t, "telemetry-3.1.json")
	tests := []struct {
		method, path string
		status       int
		want         verdict
	}{
		{"GET", "/v2/devices", 204, documented}, // 2XX
		{"GET", "/v2/devices", 503, documented}, // default
		{"GET", "/v1/devices", 200, documented}, // the enum of the variable
		{"GET", "/v3/devices", 200, noPath},
		{"GET", "/eu/v2/devices", 200, noPath}, // {region} is in the host
		{"POST", "/devices/7f9c/readings", 413, documented},
		{"POST", "/devices/7f9c/readings", 500, statuses("202", "400", "413", "429")},
		{"DELETE", "/devices/7f9c/readings", 200, methods("GET", "POST")},
		{"PUT", "/devices/7f9c/firmware", 500, documented}, // a $ref path item: not followed, any method
		{"GET", "/status", 200, documented},
		{"POST", "/alert", 200, noPath}, // webhooks are not paths
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
			checkVerdict(t, s.Check(tt.method, tt.path, tt.status), tt.want)
		})
	}
}

func TestSpecCheckMatching(t *testing.T) {
	s := mustSpec(t, `openapi: 3.2.0
servers:
  - url: /api/
  - url: "{scheme}://example.com/{env}/x"
    variables:
      scheme: {default: https}
      env: {default: live, enum: [live, test]}
paths:
  /:
    get: {responses: {"200": {}}}
  /users/{id}:
    get: {responses: {"200": {}}}
  /users/{name}:
    delete: {responses: {"204": {}}}
  /users/{id}/avatar.{ext}:
    get: {responses: {"200": {}}}
  /users/{id}/v{version}:
    get: {responses: {"201": {}}}
  /users/{id}/v2:
    get: {responses: {"202": {}}}
  /search:
    query: {responses: {"200": {}}}
    additionalOperations:
      LINK: {responses: {"204": {}}}
  /é/{x}:
    get: {responses: {"200": {}}}
  /a%20b:
    get: {responses: {"200": {}}}
  /empty: {summary: no operations}
  /null:
`)
	tests := []struct {
		method, path string
		status       int
		want         verdict
	}{
		{"GET", "/", 200, documented},
		{"GET", "", 200, documented},
		{"GET", "/api", 200, documented},
		{"GET", "/api/", 200, documented},
		{"GET", "/live/x/users/1", 200, documented},
		{"GET", "/test/x/users/1", 200, documented},
		{"GET", "/stage/x/users/1", 200, noPath},
		{"DELETE", "/api/users/1", 204, documented}, // {id} and {name} are the same template
		{"DELETE", "/api/users/1", 200, statuses("204")},
		{"GET", "/users/1/avatar.png", 200, documented},
		{"GET", "/users/1/avatar.", 200, noPath},
		{"GET", "/users/1/v3", 201, documented},
		{"GET", "/users/1/v2", 202, documented}, // the literal wins over the pattern
		{"GET", "/users/1/v2", 201, statuses("202")},
		{"GET", "/users/1/v", 201, noPath},
		{"QUERY", "/search", 200, documented},
		{"link", "/api/search", 204, documented},
		{"LINK", "/search", 200, statuses("204")},
		{"UNLINK", "/search", 200, methods("LINK", "QUERY")},
		{"GET", "/é/1", 200, documented},
		{"GET", "/%C3%A9/1", 200, documented},
		{"GET", "/a%20b", 200, documented},
		{"GET", "/a b", 200, documented},
		{"GET", "/a%2", 200, noPath}, // not decodable: kept as it is
		{"GET", "users/1", 200, documented},
		{"GET", "/users/1//", 200, noPath}, // one trailing slash only
		{"GET", "/empty", 200, noPath},     // a path without operations documents nothing
		{"OPTIONS", "/null", 200, noPath},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
			checkVerdict(t, s.Check(tt.method, tt.path, tt.status), tt.want)
		})
	}
}

func TestSpecCheckReason(t *testing.T) {
	s := loadTestSpec(t, "bookshop-3.0.yaml")
	long := "/v1/x" + strings.Repeat("é", 300)
	tests := []struct {
		method, path string
		status       int
		reason       string
	}{
		{"get", "/v1/internal/debug?token=s3cr3t#frag", 200, "GET /v1/internal/debug is not in the API description"},
		{"DELETE", "/v1/authors/me", 200, "DELETE /v1/authors/me is not in the API description; the path documents GET, PATCH"},
		{"GET", "/v1/books/1?key=s3cr3t", 500, "GET /v1/books/1 answered 500, which the API description does not document for GET /books/{isbn}"},
		{"HEAD", "/v1/books/1", 500, "HEAD /v1/books/1 answered 500, which the API description does not document for GET /books/{isbn}"},
		{"", "/x", 200, "(unknown method) /x is not in the API description"},
		{"GET", "", 200, "GET / is not in the API description"},
		{"GET", "/\xff", 200, "GET /\uFFFD is not in the API description"},
		{strings.Repeat("M", 40), "/x", 200, strings.Repeat("M", 16) + "… /x is not in the API description"},
		{"GET", long, 200, "GET " + long[:255] + "… is not in the API description"}, // byte 255 ends a rune, 256 does not
	}
	for _, tt := range tests {
		got := s.Check(tt.method, tt.path, tt.status)
		if len(got) != 1 || got[0].Reason != tt.reason {
			t.Errorf("Check(%q, %q, %d) = %+v, want the reason %q", tt.method, tt.path, tt.status, got, tt.reason)
		}
	}
}

// TestSpecCheckExpectedIsACopy: a finding's Expected is the caller's to
// change.
func TestSpecCheckExpectedIsACopy(t *testing.T) {
	s := loadTestSpec(t, "bookshop-3.0.yaml")
	s.Check("GET", "/books", 500)[0].Evidence.Expected[0] = "changed"
	checkVerdict(t, s.Check("GET", "/books", 500), statuses("200", "400"))
}

func TestSpecCheckNil(t *testing.T) {
	var s *Spec
	if got := s.Check("GET", "/x", 200); got != nil {
		t.Errorf("nil Spec: %+v", got)
	}
}

// TestSpecCheckConcurrent: a loaded Spec is read-only (run with -race).
func TestSpecCheckConcurrent(t *testing.T) {
	s := loadTestSpec(t, "apigateway-export.yaml")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				checkVerdict(t, s.Check("GET", "/prod/orders/1", 200), documented)
				checkVerdict(t, s.Check("GET", "/prod/secret", 200), noPath)
			}
		})
	}
	wg.Wait()
}

func TestSpecMatchPattern(t *testing.T) {
	p := func(parts ...string) []specPart { // "{}" is a parameter
		var out []specPart
		for _, s := range parts {
			out = append(out, specPart{lit: s, param: s == "{}"})
			if s == "{}" {
				out[len(out)-1].lit = ""
			}
		}
		return out
	}
	tests := []struct {
		parts []specPart
		seg   string
		want  bool
	}{
		{p("{}", ".", "{}"), "a.b", true},
		{p("{}", ".", "{}"), "a.b.c", true},
		{p("{}", ".", "{}"), ".b", false},
		{p("{}", ".", "{}"), "a.", false},
		{p("{}", ".", "{}"), "ab", false},
		{p("{}", ".json"), "x.json", true},
		{p("{}", ".json"), ".json", false},
		{p("{}", ".json"), "x.json.bak", false},
		{p("v", "{}"), "v2", true},
		{p("v", "{}"), "v", false},
		{p("v", "{}"), "w2", false},
		{p("a", "{}", "b"), "ab", false},
		{p("a", "{}", "b"), "axb", true},
		{p("a", "{}", "b"), "abb", true},
		{p("{}", "-", "{}", "-", "{}"), "1-2-3", true},
		{p("{}", "-", "{}", "-", "{}"), "1--3", false},
		{p("{}", "-", "{}", "-", "{}"), "1-2-3-4", true},
		{p("{}", "ab", "{}", "ab"), "xabab", false},
		{p("{}", "ab", "{}", "ab"), "xabyab", true},
		{p("{}", "ab", "{}", "ab"), "xababab", true},
	}
	for _, tt := range tests {
		if got := specMatchPattern(tt.parts, tt.seg); got != tt.want {
			t.Errorf("specMatchPattern(%+v, %q) = %v, want %v", tt.parts, tt.seg, got, tt.want)
		}
	}
}

func TestSpecServerPaths(t *testing.T) {
	tests := []struct {
		url  string
		vars map[string][]string
		want []string
	}{
		{"https://api.example.com/v1", nil, []string{"/v1"}},
		{"https://api.example.com/v1/", nil, []string{"/v1"}},
		{"https://api.example.com", nil, []string{""}},
		{"https://api.example.com?x=1", nil, []string{""}},
		{"//cdn.example.com/v1?x=1", nil, []string{"/v1"}},
		{"/v1", nil, []string{"/v1"}},
		{"v1", nil, []string{"/v1"}},
		{"./v1", nil, []string{"/v1"}},
		{".", nil, []string{""}},
		{"https://x.execute-api.eu-west-1.amazonaws.com/{basePath}", map[string][]string{"basePath": {"/prod"}}, []string{"/prod"}},
		{"https://{host}/{stage}/api", map[string][]string{"host": {"h"}, "stage": {"a", "b"}}, []string{"/a/api", "/b/api"}},
		{"/{undeclared}", nil, []string{"/{undeclared}"}},
		{"/{a}{b}", map[string][]string{"a": {"1", "2", "3"}, "b": {"1", "2", "3"}}, []string{"/11", "/12", "/13", "/21", "/22", "/23", "/31", "/32"}},
	}
	for _, tt := range tests {
		if got := specServerPaths(specServer{url: tt.url, vars: tt.vars}); !slices.Equal(got, tt.want) {
			t.Errorf("specServerPaths(%q, %v) = %q, want %q", tt.url, tt.vars, got, tt.want)
		}
	}
}

// FuzzLoadSpec: any input gives a Spec or an error, never a panic, and a
// Spec answers Check.
func FuzzLoadSpec(f *testing.F) {
	files, err := filepath.Glob("testdata/openapi/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"openapi: 3.0.0\npaths: {/a/{b}: {get: {responses: {'200': {}}}}}\n",
		`{"openapi": "3.1.0", "paths": {"/{proxy+}": {"x-amazon-apigateway-any-method": {}}}}`,
		"{openapi: 3.0.0, paths: {/a: {get: {}}}}",
		// inputs that made earlier yaml.v3 versions panic
		"#\n-\n-\n0", "0: [:!00 \xef", "! !00 \xf6", "#\n - - QI\xd7", "\"\\0\\\r\n", " \ufeff\n", "a:\n.\n-\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := LoadSpec(data)
		if err != nil {
			if s != nil {
				t.Fatal("a Spec with an error")
			}
			return
		}
		for _, path := range []string{"/", "/a", "/a/b", "/v1/a/b/c", "/%zz"} {
			for _, f := range s.Check("GET", path, 500) {
				if f.Type != schema.FindingUndocumentedRoute && f.Type != schema.FindingUndocumentedStatus {
					t.Fatalf("finding type %q", f.Type)
				}
			}
		}
	})
}

// FuzzCheck: any request gives at most one well-formed finding, the same
// each time, and a trailing slash changes nothing.
func FuzzCheck(f *testing.F) {
	specs := []*Spec{loadTestSpec(f, "bookshop-3.0.yaml"), loadTestSpec(f, "apigateway-export.yaml"), loadTestSpec(f, "telemetry-3.1.json")}
	f.Add("GET", "/v1/books/1", 200)
	f.Add("HEAD", "/v1/books/1/cover.png", 404)
	f.Add("OPTIONS", "/prod/files/a/b", 0)
	f.Add("post", "/v1/orders?x=%ZZ", -1)
	f.Add("", "/%C3%A9//x/", 999)
	f.Fuzz(func(t *testing.T, method, path string, status int) {
		for _, s := range specs {
			got := s.Check(method, path, status)
			if len(got) > 1 {
				t.Fatalf("%d findings", len(got))
			}
			for _, f := range got {
				switch {
				case f.Type == schema.FindingUndocumentedRoute && f.Severity == schema.SeverityMedium && f.Evidence.Location == "request.path" &&
					(f.Evidence.Rule == "openapi.path" || f.Evidence.Rule == "openapi.method" && len(f.Evidence.Expected) > 0):
				case f.Type == schema.FindingUndocumentedStatus && f.Severity == schema.SeverityLow && f.Evidence.Location == "response.status" &&
					f.Evidence.Rule == "openapi.status" && len(f.Evidence.Expected) > 0 && status > 0:
				default:
					t.Fatalf("finding %+v", f)
				}
				if !strings.Contains(f.Reason, " is not in the API description") && !strings.Contains(f.Reason, " answered ") {
					t.Fatalf("reason %q", f.Reason)
				}
			}
			if again := s.Check(method, path, status); !slices.EqualFunc(got, again, sameFinding) {
				t.Fatalf("Check gave %+v, then %+v", got, again)
			}
			if !strings.ContainsAny(path, "?#") && !strings.HasSuffix(path, "/") {
				slash := s.Check(method, path+"/", status)
				if len(slash) != len(got) || len(got) == 1 && (slash[0].Evidence.Rule != got[0].Evidence.Rule ||
					!slices.Equal(slash[0].Evidence.Expected, got[0].Evidence.Expected)) {
					t.Fatalf("%q gave %+v, %q gave %+v", path, got, path+"/", slash)
				}
			}
		}
	})
}

func sameFinding(a, b schema.Finding) bool {
	return a.Type == b.Type && a.Severity == b.Severity && a.Reason == b.Reason &&
		a.Evidence.Location == b.Evidence.Location && a.Evidence.Rule == b.Evidence.Rule &&
		slices.Equal(a.Evidence.Expected, b.Evidence.Expected)
}

// benchSpec is a description of 200 operations: 40 resources, each with
// a collection (GET, POST) and an item (GET, PUT, DELETE), under /v1.
func benchSpec(b *testing.B) *Spec {
	var doc strings.Builder
	doc.WriteString("openapi: 3.0.3\ninfo: {title: bench, version: '1'}\nservers: [{url: 'https://api.example.com/v1'}]\npaths:\n")
	ok := "{responses: {'200': {description: ok}, '400': {description: bad}, '404': {description: none}, 5XX: {description: error}}}"
	for i := range 40 {
		fmt.Fprintf(&doc, "  /resource%d:\n    get: %s\n    post: %s\n", i, ok, ok)
		fmt.Fprintf(&doc, "  /resource%d/{id}:\n    get: %s\n    put: %s\n    delete: %s\n", i, ok, ok, ok)
	}
	s, err := LoadSpec([]byte(doc.String()))
	if err != nil {
		b.Fatal(err)
	}
	if s.Operations() != 200 {
		b.Fatalf("%d operations", s.Operations())
	}
	return s
}

// BenchmarkSpecCheck: Check on a 200-operation description, for a
// documented request (the common case), an undocumented status and an
// undocumented route.
func BenchmarkSpecCheck(b *testing.B) {
	s := benchSpec(b)
	cases := []struct {
		name, method, path string
		status             int
		findings           int
	}{
		{"documented", "GET", "/v1/resource37/9f8e7d6c-1234", 200, 0},
		{"documented_encoded", "PUT", "/v1/resource37/a%20b", 200, 0},
		{"undocumented_status", "GET", "/v1/resource37/9f8e7d6c-1234", 418, 1},
		{"undocumented_method", "PATCH", "/v1/resource37/9f8e7d6c-1234", 200, 1},
		{"undocumented_path", "GET", "/v1/resource37/9f8e7d6c-1234/debug?x=1", 200, 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := s.Check(c.method, c.path, c.status); len(got) != c.findings {
					b.Fatalf("%d findings", len(got))
				}
			}
		})
	}
}

// BenchmarkLoadSpec: loading the 200-operation description (once per
// cold start).
func BenchmarkLoadSpec(b *testing.B) {
	var doc strings.Builder
	doc.WriteString("openapi: 3.0.3\ninfo: {title: bench, version: '1'}\nservers: [{url: 'https://api.example.com/v1'}]\npaths:\n")
	for i := range 40 {
		fmt.Fprintf(&doc, "  /resource%d:\n    get: {responses: {'200': {description: ok}}}\n    post: {responses: {'201': {description: ok}}}\n", i)
		fmt.Fprintf(&doc, "  /resource%d/{id}:\n    get: {responses: {'200': {description: ok}}}\n    put: {responses: {'200': {description: ok}}}\n    delete: {responses: {'204': {description: ok}}}\n", i)
	}
	data := []byte(doc.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := LoadSpec(data); err != nil {
			b.Fatal(err)
		}
	}
}
