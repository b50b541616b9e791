// Package ctxwait waits for a duration or a context, whichever ends first:
// the one helper for retry and backoff loops across the daemon, the client
// and the harness.
package ctxwait

import (
	"context"
	"time"
)

// Sleep waits d unless ctx ends first; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
