package layer

// This file checks the deployment examples beside it: the AWS SAM template
// (sam/), the CloudFormation snippet (cloudformation/), the Terraform
// module (terraform/) and the IAM policy documents (iam/).
//
// Offline, with no tool but Go:
//   - the IAM documents parse (no duplicate keys) and are well-formed,
//     least-privilege policies: Version 2012-10-17, a list of statements,
//     each with a valid Sid, Effect, exact actions (no wildcard at all) and
//     ARNs of the action's own service as resources, never "*", with the
//     wildcards inside a resource listed in deployWildcardResources;
//   - the YAML templates parse with CloudFormation's tags (!Ref, !If, ...),
//     have the sections and the resources' required properties, and every
//     Ref, GetAtt, Sub variable and condition they use is defined;
//   - the Terraform files are checked as text, not parsed as HCL (no HCL
//     parser is worth a dependency here): brackets and quotes balance, every
//     var.x, local.x and resource they use is declared, every variable is
//     used and documented, the required resources are there, and the
//     README's usage sets every required input and only declared ones;
//   - every environment variable a template sets is one the extension reads
//     (config.Variables, config.FallbackVariables) or the exec wrapper, so a
//     typo fails here, and the configuration it makes is one
//     config.FromEnv accepts with every sink enabled;
//   - the function's policy grants exactly the secrets its variables name.
//
// cfn-lint and terraform are not installable on a clean CI machine here
// (neither PyPI nor HashiCorp's releases can be reached), so nothing
// depends on them.
//
// Not checked here: that AWS accepts the templates (it needs an account),
// and the layer zips themselves (see zip_test.go).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/audittrail/audittrail/internal/config"
	"github.com/audittrail/audittrail/sinks/elasticsearch"
)

// deployArchitectures returns Lambda's architectures, each with its layer
// zip as `make layer` names it (ZipName).
func deployArchitectures(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for arch, goarch := range map[string]string{"x86_64": "amd64", "arm64": "arm64"} {
		name, err := ZipName(goarch)
		if err != nil {
			t.Fatal(err)
		}
		out[arch] = name
	}
	return out
}

// deployWildcardResources are the only resources of layer/iam that may hold
// a wildcard, each with the reason (layer/iam/README.md says the same). A
// policy made from them, with its placeholders filled in (a plan of the
// Terraform module, say), may hold them too.
var deployWildcardResources = map[string]string{
	"arn:aws:s3:::BUCKET/PREFIX*":                                        "the s3 sink writes one object per batch under the prefix; the keys cannot be known in advance",
	"arn:aws:secretsmanager:REGION:ACCOUNT_ID:secret:SECRET_NAME-??????": "?????? matches exactly the random suffix Secrets Manager appends to the name",
}

// ---- environment variables ----

// deployEnvProblems reports each variable of env that a template must not
// set: a name the extension does not read (a typo), a variable Lambda
// reserves, or an exec wrapper that is not the layer's.
func deployEnvProblems(env map[string]string) []string {
	own, fallback, reserved := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var names []string
	for _, v := range config.Variables() {
		own[v.Name] = true
		names = append(names, v.Name)
	}
	for _, v := range config.FallbackVariables() {
		fallback[v.Name] = true
	}
	for _, v := range config.LambdaVariables() {
		reserved[v.Name] = true
	}
	var out []string
	for _, name := range deploySortedKeys(env) {
		switch {
		case name == "AWS_LAMBDA_EXEC_WRAPPER":
			if want := "/opt/" + WrapperPath; env[name] != want {
				out = append(out, fmt.Sprintf("AWS_LAMBDA_EXEC_WRAPPER is %q, want %q (where the layer puts the wrapper)", env[name], want))
			}
		case reserved[name]:
			out = append(out, fmt.Sprintf("%s is set by Lambda; a function cannot set it", name))
		case own[name], fallback[name]:
		case strings.HasPrefix(name, "AUDITTRAIL_"):
			out = append(out, fmt.Sprintf("%s is not a variable the extension reads (config.Variables); did you mean %s?", name, deployClosest(name, names)))
		default:
			out = append(out, fmt.Sprintf("%s is neither AWS_LAMBDA_EXEC_WRAPPER nor a variable the extension reads", name))
		}
	}
	return out
}

// deployConfigProblem runs env through config.FromEnv, as the extension
// would in a function in eu-west-1, and reports any problem it finds, and
// any sink of AUDITTRAIL_SINKS that it leaves out.
func deployConfigProblem(env map[string]string) error {
	lambda := map[string]string{"AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "audittrail-example"}
	cfg, err := config.FromEnv(func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		v, ok := lambda[name]
		return v, ok
	})
	if err != nil {
		return err
	}
	var want []string
	for s := range strings.SplitSeq(env["AUDITTRAIL_SINKS"], ",") {
		if s = strings.TrimSpace(s); s != "" {
			want = append(want, s)
		}
	}
	if len(want) == 0 {
		want = []string{"stdout"}
	}
	if !slices.Equal(cfg.Sinks, want) {
		return fmt.Errorf("sinks enabled: %v, want %v", cfg.Sinks, want)
	}
	return nil
}

