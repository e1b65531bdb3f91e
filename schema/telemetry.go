package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// TelemetryEvent is one element of a Telemetry API batch.
type TelemetryEvent struct {
	Time   time.Time       `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
}

// ParseTelemetryBatch decodes one POST body (a JSON array).
func ParseTelemetryBatch(body []byte) ([]TelemetryEvent, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("telemetry batch: %w", err)
	}
	events := make([]TelemetryEvent, 0, len(raw))
	var errs []error
	for i, r := range raw {
		var ev TelemetryEvent
		if err := json.Unmarshal(r, &ev); err != nil {
			errs = append(errs, fmt.Errorf("element %d: %w", i, err))
			continue
		}
		if ev.Type == "" {
			errs = append(errs, fmt.Errorf("element %d: no type", i))
			continue
		}
		events = append(events, ev)
	}
	return events, errors.Join(errs...)
}

// Wire shapes of the platform records the builder reads.
type (
	tracing struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	initStart struct {
		InitializationType string `json:"initializationType"`
		Phase              string `json:"phase"`
		FunctionName       string `json:"functionName"`
		FunctionVersion    string `json:"functionVersion"`
		InstanceID         string `json:"instanceId"`
		InstanceMaxMemory  int64  `json:"instanceMaxMemory"`
		RuntimeVersion     string `json:"runtimeVersion"`
		RuntimeVersionArn  string `json:"runtimeVersionArn"`
	}
	initDone struct {
		InitializationType string `json:"initializationType"`
		Phase              string `json:"phase"`
		Status             string `json:"status"`
		ErrorType          string `json:"errorType"`
		Metrics            struct {
			DurationMs *float64 `json:"durationMs"`
		} `json:"metrics"`
	}
	invokeRecord struct {
		RequestID string   `json:"requestId"`
		Version   string   `json:"version"`
		Status    string   `json:"status"`
		ErrorType string   `json:"errorType"`
		Tracing   *tracing `json:"tracing"`
		Metrics   struct {
			DurationMs        *float64 `json:"durationMs"`
			BilledDurationMs  *int64   `json:"billedDurationMs"`
			MemorySizeMB      *int64   `json:"memorySizeMB"`
			MaxMemoryUsedMB   *int64   `json:"maxMemoryUsedMB"`
			InitDurationMs    *float64 `json:"initDurationMs"`
			RestoreDurationMs *float64 `json:"restoreDurationMs"`
			ProducedBytes     *int64   `json:"producedBytes"`
		} `json:"metrics"`
	}
	logsDropped struct {
		DroppedBytes   int64  `json:"droppedBytes"`
		DroppedRecords int64  `json:"droppedRecords"`
		Reason         string `json:"reason"`
	}
	jsonLog struct {
		Level     string          `json:"level"`
		RequestID string          `json:"requestId"`
		Message   json.RawMessage `json:"message"`
	}
)
