package sinks

import (
	"context"
	"errors"
	"log/slog"
	"sync"
)

// Secret is a credential a sink sends (a token, an API key, a password):
// given as it is, or fetched on first use (from AWS Secrets Manager or SSM
// Parameter Store) and then cached. It never prints: String, GoString,
// MarshalText and LogValue all give "[REDACTED]". Safe for concurrent use.
type Secret struct {
	fetch func(context.Context) (string, error)

	mu    sync.Mutex
	value string
	ok    bool
}

// StaticSecret returns a secret with a known value.
func StaticSecret(v string) *Secret { return &Secret{value: v, ok: true} }

// LazySecret returns a secret fetched by fetch on first use. A failed fetch
// is tried again on the next Get.
func LazySecret(fetch func(context.Context) (string, error)) *Secret {
	return &Secret{fetch: fetch}
}

// Get returns the secret's value, fetching it the first time.
func (s *Secret) Get(ctx context.Context) (string, error) {
	if s == nil {
		return "", errors.New("sinks: no secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok {
		return s.value, nil
	}
	v, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.value, s.ok = v, true
	return v, nil
}

const redacted = "[REDACTED]"

// String returns "[REDACTED]".
func (s *Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (s *Secret) GoString() string { return redacted }

// MarshalText returns "[REDACTED]".
func (s *Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns "[REDACTED]".
func (s *Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
