package extension

import (
	"io"
	"log/slog"
	"testing"
)

func TestRuntimeDoneWaitGivesUp(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	tests := []struct {
		name     string
		arrivals []bool
		want     bool
	}{
		{"always arrives", []bool{true, true, true, true}, true},
		{"misses then arrives", []bool{false, false, true, false, false}, true},
		{"three misses in a row", []bool{false, false, false}, false},
		{"gives up for good", []bool{false, false, false, true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := runtimeDoneWait{enabled: true}
			for _, a := range tt.arrivals {
				w.observe(a, log)
			}
			if w.enabled != tt.want {
				t.Errorf("enabled = %v, want %v", w.enabled, tt.want)
			}
		})
	}
}
