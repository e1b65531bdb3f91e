package schema

import (
	"strconv"
	"strings"
)

// OCSFVersion is the OCSF schema version of OCSF records (the version
// Amazon Security Lake uses for its AWS sources, source version 2).
const OCSFVersion = "1.1.0"

// OCSF API Activity (class 6003, category Application Activity).
const (
	ocsfClassAPIActivity = 6003
	ocsfCategoryApp      = 6
)

// OCSF renders an invocation record as an OCSF 1.1 API Activity event, for
// SIEMs and data lakes that expect OCSF (Amazon Security Lake). product is
// the reporting product's version.
//
// A security_finding record is rendered as an OCSF 1.1 Detection Finding
// (class 2004) instead, see ocsfFinding.
func OCSF(r *Record, version string) map[string]any {
	if r.Event.Action == ActionSecurityFinding && r.Security != nil && len(r.Security.Findings) == 1 {
		return ocsfFinding(r, version)
	}
	activityID, activityName := ocsfActivity(r)
	statusID, status := 0, "Unknown"
	switch r.Event.Outcome {
	case OutcomeSuccess:
		statusID, status = 1, "Success"
	case OutcomeFailure:
		statusID, status = 2, "Failure"
	}
	ev := map[string]any{
		"class_uid":     ocsfClassAPIActivity,
		"class_name":    "API Activity",
		"category_uid":  ocsfCategoryApp,
		"category_name": "Application Activity",
		"activity_id":   activityID,
		"activity_name": activityName,
		"type_uid":      ocsfClassAPIActivity*100 + activityID,
		"severity_id":   1,
		"severity":      "Informational",
		"time":          r.Timestamp.UnixMilli(),
		"status_id":     statusID,
		"status":        status,
		"metadata": map[string]any{
			"version":  OCSFVersion,
			"uid":      r.Event.ID,
			"log_name": "audittrail",
			"product":  map[string]any{"name": "audittrail", "vendor_name": "audittrail", "version": version},
		},
		"actor":        ocsfActor(r),
		"api":          ocsfAPI(r),
		"src_endpoint": ocsfSource(r),
		"cloud":        ocsfCloud(r),
	}
	if r.Event.Duration != nil {
		ev["duration"] = *r.Event.Duration / 1e6
	}
	if h := r.HTTP; h != nil && h.Response != nil && h.Response.StatusCode != 0 {
		ev["status_code"] = strconv.Itoa(h.Response.StatusCode)
	}
	if r.Error != nil {
		ev["status_detail"] = r.Error.Type
	}
	if req := ocsfHTTPRequest(r); req != nil {
		ev["http_request"] = req
	}
	if r.Server != nil && r.Server.Address != "" {
		dst := map[string]any{"hostname": r.Server.Address}
		if r.FaaS.Name != "" {
			dst["svc_name"] = r.FaaS.Name
		}
		ev["dst_endpoint"] = dst
	}
	if r.Cloud.ResourceID != "" || r.FaaS.Name != "" {
		res := map[string]any{"type": "AWS::Lambda::Function", "name": r.FaaS.Name}
		if r.Cloud.ResourceID != "" {
			res["uid"] = r.Cloud.ResourceID
		}
		ev["resources"] = []any{res}
	}
	return ev
}

// ocsfActivity maps the HTTP method to an API Activity.
func ocsfActivity(r *Record) (int, string) {
	method := ""
	if r.HTTP != nil && r.HTTP.Request != nil {
		method = strings.ToUpper(r.HTTP.Request.Method)
	}
	switch method {
	case "":
		return 0, "Unknown"
	case "POST":
		return 1, "Create"
	case "GET", "HEAD":
		return 2, "Read"
	case "PUT", "PATCH":
		return 3, "Update"
	case "DELETE":
		return 4, "Delete"
	default:
		return 99, "Other"
	}
}

// ocsfActor is the caller; OCSF requires one, so an unauthenticated call
// is named by how it came in.
func ocsfActor(r *Record) map[string]any {
	if r.User != nil && r.User.ID != "" {
		u := map[string]any{"uid": r.User.ID}
		if r.User.Name != "" {
			u["name"] = r.User.Name
		}
		actor := map[string]any{"user": u}
		if r.Auth != nil && r.Auth.Type != "" {
			actor["authorizations"] = []any{map[string]any{"policy": map[string]any{"name": r.Auth.Type}}}
		}
		return actor
	}
	if r.API != nil {
		return map[string]any{"invoked_by": r.API.Gateway}
	}
	return map[string]any{"invoked_by": "unknown"}
}

func ocsfAPI(r *Record) map[string]any {
	op := "Invoke"
	if r.HTTP != nil && r.HTTP.Request != nil && r.HTTP.Request.Method != "" {
		route := r.HTTP.Route
		if route == "" && r.URL != nil {
			route = r.URL.Path
		}
		op = r.HTTP.Request.Method + " " + route
	}
	api := map[string]any{"operation": op}
	reqID := r.FaaS.InvocationID
	if r.API != nil {
		api["service"] = map[string]any{"name": r.API.Gateway}
		if r.API.RequestID != "" {
			reqID = r.API.RequestID
		}
	}
	if reqID != "" {
		api["request"] = map[string]any{"uid": reqID}
	}
	resp := map[string]any{}
	if h := r.HTTP; h != nil && h.Response != nil && h.Response.StatusCode != 0 {
		resp["code"] = h.Response.StatusCode
	}
	if r.Error != nil {
		resp["error"] = r.Error.Type
		if r.Error.Message != "" {
			resp["error_message"] = r.Error.Message
		}
	}
	if len(resp) > 0 {
		api["response"] = resp
	}
	return api
}