func TestDeployEnvProblems(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for no problem, else a part of the one problem
	}{
		{"the example's", map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": "/opt/audittrail-wrapper", "AUDITTRAIL_SINKS": "splunk"}, ""},
		{"fallback variable", map[string]string{"DD_API_KEY": "x"}, ""},
		{"typo", map[string]string{"AUDITTRAIL_SPLUNK_TOKEN_SECRET_ANR": "x"}, "did you mean AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN?"},
		{"typo in the prefix", map[string]string{"AUDITRAIL_SINKS": "splunk"}, "neither AWS_LAMBDA_EXEC_WRAPPER"},
		{"reserved", map[string]string{"AWS_REGION": "eu-west-1"}, "set by Lambda"},
		{"wrong wrapper path", map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": "/opt/extensions/audittrail"}, `want "/opt/audittrail-wrapper"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deployEnvProblems(tt.env)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems %q, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestDeployConfigProblem(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"splunk", map[string]string{"AUDITTRAIL_SINKS": "splunk", "AUDITTRAIL_SPLUNK_URL": "https://hec.example.com:8088", "AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:t-AbCdEf"}, ""},
		{"splunk without its token", map[string]string{"AUDITTRAIL_SINKS": "splunk", "AUDITTRAIL_SPLUNK_URL": "https://hec.example.com:8088"}, "AUDITTRAIL_SPLUNK_TOKEN"},
		{"unknown sink", map[string]string{"AUDITTRAIL_SINKS": "kafka"}, "unknown sink"},
		{"bad flush", map[string]string{"AUDITTRAIL_FLUSH": "sometimes"}, "AUDITTRAIL_FLUSH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := deployConfigProblem(tt.env)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestDeployVariableNames checks every AUDITTRAIL_ name written anywhere in
// the examples, comments and READMEs included.
func TestDeployVariableNames(t *testing.T) {
	known := map[string]bool{}
	var names []string
	for _, v := range config.Variables() {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	token := regexp.MustCompile(`AUDITTRAIL_[A-Z0-9_]*`)
	for _, dir := range []string{"sam", "terraform", "cloudformation", "iam"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range token.FindAllIndex(b, -1) {
				name := string(b[m[0]:m[1]])
				if strings.HasSuffix(name, "_") { // a prefix (AUDITTRAIL_*), not a name
					continue
				}
				if !known[name] {
					line := bytes.Count(b[:m[0]], []byte("\n")) + 1
					t.Errorf("%s:%d: %s is not a variable the extension reads; did you mean %s?", path, line, name, deployClosest(name, names))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// ---- IAM policies ----

// deployActionRE is an exact IAM action: service:Operation, no wildcard.
var deployActionRE = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9]+$`)

// deploySidRE is what IAM accepts as a statement id.
var deploySidRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// deployPolicyProblems reports what makes doc (a decoded JSON or YAML policy
// document) not a well-formed least-privilege identity policy. Resources may
// be CloudFormation intrinsics ({"Ref": ...}); literal ones must be ARNs of
// the actions' service, with no wildcard but those of wildcards.
func deployPolicyProblems(doc any, wildcards map[string]string) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	m, ok := doc.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("the document is a %T, not an object", doc)}
	}
	for k := range m {
		if k != "Version" && k != "Statement" && k != "Id" {
			bad("unexpected key %q", k)
		}
	}
	if m["Version"] != "2012-10-17" {
		bad("Version is %v, want \"2012-10-17\"", m["Version"])
	}
	stmts, ok := m["Statement"].([]any)
	if !ok || len(stmts) == 0 {
		bad("Statement must be a non-empty list")
	}
	sids := map[string]bool{}
	for i, s := range stmts {
		st, ok := s.(map[string]any)
		if !ok {
			bad("statement %d is a %T, not an object", i, s)
			continue
		}
		where := fmt.Sprintf("statement %d", i)
		if sid, ok := st["Sid"]; ok {
			str, _ := sid.(string)
			if !deploySidRE.MatchString(str) {
				bad("%s: Sid %v must be letters and digits", where, sid)
			}
			if sids[str] {
				bad("%s: Sid %q twice", where, str)
			}
			sids[str] = true
			where = fmt.Sprintf("statement %s", str)
		}
		for k := range st {
			if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource", "Condition"}, k) {
				bad("%s: unexpected key %q (NotAction, NotResource and Principal have no place here)", where, k)
			}
		}
		if e := st["Effect"]; e != "Allow" && e != "Deny" {
			bad("%s: Effect is %v, want Allow or Deny", where, e)
		}
		actions := deployStrings(st["Action"])
		if len(actions) == 0 {
			bad("%s: Action must be a string or a non-empty list of strings", where)
		}
		services := map[string]bool{}
		for _, a := range actions {
			if !deployActionRE.MatchString(a) {
				bad("%s: action %q is not one exact action (service:Operation, no wildcard)", where, a)
				continue
			}
			services[strings.SplitN(a, ":", 2)[0]] = true
		}
		resources := st["Resource"]
		if l, ok := resources.([]any); ok {
			if len(l) == 0 {
				bad("%s: Resource is an empty list", where)
			}
		} else {
			resources = []any{resources}
		}
		for _, r := range resources.([]any) {
			switch r := r.(type) {
			case string:
				if r == "*" {
					bad("%s: Resource \"*\"", where)
					continue
				}
				parts := strings.SplitN(r, ":", 6)
				if len(parts) < 6 || parts[0] != "arn" {
					bad("%s: resource %q is not an ARN", where, r)
					continue
				}
				if !services[parts[2]] || len(services) != 1 {
					bad("%s: resource %q is not of the service of the actions %v", where, r, actions)
				}
				if strings.ContainsAny(r, "*?") && !deployWildcardAllowed(r, wildcards) {
					bad("%s: resource %q has a wildcard, and is not one of the documented exceptions", where, r)
				}
			case map[string]any:
				if !deployIsIntrinsic(r) {
					bad("%s: resource %v is neither an ARN nor an intrinsic function", where, r)
				}
			default:
				bad("%s: resource %v (%T) is not a string", where, r, r)
			}
		}
		if c, ok := st["Condition"]; ok {
			conds, ok := c.(map[string]any)
			if !ok || len(conds) == 0 {
				bad("%s: Condition must be a non-empty object", where)
			}
			for op, kv := range conds {
				if !slices.Contains([]string{"StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool", "ForAnyValue:StringEquals", "ForAllValues:StringEquals"}, op) {
					bad("%s: condition operator %q is not one this check knows", where, op)
				}
				keys, ok := kv.(map[string]any)
				if !ok || len(keys) == 0 {
					bad("%s: condition %s must map condition keys to values", where, op)
				}
				for key, v := range keys {
					if !strings.Contains(key, ":") || len(deployStrings(v)) == 0 {
						bad("%s: condition %s: %q => %v is not a condition key and its values", where, op, key, v)
					}
				}
			}
		}
	}
	return out
}

// deployPlaceholderRE matches a placeholder of layer/iam: REGION, BUCKET...
var deployPlaceholderRE = regexp.MustCompile(`[A-Z][A-Z0-9_]*[A-Z0-9]`)

// deployWildcardAllowed reports whether resource is one of wildcards, as
// written or with its placeholders filled in (each with at least one
// character and no wildcard of its own).
func deployWildcardAllowed(resource string, wildcards map[string]string) bool {
	for w := range wildcards {
		var re strings.Builder
		re.WriteString("^")
		last := 0
		for _, m := range deployPlaceholderRE.FindAllStringIndex(w, -1) {
			re.WriteString(regexp.QuoteMeta(w[last:m[0]]) + `[^*?]+`)
			last = m[1]
		}
		re.WriteString(regexp.QuoteMeta(w[last:]) + "$")
		if regexp.MustCompile(re.String()).MatchString(resource) {
			return true
		}
	}
	return false
}

func TestDeployWildcardAllowed(t *testing.T) {
	tests := []struct {
		resource string
		want     bool
	}{
		{"arn:aws:s3:::BUCKET/PREFIX*", true},
		{"arn:aws:s3:::my-audit-archive/audittrail/*", true},
		{"arn:aws:s3:::my-audit-archive/*", false}, // no prefix: the whole bucket
		{"arn:aws:s3:::*/audittrail/*", false},
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:hec-token-??????", true},
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:*", false},
		{"arn:aws:kms:eu-west-1:123456789012:key/*", false},
	}
	for _, tt := range tests {
		if got := deployWildcardAllowed(tt.resource, deployWildcardResources); got != tt.want {
			t.Errorf("deployWildcardAllowed(%q) = %v, want %v", tt.resource, got, tt.want)
		}
	}
}

func TestDeployPolicyProblems(t *testing.T) {
	const ok = `{"Sid":"A","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/p/k"}`
	tests := []struct {
		name, doc, want string
	}{
		{"good", `{"Version":"2012-10-17","Statement":[` + ok + `]}`, ""},
		{"old version", `{"Version":"2008-10-17","Statement":[` + ok + `]}`, "Version"},
		{"no statement", `{"Version":"2012-10-17","Statement":[]}`, "non-empty list"},
		{"star action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/k"}]}`, "not one exact action"},
		{"service wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Put*","Resource":"arn:aws:s3:::b/k"}]}`, "not one exact action"},
		{"star resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`, `Resource "*"`},
		{"undocumented wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}`, "documented exceptions"},
		{"wrong service", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:s3:::b/k"}]}`, "not of the service"},
		{"no effect", `{"Version":"2012-10-17","Statement":[{"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/k"}]}`, "Effect"},
		{"not action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"s3:PutObject","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}]}`, "NotAction"},
		{"bad sid", `{"Version":"2012-10-17","Statement":[{"Sid":"read-it","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/k"}]}`, "letters and digits"},
		{"unknown condition", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/k","Condition":{"StringSortOf":{"aws:x":"y"}}}]}`, "operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			got := deployPolicyProblems(doc, nil)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }):
				t.Errorf("problems %q, want one containing %q", got, tt.want)
			}
		})
	}
}

