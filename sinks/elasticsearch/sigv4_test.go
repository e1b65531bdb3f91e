package elasticsearch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audittrail/audittrail/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/klauspost/compress/gzip"
)

// vector is one case of the AWS SigV4 test suite (testdata/sigv4/SOURCE.md).
type vector struct {
	name    string
	context struct {
		Credentials struct {
			AccessKeyID     string `json:"access_key_id"`
			SecretAccessKey string `json:"secret_access_key"`
			Token           string `json:"token"`
		} `json:"credentials"`
		Region    string    `json:"region"`
		Service   string    `json:"service"`
		SignBody  bool      `json:"sign_body"`
		Timestamp time.Time `json:"timestamp"`
	}
	request, signed *http.Request // request.txt and header-signed-request.txt
	body            []byte
}

func (v vector) creds() aws.Credentials {
	c := v.context.Credentials
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.Token}
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	dirs, err := filepath.Glob("testdata/sigv4/*/context.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	var out []vector
	for _, ctx := range dirs {
		dir := filepath.Dir(ctx)
		v := vector{name: filepath.Base(dir)}
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "context.json"))), &v.context); err != nil {
			t.Fatal(err)
		}
		v.request, v.body = parseRequest(t, readFile(t, filepath.Join(dir, "request.txt")))
		v.signed, _ = parseRequest(t, readFile(t, filepath.Join(dir, "header-signed-request.txt")))
		out = append(out, v)
	}
	return out
}

// parseRequest reads a request in the suite's format: a request line,
// Name:value header lines, an empty line, the body.
func parseRequest(t *testing.T, text string) (*http.Request, []byte) {
	t.Helper()
	head, body, _ := strings.Cut(text, "\n\n")
	sc := bufio.NewScanner(strings.NewReader(head))
	sc.Scan()
	method, rest, _ := strings.Cut(sc.Text(), " ")
	target, _, _ := strings.Cut(rest, " ")
	hdr := http.Header{}
	host := ""
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			t.Fatalf("header line %q", sc.Text())
		}
		if strings.EqualFold(name, "host") {
			host = value
			continue
		}
		hdr.Add(name, value)
	}
	req, err := http.NewRequest(method, "https://"+host+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 0
	if cl := hdr.Get("Content-Length"); cl != "" {
		req.ContentLength, _ = strconv.ParseInt(cl, 10, 64)
		hdr.Del("Content-Length")
	}
	req.Header = hdr
	return req, []byte(body)
}

// TestSigV4MatchesTheSuite signs the suite's requests and expects its
// Authorization headers. The cases that sign the body go through the
// sink's own signing (payload hash in X-Amz-Content-Sha256, as OpenSearch
// Serverless requires); the others check the SDK signer the sink uses.
func TestSigV4MatchesTheSuite(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			req := v.request
			var err error
			if v.context.SignBody {
				s := &Sink{cfg: Config{AWSService: v.context.Service, AWSRegion: v.context.Region}, signer: v4.NewSigner()}
				err = s.sign(t.Context(), req, v.body, v.creds(), v.context.Timestamp)
			} else {
				sum := sha256.Sum256(v.body)
				err = v4.NewSigner().SignHTTP(t.Context(), v.creds(), req, hex.EncodeToString(sum[:]), v.context.Service, v.context.Region, v.context.Timestamp)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
				if got, want := req.Header.Get(h), v.signed.Header.Get(h); got != want {
					t.Errorf("%s:\n got %q\nwant %q", h, got, want)
				}
			}
			// The test's own verifier, used on the sink's real requests
			// below, agrees with the suite too.
			if err := verifySigV4(v.signed, v.body, v.context.Credentials.SecretAccessKey); err != nil {
				t.Errorf("reference verifier: %v", err)
			}
			if verifySigV4(v.signed, append(slices.Clip(v.body), 'x'), v.context.Credentials.SecretAccessKey) == nil {
				t.Error("reference verifier accepts a changed body")
			}
		})
	}
}

