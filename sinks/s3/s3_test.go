package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/klauspost/compress/gzip"
)

// No S3 can run here: the signature is checked against AWS's published
// example, and the answers against a stand-in that answers as S3
// documents (PutObject: 200; errors as XML with a code).

var exampleCreds = aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}

func creds(context.Context) (aws.Credentials, error) { return exampleCreds, nil }

// TestSignatureMatchesAWSExample signs the "PUT Object" example of the S3
// API Reference (Authenticating Requests: Using the Authorization Header,
// AWS Signature Version 4, "Example: PUT Object") and expects its published
// signature.
func TestSignatureMatchesAWSExample(t *testing.T) {
	s, err := New(Config{Bucket: "examplebucket", Region: "us-east-1", Credentials: creds,
		Now: func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("Welcome to Amazon S3.")
	req, _ := http.NewRequest(http.MethodPut, "https://examplebucket.s3.amazonaws.com/test$file.text", bytes.NewReader(body))
	req.URL.RawPath = "/test%24file.text"
	req.ContentLength = 0 // the example signs no Content-Length
	req.Header.Set("Date", "Fri, 24 May 2013 00:00:00 GMT")
	req.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	if err := s.sign(t.Context(), req, body, exampleCreds); err != nil {
		t.Fatal(err)
	}
	const want = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, " +
		"Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization:\n got %s\nwant %s", got, want)
	}
	if got := req.Header.Get("X-Amz-Content-Sha256"); got != "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072" {
		t.Errorf("payload hash %s", got)
	}
}

var batch = [][]byte{
	[]byte(`{"@timestamp":"2026-12-01T23:59:59.5Z","event":{"id":"a"},"audit":{"env_id":"3deb6497-b4d4-4813-9a19-7b9dbe128894","seq":7}}`),
	[]byte(`{"@timestamp":"2026-12-02T00:00:00.1Z","event":{"id":"b"},"audit":{"env_id":"3deb6497-b4d4-4813-9a19-7b9dbe128894","seq":8}}`),
}

func TestKeyIsPartitionedAndStable(t *testing.T) {
	k := Key("audittrail/", "orders-api", ".ndjson.gz", batch)
	if !strings.HasPrefix(k, "audittrail/dt=2026-12-01/orders-api/3deb6497-b4d4-4813-9a19-7b9dbe128894-7-8-") || !strings.HasSuffix(k, ".ndjson.gz") {
		t.Errorf("key %s", k)
	}
	if k2 := Key("audittrail/", "orders-api", ".ndjson.gz", batch); k2 != k {
		t.Errorf("same batch, other key: %s", k2)
	}
	if k3 := Key("audittrail/", "orders-api", ".ndjson.gz", batch[:1]); k3 == k {
		t.Error("other batch, same key")
	}
	if k4 := Key("p/", "a b/c", ".x", [][]byte{[]byte("not json")}); k4 != "p/dt=1970-01-01/a_b_c/unknown-0-0-"+k4[len(k4)-18:len(k4)-2]+".x" {
		t.Errorf("key of a record without fields: %s", k4)
	}
}

// standIn answers PutObject as S3 documents, with status and code.
func standIn(t *testing.T, status int, code string, got *[]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+code+`</Message></Error>`)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(zr)
		*got = append(*got, r.URL.Path, string(b))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWrite(t *testing.T) {
	for _, tt := range []struct {
		status    int
		code      string
		permanent bool
	}{
		{200, "", false},
		{403, "AccessDenied", true},
		{404, "NoSuchBucket", true},
		{503, "SlowDown", false},
		{500, "InternalError", false},
	} {
		var got []string
		srv := standIn(t, tt.status, tt.code, &got)
		s, err := New(Config{Bucket: "trail", Region: "eu-west-1", Function: "orders-api", Endpoint: srv.URL, Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Write(t.Context(), batch)
		if tt.status == 200 {
			if err != nil || len(got) != 2 || !strings.HasPrefix(got[0], "/trail/audittrail/dt=2026-12-01/orders-api/") ||
				got[1] != string(batch[0])+"\n"+string(batch[1])+"\n" {
				t.Errorf("put: %v, %q", err, got)
			}
			continue
		}
		if err == nil || sinks.IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.code) {
			t.Errorf("%d %s: %v (permanent %v)", tt.status, tt.code, err, sinks.IsPermanent(err))
		}
	}
}

func TestConfigProblems(t *testing.T) {
	err := Config{Bucket: "a/b", Codec: buffer.None, Endpoint: "ftp://x"}.Validate()
	for _, want := range []string{"AUDITTRAIL_S3_BUCKET", "AUDITTRAIL_S3_REGION", "AUDITTRAIL_S3_COMPRESSION", "AWS_ENDPOINT_URL_S3", "credentials"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want a problem with %s", err, want)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
	noCreds := func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, errors.New("no credentials") }
	s, _ := New(Config{Bucket: "b", Region: "us-east-1", Credentials: noCreds, Endpoint: "http://127.0.0.1:1"})
	if err := s.Write(t.Context(), batch); err == nil || sinks.IsPermanent(err) {
		t.Errorf("write without credentials: %v", err)
	}
}

func BenchmarkWrite(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	s, _ := New(Config{Bucket: "trail", Region: "eu-west-1", Endpoint: srv.URL, Credentials: creds})
	big := make([][]byte, 0, 1000)
	for range 500 {
		big = append(big, batch...)
	}
	for b.Loop() {
		if err := s.Write(b.Context(), big); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(big)*b.N)/b.Elapsed().Seconds(), "records/s")
}