// TestDeployIAMPolicies checks layer/iam: each document, what it grants, and
// that the README says which variable needs which.
func TestDeployIAMPolicies(t *testing.T) {
	tests := []struct {
		file    string
		actions []string
	}{
		{"secretsmanager-get-secret.json", []string{"secretsmanager:GetSecretValue"}},
		{"secretsmanager-cmk-decrypt.json", []string{"kms:Decrypt"}},
		{"ssm-get-parameter.json", []string{"ssm:GetParameter"}},
		{"ssm-cmk-decrypt.json", []string{"kms:Decrypt"}},
		{"s3-put-archive.json", []string{"s3:PutObject"}},
		{"s3-sse-kms.json", []string{"kms:GenerateDataKey"}},
		{"opensearch-service-bulk.json", []string{"es:ESHttpPost"}},
		{"opensearch-service-template.json", []string{"es:ESHttpPut"}},
		{"opensearch-serverless.json", []string{"aoss:APIAccessAll"}},
	}
	readme, err := os.ReadFile(filepath.Join("iam", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	placeholders := deployPlaceholders(t, string(readme))
	files, _ := filepath.Glob(filepath.Join("iam", "*.json"))
	var listed []string
	for _, tt := range tests {
		listed = append(listed, filepath.Join("iam", tt.file))
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("iam", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := deployDuplicateKeys(b); err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			for _, p := range deployPolicyProblems(doc, deployWildcardResources) {
				t.Error(p)
			}
			var got []string
			for _, s := range deployStatements(doc) {
				got = append(got, deployStrings(s["Action"])...)
				for _, v := range append(deployStrings(s["Resource"]), deployConditionValues(s["Condition"])...) {
					for _, p := range deployPlaceholderRE.FindAllString(v, -1) {
						if !placeholders[p] {
							t.Errorf("placeholder %s (in %q) is not in the README's table of placeholders", p, v)
						}
					}
				}
			}
			slices.Sort(got)
			if got = slices.Compact(got); !slices.Equal(got, tt.actions) {
				t.Errorf("grants %v, want exactly %v", got, tt.actions)
			}
			if !strings.Contains(string(readme), "("+tt.file+")") {
				t.Errorf("README.md does not link %s", tt.file)
			}
		})
	}
	slices.Sort(files)
	slices.Sort(listed)
	if !slices.Equal(files, listed) {
		t.Errorf("iam/ holds %v, the test knows %v: add the new document to the table", files, listed)
	}
	// Every variable that makes the extension call Secrets Manager or
	// Parameter Store is in the README's table.
	for _, v := range config.Variables() {
		if (strings.HasSuffix(v.Name, "_SECRET_ARN") || strings.HasSuffix(v.Name, "_SSM_PARAMETER")) && !strings.Contains(string(readme), "`"+v.Name+"`") {
			t.Errorf("iam/README.md does not say which policy %s needs", v.Name)
		}
	}
	// The template policy names what `audittrail elasticsearch-template` puts.
	b, err := os.ReadFile(filepath.Join("iam", "opensearch-service-template.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "/_component_template/" + elasticsearch.ComponentTemplate + `"`; !bytes.Contains(b, []byte(want)) {
		t.Errorf("opensearch-service-template.json: no resource ending with %s", want)
	}
	// The placeholders' defaults are the extension's.
	for _, name := range []string{"AUDITTRAIL_S3_PREFIX", "AUDITTRAIL_ELASTICSEARCH_DATA_STREAM"} {
		def := deployDefault(t, name)
		if !strings.Contains(string(readme), "`"+name+"`, by default `"+def+"`") {
			t.Errorf("iam/README.md: the placeholder for %s should say its default, `%s`", name, def)
		}
	}
}

// deployPlaceholders returns the placeholders of the README's table.
func deployPlaceholders(t *testing.T, readme string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)` \\|").FindAllStringSubmatch(readme, -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatal("iam/README.md has no table of placeholders")
	}
	return out
}

// deployDefault returns the default of an extension variable.
func deployDefault(t *testing.T, name string) string {
	t.Helper()
	for _, v := range config.Variables() {
		if v.Name == name {
			return v.Default
		}
	}
	t.Fatalf("config.Variables has no %s", name)
	return ""
}

// ---- CloudFormation and SAM templates ----

// deployIntrinsics maps CloudFormation's short YAML tags to the functions
// they stand for.
var deployIntrinsics = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub",
	"!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap",
	"!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
	"!Transform": "Fn::Transform", "!ToJsonString": "Fn::ToJsonString", "!Length": "Fn::Length",
}

// deployIsIntrinsic reports whether m is one intrinsic function call.
func deployIsIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for _, fn := range deployIntrinsics {
		if _, ok := m[fn]; ok {
			return true
		}
	}
	return false
}

// deployYAML decodes a CloudFormation YAML document into plain values,
// short tags turned into their long form ({"Ref": "X"}, {"Fn::GetAtt":
// ["R", "Arn"]}), so that both forms are checked alike. An unknown tag or a
// key given twice is an error.
func deployYAML(src []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, errors.New("empty document")
	}
	return deployYAMLValue(&doc, 0)
}

