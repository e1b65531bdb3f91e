package config

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/audittrail/audittrail/detect"
)

// Detect is the configuration of the security detectors.
type Detect struct {
	// On runs the detectors at all (AUDITTRAIL_DETECT).
	On bool
	// Detectors tunes them; its Spec is loaded by the extension from
	// OpenAPISpec.
	Detectors detect.Config
	// OpenAPISpec is the path of the OpenAPI 3 document of
	// undocumented_route (empty: that detector is off).
	OpenAPISpec string
	// FindingRecords adds a security_finding record per finding.
	FindingRecords bool
}

// detectVariables lists the variables of the detectors.
func detectVariables() []Var {
	def := detect.DefaultConfig()
	return []Var{
		{"AUDITTRAIL_DETECT", "on", "`off` turns every security detector off (see `detect/README.md`); findings go to `security.findings` of the invocation record."},
		{"AUDITTRAIL_DETECT_OFF", "", "Comma-separated detectors to switch off: `auth_failure_burst`, `gateway_bypass`, `undocumented_route`, `undocumented_status`, `sensitive_data_exposure`, `injection_attempt`, `anomaly`."},
		{"AUDITTRAIL_EXPECTED_SOURCES", "", "Comma-separated front doors invocations should come through (`api.gateway` values: `apigateway-rest`, `apigateway-http`, `apigateway-websocket`, `alb`, `function-url`, `direct`, or a trigger such as `sqs`); any other is a `gateway_bypass`. Empty: only Function URLs without authentication are."},
		{"AUDITTRAIL_OPENAPI_SPEC", "", "Path of the API's OpenAPI 3 document (JSON or YAML) in the function or a layer, e.g. `/var/task/openapi.yaml`: routes and status codes it does not list are `undocumented_route` and `undocumented_status`. Empty: those detectors are off."},
		{"AUDITTRAIL_AUTH_FAILURE_THRESHOLD", strconv.Itoa(def.Burst.Threshold), "How many 401/403 answers to one principal or one client address within the window make an `auth_failure_burst`."},
		{"AUDITTRAIL_AUTH_FAILURE_WINDOW", def.Burst.Window.String(), "The sliding window of `auth_failure_burst` (a Go duration)."},
		{"AUDITTRAIL_SENSITIVE_KINDS", "", "Comma-separated kinds `sensitive_data_exposure` looks for in responses (default: all of `card_number`, `aws_access_key_id`, `aws_secret_access_key`, `private_key`, `jwt`, `email`, `us_ssn`, `iban`)."},
		{"AUDITTRAIL_SENSITIVE_BULK", strconv.Itoa(def.Sensitive.BulkThreshold), "How many e-mail addresses or national identifiers one response must hold to count (one contact address is normal, a dump of them is not)."},
		{"AUDITTRAIL_DETECT_RESPONSE_BYTES", strconv.Itoa(def.Sensitive.MaxBytes), "How much of each response body `sensitive_data_exposure` reads, in bytes."},
		{"AUDITTRAIL_DETECT_REQUEST_BYTES", strconv.Itoa(def.RequestBodyBytes), "How much of each request body `injection_attempt` reads, in bytes."},
		{"AUDITTRAIL_FINDING_RECORDS", "on", "`on` also writes each finding as a `security_finding` record of its own (`event.kind` `alert`), for SIEMs that alert on findings apart from requests; `off` keeps them in `security.findings` only."},
	}
}

// readDetect reads the detectors' variables into c.Detect.
func (c *Config) readDetect(get func(name, def string) string) []error {
	var errs []error
	c.Detect = Detect{On: true, Detectors: detect.DefaultConfig(), FindingRecords: true}
	d := &c.Detect.Detectors
	for _, sw := range []struct {
		name string
		v    *bool
	}{{"AUDITTRAIL_DETECT", &c.Detect.On}, {"AUDITTRAIL_FINDING_RECORDS", &c.Detect.FindingRecords}} {
		var err error
		if *sw.v, err = onOff(get, sw.name, true); err != nil {
			errs = append(errs, err)
		}
	}
	d.Off = splitList(get("AUDITTRAIL_DETECT_OFF", ""))
	d.ExpectedSources = splitList(get("AUDITTRAIL_EXPECTED_SOURCES", ""))
	c.Detect.OpenAPISpec = get("AUDITTRAIL_OPENAPI_SPEC", "")
	d.Sensitive.Kinds = splitList(get("AUDITTRAIL_SENSITIVE_KINDS", ""))
	ints := []struct {
		name string
		v    *int
	}{
		{"AUDITTRAIL_AUTH_FAILURE_THRESHOLD", &d.Burst.Threshold},
		{"AUDITTRAIL_SENSITIVE_BULK", &d.Sensitive.BulkThreshold},
		{"AUDITTRAIL_DETECT_RESPONSE_BYTES", &d.Sensitive.MaxBytes},
		{"AUDITTRAIL_DETECT_REQUEST_BYTES", &d.RequestBodyBytes},
	}
	for _, iv := range ints {
		if s := get(iv.name, ""); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive number", iv.name, s))
				continue
			}
			*iv.v = n
		}
	}
	if s := get("AUDITTRAIL_AUTH_FAILURE_WINDOW", ""); s != "" {
		w, err := time.ParseDuration(s)
		if err != nil || w <= 0 {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_AUTH_FAILURE_WINDOW: %q is not a positive duration like 1m", s))
		} else {
			d.Burst.Window = w
		}
	}
	if err := d.Validate(); err != nil {
		// A bad setting falls back to the defaults; valid names stay off.
		errs = append(errs, fmt.Errorf("detectors: %w", err))
		off := slices.DeleteFunc(d.Off, func(n string) bool { return !slices.Contains(detect.Names(), n) })
		expected, kinds := d.ExpectedSources, d.Sensitive.Kinds
		*d = detect.DefaultConfig()
		d.Off, d.ExpectedSources, d.Sensitive.Kinds = off, expected, kinds
		if d.Validate() != nil {
			d.Sensitive.Kinds = nil
		}
	}
	return errs
}
