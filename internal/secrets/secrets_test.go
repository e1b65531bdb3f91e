package secrets

import (
	"strings"
	"testing"

	"github.com/audittrail/audittrail/internal/secrets/secretstest"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestGet(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:audittrail/key-AbCdEf"
	sm := secretstest.New(t, map[string]string{arn: "s3cr3t-key-material"})
	r := New(lookup(sm.Env()))
	for range 2 {
		v, err := r.Get(t.Context(), arn)
		if err != nil || string(v) != "s3cr3t-key-material" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if sm.Calls() != 1 {
		t.Errorf("%d calls, want 1 (cached)", sm.Calls())
	}
	_, err := r.Get(t.Context(), "arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing")
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("missing secret: %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Error("an error message carries a secret value")
	}
}

func TestGetWithoutCredentials(t *testing.T) {
	sm := secretstest.New(t, nil)
	r := New(lookup(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL}))
	_, err := r.Get(t.Context(), "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k")
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials") || sm.Calls() != 0 {
		t.Errorf("err = %v, calls %d", err, sm.Calls())
	}
}

func TestRegionOf(t *testing.T) {
	tests := []struct{ arn, region string }{
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:a-b-c", "us-east-1"},
		{"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x", "cn-north-1"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/x", ""},
		{"my-secret", ""},
		{"arn:aws:secretsmanager::123456789012:secret:x", ""},
	}
	for _, tt := range tests {
		got, err := RegionOf(tt.arn)
		if got != tt.region || (err == nil) != (tt.region != "") {
			t.Errorf("RegionOf(%q) = %q, %v", tt.arn, got, err)
		}
	}
}

func TestParameter(t *testing.T) {
	const name = "/audittrail/splunk-token"
	sm := secretstest.New(t, map[string]string{name: "hec-token-123"})
	r := New(lookup(sm.Env()))
	for range 2 {
		v, err := r.Parameter(t.Context(), name)
		if err != nil || string(v) != "hec-token-123" {
			t.Fatalf("Parameter = %q, %v", v, err)
		}
	}
	if sm.Calls() != 1 {
		t.Errorf("%d calls, want 1 (cached)", sm.Calls())
	}
	if _, err := r.Parameter(t.Context(), "/audittrail/missing"); err == nil || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Errorf("missing parameter: %v", err)
	}
	noRegion := New(lookup(map[string]string{"AWS_ENDPOINT_URL_SSM": sm.URL}))
	if _, err := noRegion.Parameter(t.Context(), name); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("parameter without a region: %v", err)
	}
}