func deployYAMLValue(n *yaml.Node, depth int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("line %d: nested too deep", n.Line)
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return deployYAMLValue(n.Content[0], depth+1)
	}
	if n.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("line %d: YAML aliases are not CloudFormation", n.Line)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				return nil, fmt.Errorf("line %d: a key must be a plain string", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q twice", k.Line, k.Value)
			}
			val, err := deployYAMLValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			val, err := deployYAMLValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if fn, ok := deployIntrinsics[n.Tag]; ok {
			if fn == "Fn::GetAtt" {
				res, attr, ok := strings.Cut(n.Value, ".")
				if !ok {
					return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, n.Value)
				}
				return map[string]any{fn: []any{res, attr}}, nil
			}
			return map[string]any{fn: n.Value}, nil
		}
		plain := *n
		if err := plain.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	}
	if fn, ok := deployIntrinsics[n.Tag]; ok {
		return map[string]any{fn: v}, nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	return v, nil
}

func TestDeployYAML(t *testing.T) {
	tests := []struct {
		name, src, want, wantErr string
	}{
		{"ref", "a: !Ref B", `{"a":{"Ref":"B"}}`, ""},
		{"getatt", "a: !GetAtt R.Arn", `{"a":{"Fn::GetAtt":["R","Arn"]}}`, ""},
		{"if", "a: !If [C, !Ref X, '*']", `{"a":{"Fn::If":["C",{"Ref":"X"},"*"]}}`, ""},
		{"not condition", "a: !Not [!Condition C]", `{"a":{"Fn::Not":[{"Condition":"C"}]}}`, ""},
		{"long form", "a: {Ref: B}", `{"a":{"Ref":"B"}}`, ""},
		{"typo in a tag", "a: !Reff B", "", "unknown tag !Reff"},
		{"key twice", "a: 1\na: 2", "", `key "a" twice`},
		{"getatt without attribute", "a: !GetAtt R", "", "not Resource.Attribute"},
		{"alias", "a: &x 1\nb: *x", "", "aliases"},
		{"empty", "", "", "empty document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := deployYAML([]byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(v); string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func FuzzDeployYAML(f *testing.F) {
	for _, p := range []string{filepath.Join("sam", "template.yaml"), filepath.Join("cloudformation", "layer-permission.yaml")} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: !GetAtt\nb: !If [x, &y 1, *y]"))
	f.Fuzz(func(t *testing.T, src []byte) {
		v, err := deployYAML(src)
		if err == nil {
			if _, err := json.Marshal(v); err != nil {
				t.Errorf("decoded a value JSON cannot encode: %v", err)
			}
		}
	})
}

// deployRequiredProperties lists, for each resource type the templates may
// use, the properties it must have.
var deployRequiredProperties = map[string][][]string{
	"AWS::Serverless::LayerVersion":       {{"ContentUri"}, {"CompatibleArchitectures"}, {"LayerName"}},
	"AWS::Serverless::Function":           {{"Runtime"}, {"Handler"}, {"InlineCode", "CodeUri"}, {"Architectures"}, {"Layers"}, {"Environment"}, {"Policies"}},
	"AWS::Lambda::LayerVersionPermission": {{"Action"}, {"LayerVersionArn"}, {"Principal"}},
	"AWS::Logs::LogGroup":                 {{"LogGroupName"}, {"RetentionInDays"}},
}

// deployTemplate is a decoded CloudFormation template.
type deployTemplate struct {
	path       string
	raw        map[string]any
	params     map[string]any
	conditions map[string]any
	resources  map[string]map[string]any
}

// deployLoadTemplate reads and decodes a template and checks what every
// template needs: its sections, its parameters, the required properties of
// its resources, and that every reference in it is defined.
func deployLoadTemplate(t *testing.T, path, transform string) deployTemplate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := deployYAML(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	raw, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not a mapping", path)
	}
	tp := deployTemplate{path: path, raw: raw, resources: map[string]map[string]any{}}
	for k := range raw {
		if !slices.Contains([]string{"AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs"}, k) {
			t.Errorf("%s: unknown section %q", path, k)
		}
	}
	if raw["AWSTemplateFormatVersion"] != "2010-09-09" {
		t.Errorf("%s: AWSTemplateFormatVersion is %v, want \"2010-09-09\"", path, raw["AWSTemplateFormatVersion"])
	}
	if got, _ := raw["Transform"].(string); got != transform {
		t.Errorf("%s: Transform is %v, want %q", path, raw["Transform"], transform)
	}
	if d, _ := raw["Description"].(string); d == "" {
		t.Errorf("%s: no Description", path)
	}
	tp.params, _ = raw["Parameters"].(map[string]any)
	tp.conditions, _ = raw["Conditions"].(map[string]any)
	for name, p := range tp.params {
		pm, _ := p.(map[string]any)
		if pm["Type"] == nil || pm["Description"] == nil {
			t.Errorf("%s: parameter %s needs a Type and a Description", path, name)
		}
		if pat, ok := pm["AllowedPattern"].(string); ok {
			if _, err := regexp.Compile(pat); err != nil {
				t.Errorf("%s: parameter %s: AllowedPattern: %v", path, name, err)
			}
		}
	}
	res, _ := raw["Resources"].(map[string]any)
	if len(res) == 0 {
		t.Fatalf("%s: no Resources", path)
	}
	implicit := map[string]bool{} // what SAM adds: a function's role
	for name, r := range res {
		rm, ok := r.(map[string]any)
		if !ok {
			t.Fatalf("%s: resource %s is not a mapping", path, name)
		}
		tp.resources[name] = rm
		typ, _ := rm["Type"].(string)
		required, known := deployRequiredProperties[typ]
		if !known {
			t.Errorf("%s: resource %s: type %q is not in deployRequiredProperties; add it with its required properties", path, name, typ)
		}
		props, _ := rm["Properties"].(map[string]any)
		for _, alternatives := range required {
			if !slices.ContainsFunc(alternatives, func(p string) bool { return props[p] != nil }) {
				t.Errorf("%s: resource %s (%s) has no %s", path, name, typ, strings.Join(alternatives, " or "))
			}
		}
		if c, ok := rm["Condition"]; ok && tp.conditions[fmt.Sprint(c)] == nil {
			t.Errorf("%s: resource %s: condition %v is not defined", path, name, c)
		}
		if typ == "AWS::Serverless::Function" {
			implicit[name+"Role"] = true
		}
	}
	isPseudo := func(s string) bool { return strings.HasPrefix(s, "AWS::") }
	for _, ref := range deployRefs(raw) {
		name, kind := ref[0], ref[1]
		switch kind {
		case "Ref", "Sub":
			if tp.params[name] == nil && tp.resources[name] == nil && !isPseudo(name) && !implicit[name] {
				t.Errorf("%s: %s %s: no such parameter or resource", path, kind, name)
			}
		case "GetAtt":
			if tp.resources[name] == nil && !implicit[name] {
				t.Errorf("%s: GetAtt %s: no such resource", path, name)
			}
		case "Condition":
			if tp.conditions[name] == nil {
				t.Errorf("%s: condition %s is not defined", path, name)
			}
		}
	}
	outs, _ := raw["Outputs"].(map[string]any)
	for name, o := range outs {
		if om, _ := o.(map[string]any); om["Value"] == nil || om["Description"] == nil {
			t.Errorf("%s: output %s needs a Value and a Description", path, name)
		}
	}
	return tp
}

// deployRefs returns every name v refers to, with how: Ref, Sub (a ${Name}
// of Fn::Sub), GetAtt or Condition.
func deployRefs(v any) [][2]string {
	var out [][2]string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "Ref":
					out = append(out, [2]string{fmt.Sprint(x), "Ref"})
				case "Condition":
					if s, ok := x.(string); ok {
						out = append(out, [2]string{s, "Condition"})
					}
				case "Fn::If":
					if l, ok := x.([]any); ok && len(l) == 3 {
						out = append(out, [2]string{fmt.Sprint(l[0]), "Condition"})
					}
				case "Fn::GetAtt":
					if l, ok := x.([]any); ok && len(l) == 2 {
						out = append(out, [2]string{fmt.Sprint(l[0]), "GetAtt"})
					}
				case "Fn::Sub":
					s, _ := x.(string)
					if l, ok := x.([]any); ok && len(l) > 0 {
						s, _ = l[0].(string) // variables of the map are not checked
					}
					for _, m := range regexp.MustCompile(`\$\{([^!}][^}]*)\}`).FindAllStringSubmatch(s, -1) {
						name, _, _ := strings.Cut(m[1], ".")
						out = append(out, [2]string{name, "Sub"})
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

// deploySAMSamples are values for the SAM template's parameters that have
// no default: those of the deploy command in its header.
var deploySAMSamples = map[string]string{
	"SplunkUrl":            "https://hec.example.splunkcloud.com:8088",
	"SplunkTokenSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hec-token-AbCdEf",
}

// resolve returns what a value of the template stands for: a literal, or a
// parameter's sample (from samples) or default, which must match the
// parameter's AllowedPattern.
func (tp deployTemplate) resolve(v any, samples map[string]string) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
			p, _ := tp.params[ref].(map[string]any)
			if p == nil {
				return "", fmt.Errorf("Ref %s is not a parameter", ref)
			}
			val, ok := samples[ref]
			if !ok {
				def, ok := p["Default"].(string)
				if !ok {
					return "", fmt.Errorf("parameter %s has no default and no sample in the test", ref)
				}
				val = def
			}
			if pat, ok := p["AllowedPattern"].(string); ok {
				re, err := regexp.Compile(pat)
				if err != nil {
					return "", fmt.Errorf("parameter %s: AllowedPattern: %w", ref, err)
				}
				if !re.MatchString(val) {
					return "", fmt.Errorf("parameter %s: %q does not match its AllowedPattern %s", ref, val, pat)
				}
			}
			return val, nil
		}
	}
	return "", fmt.Errorf("%v is neither a literal nor a Ref to a parameter", v)
}

