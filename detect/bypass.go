package detect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/audittrail/audittrail/schema"
)

// bypass reports an invocation that did not come through the expected
// front door: with expected sources (AUDITTRAIL_EXPECTED_SOURCES) any
// other api.gateway; without them, a Function URL that takes calls with
// no authentication (auth type NONE), which answers anyone who has the
// URL whatever the API gateway in front of the function enforces.
func bypass(rec *schema.Record, expected []string) []schema.Finding {
	if rec.Event.Action != schema.ActionInvocation || rec.API == nil {
		return nil
	}
	gw := rec.API.Gateway
	unauthenticated := rec.Auth == nil || rec.Auth.Type == "none"
	if len(expected) == 0 {
		if gw != schema.GatewayFunctionURL || !unauthenticated {
			return nil
		}
		return []schema.Finding{{
			Type:     schema.FindingGatewayBypass,
			Severity: schema.SeverityMedium,
			Reason:   "invoked through a Function URL with no authentication (auth type NONE)",
			Evidence: schema.Evidence{Location: "event", Rule: "bypass.function_url_no_auth"},
		}}
	}
	if slices.Contains(expected, gw) {
		return nil
	}
	severity, rule := schema.SeverityMedium, "bypass.unexpected_source"
	switch {
	case gw == schema.GatewayDirect:
		severity, rule = schema.SeverityHigh, "bypass.direct_invoke"
	case gw == schema.GatewayFunctionURL && unauthenticated:
		severity, rule = schema.SeverityHigh, "bypass.function_url_no_auth"
	}
	return []schema.Finding{{
		Type:     schema.FindingGatewayBypass,
		Severity: severity,
		Reason:   fmt.Sprintf("invoked through %s, expected %s", gw, strings.Join(expected, " or ")),
		Evidence: schema.Evidence{Location: "event", Rule: rule, Expected: expected},
	}}
}
