package persistence

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// OpenJetStream keeps trying while JetStream is not ready (a forming
// cluster answers with these), and gives up at once on a real refusal.
func TestRetryableOpen(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no responders", nats.ErrNoResponders, true},
		{"timeout", fmt.Errorf("create: %w", context.DeadlineExceeded), true},
		{"jetstream not enabled", jetstream.ErrJetStreamNotEnabled, true},
		{"cluster not available", &jetstream.APIError{Code: 503, ErrorCode: 10008}, true},
		{"no suitable peers (forming cluster)", &jetstream.APIError{Code: 400, ErrorCode: 10005}, true},
		{"bad request", &jetstream.APIError{Code: 400, ErrorCode: 10003}, false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryableOpen(tt.err); got != tt.want {
				t.Fatalf("retryableOpen(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