// TestDeploySAMTemplate checks layer/sam/template.yaml.
func TestDeploySAMTemplate(t *testing.T) {
	tp := deployLoadTemplate(t, filepath.Join("sam", "template.yaml"), "AWS::Serverless-2016-10-31")

	arch, _ := tp.params["Architecture"].(map[string]any)
	if got := deployStrings(arch["AllowedValues"]); !slices.Equal(got, []string{"x86_64", "arm64"}) {
		t.Errorf("parameter Architecture: AllowedValues %v, want [x86_64 arm64]", got)
	}

	// One layer version per architecture, from the zip `make layer` builds.
	zips := deployArchitectures(t)
	layers := map[string]string{} // architecture => resource
	for name, r := range tp.resources {
		if r["Type"] != "AWS::Serverless::LayerVersion" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		archs := deployStrings(props["CompatibleArchitectures"])
		if len(archs) != 1 || zips[archs[0]] == "" {
			t.Errorf("layer %s: CompatibleArchitectures %v, want one of x86_64, arm64", name, archs)
			continue
		}
		if layers[archs[0]] != "" {
			t.Errorf("layers %s and %s are both for %s", layers[archs[0]], name, archs[0])
		}
		layers[archs[0]] = name
		if want := "../../dist/" + zips[archs[0]]; props["ContentUri"] != want {
			t.Errorf("layer %s: ContentUri %v, want %s (from sam/ to the repository's dist/)", name, props["ContentUri"], want)
		}
		if r["Condition"] == nil {
			t.Errorf("layer %s: no Condition: both layer versions would be created", name)
		}
	}
	if len(layers) != len(zips) {
		t.Errorf("layer versions for %v, want one for each of x86_64 and arm64", layers)
	}

	var functions int
	for name, r := range tp.resources {
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		functions++
		props, _ := r["Properties"].(map[string]any)
		if got, _ := json.Marshal(props["Architectures"]); string(got) != `[{"Ref":"Architecture"}]` {
			t.Errorf("function %s: Architectures %s, want [!Ref Architecture]", name, got)
		}
		// The function's layers are the layer versions, whatever the branch.
		var used []string
		for _, ref := range deployRefs(props["Layers"]) {
			if ref[1] == "Ref" {
				used = append(used, ref[0])
			}
		}
		for _, l := range layers {
			if !slices.Contains(used, l) {
				t.Errorf("function %s: Layers does not use %s", name, l)
			}
		}
		for _, u := range used {
			if tp.resources[u]["Type"] != "AWS::Serverless::LayerVersion" {
				t.Errorf("function %s: Layers refers to %s, not a layer version of the template", name, u)
			}
		}

		// Its environment, with the parameters' sample values.
		envm, _ := props["Environment"].(map[string]any)
		vars, _ := envm["Variables"].(map[string]any)
		env := map[string]string{}
		secretRefs := map[string]string{} // parameter => variable
		for k, v := range vars {
			val, err := tp.resolve(v, deploySAMSamples)
			if err != nil {
				t.Errorf("function %s: %s: %v", name, k, err)
				continue
			}
			env[k] = val
			if m, ok := v.(map[string]any); ok && strings.HasSuffix(k, "_SECRET_ARN") {
				secretRefs[fmt.Sprint(m["Ref"])] = k
			}
		}
		deployCheckEnv(t, "function "+name, env)

		// Its policies: inline documents only, granting exactly its secrets.
		pols, _ := props["Policies"].([]any)
		granted := map[string]bool{}
		for i, p := range pols {
			if _, ok := p.(map[string]any); !ok {
				t.Errorf("function %s: policy %d is %v: use an inline document, whose grants this test can see", name, i, p)
				continue
			}
			for _, problem := range deployPolicyProblems(p, nil) {
				t.Errorf("function %s: policy %d: %s", name, i, problem)
			}
			for _, s := range deployStatements(p) {
				resources, ok := s["Resource"].([]any)
				if !ok {
					resources = []any{s["Resource"]}
				}
				for _, r := range resources {
					m, _ := r.(map[string]any)
					ref, ok := m["Ref"].(string)
					if !ok {
						t.Errorf("function %s: grants %v on %v: take each resource from the parameter its variable uses", name, s["Action"], r)
						continue
					}
					if _, ok := secretRefs[ref]; !ok || !slices.Equal(deployStrings(s["Action"]), []string{"secretsmanager:GetSecretValue"}) {
						t.Errorf("function %s: grants %v on %s, which no variable of the extension needs", name, s["Action"], ref)
						continue
					}
					granted[ref] = true
				}
			}
		}
		for param, variable := range secretRefs {
			if !granted[param] {
				t.Errorf("function %s: %s names the secret %s, but no statement grants secretsmanager:GetSecretValue on it", name, variable, param)
			}
		}
	}
	if functions != 1 {
		t.Errorf("%d functions, want the one example", functions)
	}
}

