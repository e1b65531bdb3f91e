package schema

import (
	"encoding/json"
	"slices"
	"strings"
)

// maxSourceARNs bounds the source ARNs kept for one trigger event.
const maxSourceARNs = 10

// triggerRecord is one element of a Records array (SQS, SNS, S3, DynamoDB
// and Kinesis events), with the source ARN wherever that event keeps it.
type triggerRecord struct {
	EventSource     string `json:"eventSource"`
	EventSourceUpr  string `json:"EventSource"` // SNS capitalises it
	EventSourceARN  string `json:"eventSourceARN"`
	SubscriptionARN string `json:"EventSubscriptionArn"`
	SNS             *struct {
		TopicArn string `json:"TopicArn"`
	} `json:"Sns"`
	S3 *struct {
		Bucket struct {
			Arn string `json:"arn"`
		} `json:"bucket"`
	} `json:"s3"`
}

// triggerKinds maps an event source to its faas.trigger.
var triggerKinds = map[string]string{
	"sqs": "pubsub", "sns": "pubsub", "kinesis": "pubsub", "s3": "datasource", "dynamodb": "datasource",
}

// normalizeTrigger recognises the non-HTTP triggers: SQS, SNS, S3,
// DynamoDB and Kinesis streams, EventBridge (scheduled or not) and Cognito
// user-pool triggers. It reports whether the event was one.
func normalizeTrigger(rec *Record, probe map[string]json.RawMessage, event []byte) bool {
	switch {
	case probe["Records"] != nil:
		var records []triggerRecord
		if json.Unmarshal(probe["Records"], &records) != nil || len(records) == 0 {
			return false
		}
		source := records[0].EventSource
		if source == "" {
			source = records[0].EventSourceUpr
		}
		name, ok := strings.CutPrefix(source, "aws:")
		if !ok {
			return false
		}
		api := &API{Gateway: name, Records: len(records)}
		for _, r := range records {
			arn := r.EventSourceARN
			switch {
			case r.SNS != nil:
				arn = r.SNS.TopicArn
			case r.S3 != nil:
				arn = r.S3.Bucket.Arn
			}
			if arn != "" && !slices.Contains(api.SourceARNs, arn) && len(api.SourceARNs) < maxSourceARNs {
				api.SourceARNs = append(api.SourceARNs, arn)
			}
		}
		rec.API = api
		rec.FaaS.Trigger = triggerKinds[name]
		if rec.FaaS.Trigger == "" {
			rec.FaaS.Trigger = "other"
		}
		return true
	case probe["detail-type"] != nil && probe["source"] != nil:
		var ev struct {
			DetailType string   `json:"detail-type"`
			Source     string   `json:"source"`
			Resources  []string `json:"resources"`
		}
		_ = json.Unmarshal(event, &ev)
		rec.API = &API{Gateway: "eventbridge", EventType: ev.DetailType, Records: 1}
		rec.API.SourceARNs = ev.Resources[:min(len(ev.Resources), maxSourceARNs)]
		rec.FaaS.Trigger = "pubsub"
		if ev.DetailType == "Scheduled Event" && ev.Source == "aws.events" {
			rec.FaaS.Trigger = "timer"
		}
		return true
	case probe["triggerSource"] != nil && probe["userPoolId"] != nil:
		var ev struct {
			TriggerSource string `json:"triggerSource"`
			UserPoolID    string `json:"userPoolId"`
			UserName      string `json:"userName"`
			Request       struct {
				UserAttributes map[string]any `json:"userAttributes"`
			} `json:"request"`
		}
		_ = json.Unmarshal(event, &ev)
		rec.API = &API{Gateway: "cognito", ID: ev.UserPoolID, EventType: ev.TriggerSource, Records: 1}
		rec.FaaS.Trigger = "other"
		if id := claim(ev.Request.UserAttributes, "sub"); id != "" || ev.UserName != "" {
			rec.User = &User{ID: id, Name: ev.UserName}
		}
		return true
	}
	return false
}
