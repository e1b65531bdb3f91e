// Package secretstest provides a stand-in for AWS Secrets Manager and SSM
// Parameter Store for tests. It is hand-written because neither service can
// run here; it answers GetSecretValue and GetParameter as the services do
// (JSON 1.1 protocol) and only for requests signed with SigV4 by the
// credentials the tests set.
package secretstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Credentials the fake accepts; set them as AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
const (
	AccessKeyID     = "AKIDTEST"
	SecretAccessKey = "test-secret-access-key"
	SessionToken    = "test-session-token"
)

// Server is a running fake.
type Server struct {
	URL   string
	calls atomic.Int32
}

// Calls returns how many requests the fake received.
func (s *Server) Calls() int { return int(s.calls.Load()) }

// Env returns the environment that points the resolver at the fake.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID": AccessKeyID, "AWS_SECRET_ACCESS_KEY": SecretAccessKey, "AWS_SESSION_TOKEN": SessionToken,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": s.URL, "AWS_ENDPOINT_URL_SSM": s.URL, "AWS_REGION": "us-east-1",
	}
}

// New starts a fake holding secrets (a Secrets Manager ARN, or an SSM
// parameter name, to its value), stopped when t ends.
func New(t testing.TB, secrets map[string]string) *Server {
	s := &Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		auth := r.Header.Get("Authorization")
		signed := strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/") && r.Header.Get("X-Amz-Security-Token") == SessionToken
		if r.Header.Get("X-Amz-Target") == "AmazonSSM.GetParameter" {
			if !signed || !strings.Contains(auth, "/ssm/aws4_request") {
				fail(w, "InvalidRequestException", "request not signed as expected")
				return
			}
			var in struct {
				Name           string
				WithDecryption bool
			}
			_ = json.NewDecoder(r.Body).Decode(&in)
			v, ok := secrets[in.Name]
			if !ok || !in.WithDecryption {
				fail(w, "ParameterNotFound", "")
				return
			}
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": v, "Version": 1}})
			return
		}
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !signed || !strings.Contains(auth, "/secretsmanager/aws4_request") {
			fail(w, "InvalidRequestException", "request not signed as expected")
			return
		}
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		v, ok := secrets[in.SecretId]
		if !ok {
			fail(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": "secret", "SecretString": v, "VersionId": "v1"})
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func fail(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