// TestDeployLayerPermission checks layer/cloudformation/layer-permission.yaml.
func TestDeployLayerPermission(t *testing.T) {
	tp := deployLoadTemplate(t, filepath.Join("cloudformation", "layer-permission.yaml"), "")
	var n int
	for name, r := range tp.resources {
		if r["Type"] != "AWS::Lambda::LayerVersionPermission" {
			continue
		}
		n++
		props, _ := r["Properties"].(map[string]any)
		if props["Action"] != "lambda:GetLayerVersion" {
			t.Errorf("%s: Action %v, want lambda:GetLayerVersion (the only action a layer permission takes)", name, props["Action"])
		}
		if props["Principal"] == "*" && props["OrganizationId"] == nil {
			t.Errorf("%s: Principal \"*\" without OrganizationId makes the layer public", name)
		}
		if p, ok := props["Principal"].(string); ok && p != "*" {
			t.Errorf("%s: Principal %q is a literal: take the account from a parameter", name, p)
		}
		if r["Condition"] == nil {
			t.Errorf("%s: no Condition: it must be created only for the kind of sharing asked for", name)
		}
	}
	if n == 0 {
		t.Error("no AWS::Lambda::LayerVersionPermission")
	}
	if _, ok := tp.raw["Rules"]; !ok {
		t.Error("no Rules: nothing enforces exactly one of AccountId and OrganizationId")
	}
}

// deployCheckEnv checks a function's environment: the exec wrapper, only
// variables the extension reads, and a configuration it accepts.
func deployCheckEnv(t *testing.T, where string, env map[string]string) {
	t.Helper()
	if env["AWS_LAMBDA_EXEC_WRAPPER"] == "" {
		t.Errorf("%s: no AWS_LAMBDA_EXEC_WRAPPER: requests would be recorded from telemetry only", where)
	}
	for _, p := range deployEnvProblems(env) {
		t.Errorf("%s: %s", where, p)
	}
	if err := deployConfigProblem(env); err != nil {
		t.Errorf("%s: the extension would not take this configuration: %v", where, err)
	}
}

// ---- Terraform ----

// deployHCL is a Terraform file with its comments blanked out (lines and
// offsets kept) and where each bracket closes.
type deployHCL struct {
	code  string
	close map[int]int // offset of an opening bracket => offset of its closing one
}

// deployScanHCL checks that the brackets and quotes of an HCL file balance,
// knowing HCL's comments (#, //, /* */), quoted strings with their escapes
// and ${...} and %{...} templates. It is a light textual check, not a
// parser: heredocs are refused.
func deployScanHCL(src string) (deployHCL, error) {
	out := []byte(src)
	type open struct {
		c         byte
		off, line int
	}
	var stack []open
	h := deployHCL{close: map[int]int{}}
	line := 1
	pairs := map[byte]byte{'}': '{', ']': '[', ')': '('}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\n' {
			line++
		}
		if len(stack) > 0 && stack[len(stack)-1].c == '"' {
			switch {
			case c == '\\':
				i++
			case c == '"':
				stack = stack[:len(stack)-1]
			case c == '\n':
				return h, fmt.Errorf("line %d: string opened on line %d runs past the end of the line", line-1, stack[len(stack)-1].line)
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == c && i+2 < len(src) && src[i+2] == '{':
				i += 2 // $${ and %%{ are literal
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				i++
				stack = append(stack, open{'{', i, line})
			}
			continue
		}
		switch c {
		case '#':
			for ; i < len(src) && src[i] != '\n'; i++ {
				out[i] = ' '
			}
			i--
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				for ; i < len(src) && src[i] != '\n'; i++ {
					out[i] = ' '
				}
				i--
			} else if i+1 < len(src) && src[i+1] == '*' {
				end := strings.Index(src[i+2:], "*/")
				if end < 0 {
					return h, fmt.Errorf("line %d: comment never closed", line)
				}
				for j := i; j < i+2+end+2; j++ {
					if src[j] == '\n' {
						line++
					} else {
						out[j] = ' '
					}
				}
				i += 2 + end + 1
			}
		case '<':
			if i+1 < len(src) && src[i+1] == '<' {
				return h, fmt.Errorf("line %d: a heredoc, which this check does not read", line)
			}
		case '"', '{', '[', '(':
			stack = append(stack, open{c, i, line})
		case '}', ']', ')':
			if len(stack) == 0 {
				return h, fmt.Errorf("line %d: %q closes nothing", line, c)
			}
			top := stack[len(stack)-1]
			if top.c != pairs[c] {
				return h, fmt.Errorf("line %d: %q closes %q opened on line %d", line, c, top.c, top.line)
			}
			h.close[top.off] = i
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return h, fmt.Errorf("line %d: %q never closed", top.line, top.c)
	}
	h.code = string(out)
	return h, nil
}

