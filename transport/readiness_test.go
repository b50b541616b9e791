package transport

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// While only the log cannot take writes, /readyz says 503 log_unavailable,
// but a stream is still accepted and a publish still reaches the Publisher
// (which acknowledges it, or answers 503 itself).
func TestLogUnavailableStillServes(t *testing.T) {
	env := newTestEnv(t, nil)
	env.ready.set(fmt.Errorf("%w: stream has no leader", ErrLogUnavailable))
	defer env.ready.set(nil)

	resp, body := get(t, env, "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != `{"status":"log_unavailable","code":"log_unavailable"}` {
		t.Fatalf("/readyz: %d %s, want 503 log_unavailable", resp.StatusCode, body)
	}

	c, resp, err := dialStream(t, env, "?access_token="+issue(t, "acme", "alice", "", time.Hour), nil)
	if err != nil {
		t.Fatalf("stream refused while only the log is unwritable: %v", err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("stream: status %d", resp.StatusCode)
	}
	env.streams.expectOpened(t)

	before := env.pub.callCount()
	resp, body = postEvents(t, env, "acme", issue(t, "acme", "svc", "publish", time.Hour), oneEvent, nil)
	if resp.StatusCode != http.StatusCreated || env.pub.callCount() != before+1 {
		t.Fatalf("publish: %d %s, publisher called %d times", resp.StatusCode, body, env.pub.callCount()-before)
	}
}
