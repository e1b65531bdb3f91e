// Package sinks defines where audit records go. A sink receives batches of
// encoded records and delivers them to one destination; each destination is
// a subpackage (file, stdout, and the SIEM sinks).
package sinks

import "context"

// Sink delivers batches of audit records to one destination.
//
// Each element of a batch is one record encoded as a single-line JSON object
// (no trailing newline). Write blocks until the destination accepted or
// rejected the whole batch, or ctx ended; it must not retain the batch or its
// elements after it returns. Close flushes and releases what the sink holds;
// it is safe to call more than once and without a prior Write. Methods are
// not called concurrently.
type Sink interface {
	// Name identifies the sink in logs and coverage-gap records.
	Name() string
	// Write delivers one batch.
	Write(ctx context.Context, batch [][]byte) error
	// Close flushes and releases the sink.
	Close(ctx context.Context) error
}