func TestDeployScanHCL(t *testing.T) {
	tests := []struct {
		name, src, wantErr string
	}{
		{"block", "a {\n  b = [1, (2)]\n}\n", ""},
		{"brace in a comment", "# {\n// }\n/* { */ a = 1\n", ""},
		{"template with quotes", `a = "${replace(var.x, "_", "-")}-${var.y}"`, ""},
		{"literal template", `a = "$${not {an interpolation"`, ""},
		{"escaped quote", `a = "say \"hi\" {"`, ""},
		{"unclosed block", "a {\n  b = 1\n", `line 1: '{' never closed`},
		{"mismatch", "a = [1, 2}\n", `line 1: '}' closes '['`},
		{"extra close", "a = 1 }\n", "closes nothing"},
		{"unterminated string", "a = \"x\nb = 2\n", "runs past the end of the line"},
		{"unterminated comment", "/* a = 1\n", "comment never closed"},
		{"heredoc", "a = <<EOT\nx\nEOT\n", "heredoc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := deployScanHCL(tt.src)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(h.code) != len(tt.src) || strings.Contains(h.code, "#") {
					t.Errorf("code %q: comments not blanked, or offsets moved", h.code)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzDeployScanHCL(f *testing.F) {
	for _, name := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf"} {
		if b, err := os.ReadFile(filepath.Join("terraform", name)); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`a = "${b("{")}" /* } */ # {`)
	f.Fuzz(func(t *testing.T, src string) {
		h, err := deployScanHCL(src)
		if err != nil {
			return
		}
		if len(h.code) != len(src) {
			t.Fatalf("code is %d bytes, source %d", len(h.code), len(src))
		}
		for o, c := range h.close {
			if c <= o || c >= len(src) || src[c] != map[byte]byte{'{': '}', '[': ']', '(': ')'}[src[o]] {
				t.Fatalf("bracket at %d (%q) closed at %d", o, src[o], c)
			}
		}
	})
}

// deployBlock is a block of an HCL file: its name (the submatches of its
// header, joined with ".") and its body.
type deployBlock struct{ name, body string }

// blocks returns the blocks whose header matches re, a pattern ending with
// `\{`, in the order of the file.
func (h deployHCL) blocks(re string) []deployBlock {
	var out []deployBlock
	for _, m := range regexp.MustCompile(`(?m)`+re).FindAllStringSubmatchIndex(h.code, -1) {
		open := m[1] - 1
		var name []string
		for i := 2; i+1 < len(m); i += 2 {
			name = append(name, h.code[m[i]:m[i+1]])
		}
		out = append(out, deployBlock{strings.Join(name, "."), h.code[open+1 : h.close[open]]})
	}
	return out
}

// named returns the blocks of re by name, and reports a name used twice.
func (h deployHCL) named(t *testing.T, re string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range h.blocks(re) {
		if _, dup := out[b.name]; dup {
			t.Errorf("block %s is declared twice", b.name)
		}
		out[b.name] = b.body
	}
	return out
}

// deployTFSamples are values for the module's required inputs (those of
// the README's usage).
var deployTFSamples = map[string]string{
	"splunk_url":              "https://hec.example.splunkcloud.com:8088",
	"splunk_token_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hec-token-AbCdEf",
	"function_zip":            "example.zip",
}

// TestDeployTerraformModule checks layer/terraform as text.
func TestDeployTerraformModule(t *testing.T) {
	files := map[string]deployHCL{}
	for _, name := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf"} {
		b, err := os.ReadFile(filepath.Join("terraform", name))
		if err != nil {
			t.Fatal(err)
		}
		h, err := deployScanHCL(string(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files[name] = h
	}
	if extra, _ := filepath.Glob(filepath.Join("terraform", "*.tf")); len(extra) != len(files) {
		t.Errorf("terraform/ holds %v; this test reads only %d of them", extra, len(files))
	}
	main := files["main.tf"]

	// Inputs: declared, typed, documented, used; and their defaults.
	declared := files["variables.tf"].named(t, `^variable\s+"([a-z0-9_]+)"\s*\{`)
	defaults := map[string]string{}
	for name, body := range declared {
		if !regexp.MustCompile(`(?m)^\s*description\s*=\s*"[^"]`).MatchString(body) || !regexp.MustCompile(`(?m)^\s*type\s*=`).MatchString(body) {
			t.Errorf("variable %s needs a type and a description", name)
		}
		if m := regexp.MustCompile(`(?m)^  default\s*=\s*(.*)$`).FindStringSubmatch(body); m != nil {
			defaults[name] = strings.Trim(m[1], `"`)
		}
	}
	used := map[string]bool{}
	for file, h := range files {
		for _, m := range regexp.MustCompile(`\bvar\.([A-Za-z0-9_]+)`).FindAllStringSubmatch(h.code, -1) {
			used[m[1]] = true
			if _, ok := declared[m[1]]; !ok {
				t.Errorf("%s: var.%s is not declared in variables.tf", file, m[1])
			}
		}
	}
	for name := range declared {
		if !used[name] {
			t.Errorf("variable %s is declared but never used", name)
		}
	}

	// Locals and resources used are defined.
	locals := map[string]string{} // name => expression (its first line)
	for _, b := range main.blocks(`^(locals)\s*\{`) {
		for _, m := range regexp.MustCompile(`(?m)^  ([a-z_][a-z0-9_]*)\s*=\s*(.*)$`).FindAllStringSubmatch(b.body, -1) {
			if _, dup := locals[m[1]]; dup {
				t.Errorf("local.%s is defined twice", m[1])
			}
			locals[m[1]] = m[2]
		}
	}
	for _, m := range regexp.MustCompile(`\blocal\.([a-z0-9_]+)`).FindAllStringSubmatch(main.code, -1) {
		if _, ok := locals[m[1]]; !ok {
			t.Errorf("main.tf: local.%s is not defined", m[1])
		}
	}
	resources := map[string]string{}
	for _, h := range files {
		for k, v := range h.named(t, `^resource\s+"([a-z0-9_]+)"\s+"([a-z0-9_]+)"\s*\{`) {
			resources[k] = v
		}
	}
	data := main.named(t, `^data\s+"([a-z0-9_]+)"\s+"([a-z0-9_]+)"\s*\{`)
	for file, h := range files {
		for _, m := range regexp.MustCompile(`(\bdata\.)?\b(aws_[a-z0-9_]+)\.([a-z0-9_]+)\b`).FindAllStringSubmatch(h.code, -1) {
			key := m[2] + "." + m[3]
			if _, ok := data[key]; m[1] != "" && !ok {
				t.Errorf("%s: data.%s is not defined", file, key)
			}
			if _, ok := resources[key]; m[1] == "" && !ok {
				t.Errorf("%s: %s is not defined", file, key)
			}
		}
	}

	// The resources the module is for, with what makes them work.
	need := func(typ string, props ...string) (string, string) {
		for k, body := range resources {
			if strings.HasPrefix(k, typ+".") {
				for _, p := range props {
					if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(p)).MatchString(body) {
						t.Errorf("%s has no %s", k, p)
					}
				}
				return k, body
			}
		}
		t.Errorf("main.tf has no %s", typ)
		return "", ""
	}
	layerRes, layerBody := need("aws_lambda_layer_version", "layer_name", "filename", "source_code_hash", "compatible_architectures")
	_, fnBody := need("aws_lambda_function", "function_name", "role", "runtime", "handler", "filename", "architectures", "layers", "environment {")
	need("aws_iam_role", "assume_role_policy")
	_, basic := need("aws_iam_role_policy_attachment", "policy_arn")
	need("aws_iam_role_policy", "policy")
	if !strings.Contains(basic, "service-role/AWSLambdaBasicExecutionRole") {
		t.Error("the role policy attachment is not AWSLambdaBasicExecutionRole")
	}
	if !strings.Contains(fnBody, layerRes+".arn") {
		t.Errorf("aws_lambda_function: layers does not use %s.arn", layerRes)
	}
	if !strings.Contains(layerBody, "[var.architecture]") || !strings.Contains(fnBody, "[var.architecture]") {
		t.Error("the layer and the function must both take var.architecture")
	}
	if !strings.Contains(locals["layer_zip"], `${path.module}/../../dist/audittrail-layer-${var.architecture}.zip`) {
		t.Errorf("local.layer_zip is %q, want the default dist/audittrail-layer-<architecture>.zip", locals["layer_zip"])
	}
	for _, arch := range []string{"x86_64", "arm64"} {
		if !strings.Contains(files["variables.tf"].code, `"`+arch+`"`) {
			t.Errorf("variables.tf: architecture %s is not allowed", arch)
		}
	}

	// The function's environment: the map's upper-case keys, their values
	// literals or inputs.
	env := map[string]string{}
	envValues := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*"?([A-Z][A-Z0-9_]*)"?\s*=\s*(\S.*?)\s*$`).FindAllStringSubmatch(main.code, -1) {
		name, expr := m[1], m[2]
		envValues[name] = expr
		switch {
		case strings.HasPrefix(expr, `"`) && !strings.Contains(expr, "${"):
			env[name] = strings.Trim(expr, `"`)
		case strings.HasPrefix(expr, "var."):
			v := strings.TrimPrefix(expr, "var.")
			if s, ok := deployTFSamples[v]; ok {
				env[name] = s
			} else if d, ok := defaults[v]; ok {
				env[name] = d
			} else {
				t.Errorf("%s = %s: add a sample for the required input %s to deployTFSamples", name, expr, v)
			}
		default:
			t.Errorf("%s = %s: this check reads only literals and var.x", name, expr)
		}
	}
	deployCheckEnv(t, "main.tf", env)

	// The role may read the secrets the environment names, and no action
	// or resource is a wildcard.
	stmts := main.blocks(`(statement|content)\s*\{`)
	for name, expr := range envValues {
		if !strings.HasSuffix(name, "_SECRET_ARN") {
			continue
		}
		found := false
		for _, b := range stmts {
			m := regexp.MustCompile(`(?m)^\s*resources\s*=\s*(.*)$`).FindStringSubmatch(b.body)
			if !strings.Contains(b.body, `"secretsmanager:GetSecretValue"`) || m == nil {
				continue
			}
			res := m[1]
			for _, l := range regexp.MustCompile(`\blocal\.([a-z0-9_]+)`).FindAllStringSubmatch(res, -1) {
				res += " " + locals[l[1]]
			}
			found = found || strings.Contains(res, expr)
		}
		if !found {
			t.Errorf("%s = %s, but no statement grants secretsmanager:GetSecretValue on it", name, expr)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*(actions|resources|identifiers)\s*=\s*(.*)$`).FindAllStringSubmatch(main.code, -1) {
		for _, s := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
			if strings.Contains(s[1], "*") {
				t.Errorf("main.tf: %s %q has a wildcard", m[1], s[1])
			}
		}
	}

	// Outputs are documented.
	for name, body := range files["outputs.tf"].named(t, `^output\s+"([a-z0-9_]+)"\s*\{`) {
		if !strings.Contains(body, "description") || !strings.Contains(body, "value") {
			t.Errorf("output %s needs a description and a value", name)
		}
	}

	// The README's usage sets every required input, and only declared ones;
	// its table names every input.
	readme, err := os.ReadFile(filepath.Join("terraform", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	usage := regexp.MustCompile("(?s)```hcl\n(module \"audittrail\" \\{.*?\n\\})").FindStringSubmatch(string(readme))
	if usage == nil {
		t.Fatal("README.md has no ```hcl module \"audittrail\" { ... } usage")
	}
	set := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z_]+)\s*=`).FindAllStringSubmatch(usage[1], -1) {
		set[m[1]] = true
		if _, ok := declared[m[1]]; !ok && m[1] != "source" {
			t.Errorf("README.md usage sets %s, which the module does not declare", m[1])
		}
	}
	for name := range declared {
		if _, hasDefault := defaults[name]; !hasDefault && !set[name] {
			t.Errorf("README.md usage does not set the required input %s", name)
		}
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document the input %s", name)
		}
	}
}

// ---- helpers ----

// deployStrings returns v as a list of strings: a string, or a list of
// strings; nil for anything else.
func deployStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// deployStatements returns the statements of a policy document.
func deployStatements(doc any) []map[string]any {
	m, _ := doc.(map[string]any)
	l, _ := m["Statement"].([]any)
	var out []map[string]any
	for _, s := range l {
		if sm, ok := s.(map[string]any); ok {
			out = append(out, sm)
		}
	}
	return out
}

// deployConditionValues returns the values of a statement's condition.
func deployConditionValues(c any) []string {
	var out []string
	ops, _ := c.(map[string]any)
	for _, kv := range ops {
		keys, _ := kv.(map[string]any)
		for _, v := range keys {
			out = append(out, deployStrings(v)...)
		}
	}
	return out
}

// deployDuplicateKeys reports a key given twice in one JSON object, which
// encoding/json would silently resolve to the last one.
func deployDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("key %q twice in one object (offset %d)", key, dec.InputOffset())
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk()
}

func TestDeployDuplicateKeys(t *testing.T) {
	if err := deployDuplicateKeys([]byte(`{"a":[{"b":1},{"b":2}],"c":{"a":1}}`)); err != nil {
		t.Errorf("distinct keys: %v", err)
	}
	if err := deployDuplicateKeys([]byte(`{"Statement":[{"Resource":"x","Resource":"*"}]}`)); err == nil || !strings.Contains(err.Error(), `"Resource" twice`) {
		t.Errorf("a key twice: %v, want an error naming it", err)
	}
}

// deployClosest returns the name of names nearest to s (edit distance).
func deployClosest(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if d := deployDistance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// deployDistance is the Levenshtein distance of a and b.
func deployDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func deploySortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
