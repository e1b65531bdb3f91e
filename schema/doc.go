// Package schema defines the audit record (schema version 1) and turns what
// Lambda tells an extension into records.
//
// [Builder] correlates Telemetry API events and Extensions API INVOKE
// events by request id, never by order, into one init record per execution
// environment, one invocation record per request (completed by its
// platform.report), one shutdown record, coverage-gap records for every
// loss, and, when enabled, log records. It holds a bounded number of open
// invocations and never fails on input it does not know: unknown event types
// are ignored, malformed records are reported as errors and skipped.
package schema
