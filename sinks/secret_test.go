package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := StaticSecret("hunter2-token")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", s)
	js, _ := json.Marshal(struct{ T *Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(js), logs.String()} {
		if bytes.Contains([]byte(out), []byte("hunter2")) || !bytes.Contains([]byte(out), []byte(redacted)) {
			t.Errorf("secret printed: %s", out)
		}
	}
	if v, err := s.Get(t.Context()); err != nil || v != "hunter2-token" {
		t.Errorf("Get = %q, %v", v, err)
	}
}

func TestLazySecretFetchesOnceAndRetriesFailures(t *testing.T) {
	calls := 0
	fail := true
	s := LazySecret(func(context.Context) (string, error) {
		calls++
		if fail {
			return "", errors.New("throttled")
		}
		return "v", nil
	})
	if _, err := s.Get(t.Context()); err == nil {
		t.Fatal("failed fetch not reported")
	}
	fail = false
	for range 3 {
		if v, err := s.Get(t.Context()); err != nil || v != "v" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if calls != 2 {
		t.Errorf("fetched %d times, want 2 (one failure, then once)", calls)
	}
	var none *Secret
	if _, err := none.Get(t.Context()); err == nil {
		t.Error("nil secret gave a value")
	}
}
