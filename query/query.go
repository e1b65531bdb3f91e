// Package query finds audit records: one filter syntax over the schema's
// fields, evaluated over the local file store, and compiled to the query
// languages of the SIEMs the trail is sent to.
//
// A filter is a list of conditions, all of which must hold:
//
//	http.request.method=DELETE http.route=/users/* http.response.status_code>=200
//
// A condition is FIELD OP VALUE with OP one of = != > >= < <=; a value with
// * matches by wildcard (= and != only); > >= < <= compare numbers (or
// RFC 3339 times). Values may be quoted with double quotes.
package query

import "time"

// Op is a comparison.
type Op string

// The comparisons.
const (
	Eq Op = "="
	Ne Op = "!="
	Gt Op = ">"
	Ge Op = ">="
	Lt Op = "<"
	Le Op = "<="
)

// Cond is one condition: Field Op Value. Wildcard is set when Value holds
// a * to match any run of characters (Eq and Ne only).
type Cond struct {
	Field    string
	Op       Op
	Value    string
	Wildcard bool
}

// Query is a filter with a time range and a limit.
type Query struct {
	Conds []Cond
	// Since and Until bound @timestamp (zero: open).
	Since, Until time.Time
	// Limit bounds the records returned (0: no bound).
	Limit int
}