// verifySigV4 checks the SigV4 Authorization of a request as AWS does,
// from what the request carries: an implementation independent of the
// SDK's, checked against the suite above.
func verifySigV4(r *http.Request, body []byte, secret string) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("not a SigV4 Authorization: %q", auth)
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	scope := strings.SplitN(fields["Credential"], "/", 2)
	if len(scope) != 2 {
		return fmt.Errorf("credential %q", fields["Credential"])
	}
	parts := strings.Split(scope[1], "/") // date/region/service/aws4_request
	if len(parts) != 4 || parts[3] != "aws4_request" {
		return fmt.Errorf("scope %q", scope[1])
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.IsSorted(signed) || !slices.Contains(signed, "host") {
		return fmt.Errorf("signed headers %q", fields["SignedHeaders"])
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(escape(r.URL.EscapedPath(), false) + "\n")
	canon.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
			if v == "" {
				v = r.URL.Host
			}
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(h)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		canon.WriteString(h + ":" + v + "\n")
	}
	sum := sha256.Sum256(body)
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n" + hex.EncodeToString(sum[:]))

	creq := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "\n" + scope[1] + "\n" + hex.EncodeToString(creq[:])
	key := []byte("AWS4" + secret)
	for _, p := range parts {
		key = hmacSum(key, p)
	}
	if want := hex.EncodeToString(hmacSum(key, toSign)); fields["Signature"] != want {
		return fmt.Errorf("signature %s, want %s; canonical request:\n%s", fields["Signature"], want, canon.String())
	}
	return nil
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// escape encodes s as SigV4 wants: every byte but the unreserved ones
// (and '/' in paths).
func escape(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 || (c == '/' && !slash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, escape(k, true)+"="+escape(v, true))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// TestSignedBulkRequests sends batches signed for OpenSearch Service and
// OpenSearch Serverless to a stand-in that checks what arrives as AWS
// would: the signature over the exact (gzip) bytes received, the payload
// hash header, the session token, the credential scope. Documented
// example, no real peer here produces it: no AWS endpoint is reachable.
func TestSignedBulkRequests(t *testing.T) {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN":     "IQoJb3JpZ2luX2VjEXAMPLETOKEN",
	}
	creds := func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"], SessionToken: env["AWS_SESSION_TOKEN"]}, nil
	}
	records := readRecords(t, "testdata/encode/proxy_trail.json")
	for _, service := range []string{ServiceES, ServiceAOSS} {
		t.Run(service, func(t *testing.T) {
			var (
				mu       sync.Mutex
				problems []error
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				body, _ := io.ReadAll(r.Body)
				sum := sha256.Sum256(body)
				if got := r.Header.Get("X-Amz-Content-Sha256"); got != hex.EncodeToString(sum[:]) {
					problems = append(problems, fmt.Errorf("X-Amz-Content-Sha256 %q is not the hash of the body", got))
				}
				if err := verifySigV4(r, body, env["AWS_SECRET_ACCESS_KEY"]); err != nil {
					problems = append(problems, err)
				}
				auth := r.Header.Get("Authorization")
				if !strings.Contains(auth, "/eu-west-1/"+service+"/aws4_request") ||
					!strings.Contains(auth, "content-encoding;content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token") {
					problems = append(problems, fmt.Errorf("Authorization %q", auth))
				}
				if r.Header.Get("X-Amz-Security-Token") != env["AWS_SESSION_TOKEN"] {
					problems = append(problems, errors.New("no session token"))
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					problems = append(problems, err)
					return
				}
				plain, _ := io.ReadAll(zr)
				withID := bytes.Contains(plain, []byte(`"_id":`))
				if withID != (service == ServiceES) {
					problems = append(problems, fmt.Errorf("service %s, _id sent: %v", service, withID))
				}
				_, _ = w.Write(createdAnswer(bytes.Count(plain, []byte("\n")) / 2))
			}))
			defer srv.Close()
			s, err := New(Config{URL: srv.URL, AWSService: service, AWSRegion: "eu-west-1", Credentials: creds, Client: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(t.Context(), records); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err := errors.Join(problems...); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSigningWithoutCredentialsWaits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("an unsigned request was sent")
	}))
	defer srv.Close()
	none := func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	}
	s, err := New(Config{URL: srv.URL, AWSService: ServiceES, AWSRegion: "eu-west-1", Credentials: none})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(t.Context(), [][]byte{[]byte(`{"event":{"id":"a"}}`)})
	if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("write without credentials: %v, want a transient error naming them", err)
	}
}

// createdAnswer is Elasticsearch's answer to n creates that all succeeded.
func createdAnswer(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"took":1,"errors":false,"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"create":{"_index":".ds-logs-audittrail-default-2026.12.01-000001","_id":"%d","_version":1,"result":"created","status":201}}`, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}
