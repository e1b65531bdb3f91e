// Package detect finds attacks on an API in the invocations the extension
// records: bursts of authentication failures, calls that bypass the
// expected front door, routes and status codes an OpenAPI description does
// not document, sensitive data in responses, injection payloads, and error
// rate or latency anomalies. Detectors only observe (monitor-only): their
// findings are added to the record (security.findings) and never change
// what the function receives or answers. See README.md for what each one
// catches, what it can miss and how to tune it.
package detect
