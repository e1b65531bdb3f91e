package sinks

import (
	"context"
	"net"
	"net/http/httptrace"
	"sync"
)

// Conn remembers the connection an HTTP request goes out on, so that a sink
// can close it when the request fails or is cut short. Lambda may freeze
// the process as soon as Write returns, and Go's transport would otherwise
// close such a connection later, from one of its own goroutines: the
// request would still be on the wire at the freeze.
type Conn struct {
	mu   sync.Mutex
	conn net.Conn
}

// Trace returns ctx with a trace that records the request's connection;
// give it to the request.
func (c *Conn) Trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		c.mu.Lock()
		c.conn = info.Conn
		c.mu.Unlock()
	}})
}

// Close closes the connection, if the request got one.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.Close()
	}
}
