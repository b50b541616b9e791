package node

import (
	"errors"
	"fmt"
	"testing"

	"github.com/orgstream/orgstream/persistence"
	"github.com/orgstream/orgstream/transport"
)

func TestPublishErr(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error // the transport sentinel; nil: none (503 log_unavailable)
	}{
		{"too large", fmt.Errorf("%w: draft 0", persistence.ErrTooLarge), transport.ErrPublishTooLarge},
		{"outcome unknown", fmt.Errorf("actors: append: %w", persistence.ErrOutcomeUnknown), transport.ErrOutcomeUnknown},
		{"unavailable", fmt.Errorf("actors: %w", persistence.ErrUnavailable), nil},
		{"conflict", persistence.ErrConflict, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := publishErr(tc.err)
			if !errors.Is(got, tc.err) {
				t.Fatalf("%v does not wrap %v", got, tc.err)
			}
			for _, s := range []error{transport.ErrPublishTooLarge, transport.ErrOutcomeUnknown} {
				if errors.Is(got, s) != (s == tc.want) {
					t.Fatalf("publishErr(%v) = %v, want %v", tc.err, got, tc.want)
				}
			}
		})
	}
	if publishErr(nil) != nil {
		t.Fatal("publishErr(nil) != nil")
	}
}