// ocsfSource is the caller's endpoint; OCSF requires one.
func ocsfSource(r *Record) map[string]any {
	if r.Client != nil && r.Client.Address != "" {
		return map[string]any{"ip": r.Client.Address}
	}
	if r.API != nil {
		return map[string]any{"svc_name": r.API.Gateway}
	}
	return map[string]any{"name": "unknown"}
}

func ocsfCloud(r *Record) map[string]any {
	c := map[string]any{"provider": "AWS"}
	if r.Cloud.Region != "" {
		c["region"] = r.Cloud.Region
	}
	if r.Cloud.Account != nil {
		c["account"] = map[string]any{"uid": r.Cloud.Account.ID}
	}
	return c
}

func ocsfHTTPRequest(r *Record) map[string]any {
	h := r.HTTP
	if h == nil || h.Request == nil || h.Request.Method == "" {
		return nil
	}
	req := map[string]any{"http_method": h.Request.Method}
	if r.URL != nil {
		u := map[string]any{"path": r.URL.Path}
		if r.URL.Query != "" {
			u["query_string"] = r.URL.Query
		}
		if r.URL.Scheme != "" {
			u["scheme"] = r.URL.Scheme
		}
		if r.Server != nil && r.Server.Address != "" {
			u["hostname"] = r.Server.Address
		}
		req["url"] = u
	}
	if r.UserAgent != nil {
		req["user_agent"] = r.UserAgent.Original
	}
	if xff := h.Request.Header["x-forwarded-for"]; len(xff) > 0 {
		var ips []string
		for _, v := range xff {
			for ip := range strings.SplitSeq(v, ",") {
				ips = append(ips, strings.TrimSpace(ip))
			}
		}
		req["x_forwarded_for"] = ips
	}
	return req
}

// OCSF Detection Finding (class 2004, category Findings).
const (
	ocsfClassDetectionFinding = 2004
	ocsfCategoryFindings      = 2
)

// ocsfSeverity maps a finding's severity to OCSF's severity_id and name.
func ocsfSeverity(severity string) (int, string) {
	switch severity {
	case SeverityInfo:
		return 1, "Informational"
	case SeverityLow:
		return 2, "Low"
	case SeverityMedium:
		return 3, "Medium"
	case SeverityHigh:
		return 4, "High"
	case SeverityCritical:
		return 5, "Critical"
	}
	return 0, "Unknown"
}

// ocsfFinding renders a security_finding record as an OCSF 1.1 Detection
// Finding: a new finding (activity Create, status New) whose finding_info
// names the detector (analytic, a rule) and the invocation it is about
// (related_events), with the request's facts as evidence.
func ocsfFinding(r *Record, version string) map[string]any {
	f := r.Security.Findings[0]
	sevID, sevName := ocsfSeverity(f.Severity)
	info := map[string]any{
		"uid":          r.Event.ID,
		"title":        f.Type + ": " + f.Reason,
		"desc":         f.Reason,
		"types":        []string{f.Type},
		"created_time": r.Timestamp.UnixMilli(),
		"analytic": map[string]any{
			"name": f.Type, "uid": f.Evidence.Rule, "type_id": 1, "type": "Rule",
		},
	}
	if r.Security.InvocationID != "" {
		info["related_events"] = []any{map[string]any{"uid": r.Security.InvocationID}}
	}
	evidence := map[string]any{
		"actor":        ocsfActor(r),
		"api":          ocsfAPI(r),
		"src_endpoint": ocsfSource(r),
	}
	if req := ocsfHTTPRequest(r); req != nil {
		evidence["http_request"] = req
	}
	ev := map[string]any{
		"class_uid":     ocsfClassDetectionFinding,
		"class_name":    "Detection Finding",
		"category_uid":  ocsfCategoryFindings,
		"category_name": "Findings",
		"activity_id":   1,
		"activity_name": "Create",
		"type_uid":      ocsfClassDetectionFinding*100 + 1,
		"time":          r.Timestamp.UnixMilli(),
		"severity_id":   sevID,
		"severity":      sevName,
		"status_id":     1,
		"status":        "New",
		"message":       f.Reason,
		"metadata": map[string]any{
			"version":  OCSFVersion,
			"uid":      r.Event.ID,
			"log_name": "audittrail",
			"product":  map[string]any{"name": "audittrail", "vendor_name": "audittrail", "version": version},
		},
		"finding_info": info,
		"evidences":    []any{evidence},
		"cloud":        ocsfCloud(r),
		"unmapped":     map[string]any{"evidence": f.Evidence},
	}
	if r.FaaS.Name != "" {
		res := map[string]any{"type": "AWS::Lambda::Function", "name": r.FaaS.Name}
		if r.Cloud.ResourceID != "" {
			res["uid"] = r.Cloud.ResourceID
		}
		ev["resources"] = []any{res}
	}
	return ev
}
