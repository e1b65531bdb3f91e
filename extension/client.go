package extension

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Event types delivered by event/next.
const (
	EventInvoke   = "INVOKE"
	EventShutdown = "SHUTDOWN"
)

// Event is an Extensions API event: INVOKE or SHUTDOWN.
type Event struct {
	EventType          string `json:"eventType"`
	DeadlineMs         int64  `json:"deadlineMs"`
	RequestID          string `json:"requestId,omitempty"`
	InvokedFunctionArn string `json:"invokedFunctionArn,omitempty"`
	Tracing            struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"tracing"`
	ShutdownReason string `json:"shutdownReason,omitempty"`
}

// Registration is the register call's answer.
type Registration struct {
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	AccountID       string `json:"accountId,omitempty"`
}

// APIError is a non-2xx answer of a Lambda API.
type APIError struct {
	Status  int
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("lambda API: %d %s: %s", e.Status, e.Type, e.Message)
}

// Client calls the Extensions API (2020-01-01) and the Telemetry API
// (2022-07-01) of one execution environment.
type Client struct {
	base string
	// http has no timeout: event/next blocks until the next event, and the
	// process may be frozen inside the call. Every call takes a context.
	http *http.Client
	id   string
}

// NewClient returns a client for the APIs at runtimeAPI (host:port, the
// value of AWS_LAMBDA_RUNTIME_API).
func NewClient(runtimeAPI string) *Client {
	return &Client{base: "http://" + runtimeAPI, http: &http.Client{}}
}

// Register registers the extension under name for the given events, and
// asks for the account id.
func (c *Client) Register(ctx context.Context, name string, events []string) (Registration, error) {
	body, _ := json.Marshal(map[string][]string{"events": events})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/2020-01-01/extension/register", bytes.NewReader(body))
	if err != nil {
		return Registration{}, fmt.Errorf("register: %w", err)
	}
	req.Header.Set("Lambda-Extension-Name", name)
	req.Header.Set("Lambda-Extension-Accept-Feature", "accountId")
	resp, body, err := c.do(req)
	if err != nil {
		return Registration{}, fmt.Errorf("register: %w", err)
	}
	var reg Registration
	if err := json.Unmarshal(body, &reg); err != nil {
		return Registration{}, fmt.Errorf("register: decode answer: %w", err)
	}
	c.id = resp.Header.Get("Lambda-Extension-Identifier")
	if c.id == "" {
		return Registration{}, fmt.Errorf("register: no Lambda-Extension-Identifier in the answer")
	}
	return reg, nil
}

// Next blocks until the next event.
func (c *Client) Next(ctx context.Context) (Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/2020-01-01/extension/event/next", nil)
	if err != nil {
		return Event{}, fmt.Errorf("event/next: %w", err)
	}
	_, body, err := c.do(req)
	if err != nil {
		return Event{}, fmt.Errorf("event/next: %w", err)
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("event/next: decode event: %w", err)
	}
	return ev, nil
}

// Buffering is the Telemetry API buffering configuration. Lambda's bounds:
// MaxItems 1,000–10,000, MaxBytes 262,144–1,048,576, TimeoutMs 25–30,000.
type Buffering struct {
	MaxItems  int `json:"maxItems"`
	MaxBytes  int `json:"maxBytes"`
	TimeoutMs int `json:"timeoutMs"`
}

// Subscription is a Telemetry API subscription request.
type Subscription struct {
	SchemaVersion string    `json:"schemaVersion"`
	Types         []string  `json:"types"`
	Buffering     Buffering `json:"buffering"`
	Destination   struct {
		Protocol string `json:"protocol"`
		URI      string `json:"URI"`
	} `json:"destination"`
}

// Subscribe subscribes the registered extension to the Telemetry API.
func (c *Client) Subscribe(ctx context.Context, s Subscription) error {
	body, _ := json.Marshal(s)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+"/2022-07-01/telemetry", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telemetry subscribe: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, body, err := c.do(req)
	if err != nil {
		return fmt.Errorf("telemetry subscribe: %w", err)
	}
	// Local emulators (the RIE, SAM local) answer 202 with
	// Telemetry.NotSupported: accepted, but nothing will ever be delivered.
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("telemetry subscribe: not subscribed: %w", apiError(resp.StatusCode, body))
	}
	return nil
}

// do sends req with the extension identifier and returns the answer's
// status and body (at most 1 MiB). A non-2xx answer is an *APIError.
func (c *Client) do(req *http.Request) (*http.Response, []byte, error) {
	if c.id != "" {
		req.Header.Set("Lambda-Extension-Identifier", c.id)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, nil, apiError(resp.StatusCode, body)
	}
	return resp, body, nil
}

func apiError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	if json.Unmarshal(body, e) != nil || e.Type == "" {
		e.Message = string(bytes.TrimSpace(body))
	}
	return e
}
