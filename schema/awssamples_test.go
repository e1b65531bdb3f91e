package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsLambdaGo is the module whose events/testdata holds AWS's own sample
// events; it is read from the module cache at test time, never copied here.
const awsLambdaGo = "github.com/aws/aws-lambda-go@v1.54.0"

// awsSampleDir downloads (once, through the Go module proxy) and locates
// the sample events.
func awsSampleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", awsLambdaGo).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v (the test needs the Go module proxy)", awsLambdaGo, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("go mod download: %s", out)
	}
	return filepath.Join(m.Dir, "events", "testdata")
}

// TestAWSSampleEvents normalizes AWS's sample events, each with the sample
// response where AWS gives one; outputs are golden files of ours under
// testdata/aws-samples.
func TestAWSSampleEvents(t *testing.T) {
	dir := awsSampleDir(t)
	samples := []struct {
		event, response string
		gateway, auth   string
	}{
		{"apigw-request.json", "apigw-response.json", GatewayREST, "lambda-authorizer"},
		{"apigw-restapi-openapi-request.json", "", GatewayREST, ""},
		{"apigw-v2-request-no-authorizer.json", "", GatewayHTTP, "mtls"}, // no authorizer, but a client certificate
		{"apigw-v2-request-jwt-authorizer.json", "", GatewayHTTP, "jwt"},
		{"apigw-v2-request-iam.json", "", GatewayHTTP, "iam"},
		{"apigw-v2-request-lambda-authorizer.json", "", GatewayHTTP, "lambda-authorizer"},
		{"apigw-websocket-request.json", "", GatewayWebSocket, ""},
		{"apigw-websocket-request-send-message.json", "", GatewayWebSocket, ""},
		{"apigw-websocket-request-disconnect.json", "", GatewayWebSocket, ""},
		{"alb-lambda-target-request-headers-only.json", "alb-lambda-target-response.json", GatewayALB, "none"},
		{"alb-lambda-target-request-multivalue-headers.json", "", GatewayALB, "none"},
		{"lambda-urls-request.json", "lambda-urls-response.json", GatewayFunctionURL, ""},
		{"sqs-event.json", "", "sqs", ""},
		{"sns-event.json", "", "sns", ""},
		{"s3-event.json", "", "s3", ""},
		{"dynamodb-event.json", "", "dynamodb", ""},
		{"kinesis-event.json", "", "kinesis", ""},
		{"cognito-event-userpools-presignup.json", "", "cognito", ""},
		{"cognito-event-userpools-pretokengen.json", "", "cognito", ""},
		{"codebuild-state-change.json", "", "eventbridge", ""},
		{"kafka-event.json", "", GatewayDirect, ""},
	}
	for _, s := range samples {
		name := strings.TrimSuffix(s.event, ".json")
		t.Run(name, func(t *testing.T) {
			event, err := os.ReadFile(filepath.Join(dir, s.event))
			if err != nil {
				t.Fatal(err)
			}
			x := Exchange{Event: event, EventSize: int64(len(event))}
			if s.response != "" {
				if x.Response, err = os.ReadFile(filepath.Join(dir, s.response)); err != nil {
					t.Fatal(err)
				}
				x.ResponseSize = int64(len(x.Response))
			}
			var r Record
			Normalize(&r, x, Redaction{})
			if r.API.Gateway != s.gateway || s.auth != "" && (r.Auth == nil || r.Auth.Type != s.auth) {
				t.Errorf("gateway %q auth %+v, want %q %q", r.API.Gateway, r.Auth, s.gateway, s.auth)
			}
			got := normalized(x)
			golden := filepath.Join("testdata/aws-samples", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("differs from %s (run go test ./schema -args -update): %v\n%s", golden, err, got)
			}
		})
	}
}
