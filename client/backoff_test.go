package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		e         ending
		tokenFunc bool
		want      action
	}{
		{"400 bad query", ending{status: 400}, true, actStop},
		{"403 origin", ending{status: 403}, true, actStop},
		{"426", ending{status: 426}, false, actStop},
		{"401 static token", ending{status: 401}, false, actStop},
		{"401 with TokenFunc", ending{status: 401}, true, actBackoff},
		{"408", ending{status: 408}, false, actBackoff},
		{"429", ending{status: 429}, false, actTooMany},
		{"503 draining", ending{status: 503}, false, actBackoff},
		{"502", ending{status: 502}, false, actBackoff},
		{"network error", ending{}, false, actBackoff},
		{"abnormal end after welcome", ending{welcomed: true}, false, actBackoff},
		{"1000 from the server", ending{code: 1000, welcomed: true}, false, actBackoff},
		{"1001 drain", ending{code: 1001, welcomed: true}, false, actNow},
		{"1001 before the welcome", ending{code: 1001}, false, actBackoff},
		{"4008 slow", ending{code: 4008, welcomed: true}, false, actNow},
		{"4001 static token", ending{code: 4001, welcomed: true}, false, actStop},
		{"4001 with TokenFunc", ending{code: 4001, welcomed: true}, true, actNow},
		{"4029", ending{code: 4029}, true, actTooMany},
		{"1008", ending{code: 1008, welcomed: true}, true, actStop},
		{"1009", ending{code: 1009, welcomed: true}, true, actStop},
		{"1011 replay failed", ending{code: 1011, welcomed: true}, true, actBackoff},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(tc.e, tc.tokenFunc); got != tc.want {
				t.Fatalf("decide(%+v, tokenFunc=%v) = %v, want %v", tc.e, tc.tokenFunc, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	cfg := Config{URL: "ws://x/", Token: "t"}
	if _, err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	top := func(n int64) int64 { return n - 1 } // the largest draw
	zero := func(int64) int64 { return 0 }      // the smallest
	cases := []struct {
		name    string
		a       action
		attempt int
		randN   func(int64) int64
		want    time.Duration
	}{
		{"first failure, top draw", actBackoff, 0, top, 100*time.Millisecond - 1},
		{"first failure, zero draw", actBackoff, 0, zero, 0},
		{"doubles", actBackoff, 3, top, 800*time.Millisecond - 1},
		{"capped at BackoffMax", actBackoff, 7, top, 10*time.Second - 1},
		{"no overflow", actBackoff, 1000, top, 10*time.Second - 1},
		{"4029: at least half the base", actTooMany, 0, zero, 2500 * time.Millisecond},
		{"4029: top draw", actTooMany, 0, top, 5*time.Second - 1},
		{"4029: doubles up to BackoffMax", actTooMany, 1, zero, 5 * time.Second},
		{"4029: capped", actTooMany, 5, top, 10*time.Second - 1},
		{"now", actNow, 9, top, 0},
		{"stop", actStop, 9, top, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cfg.backoff(tc.a, tc.attempt, tc.randN); got != tc.want {
				t.Fatalf("backoff = %v, want %v", got, tc.want)
			}
		})
	}
	// BackoffTooMany above BackoffMax is its own ceiling.
	big := Config{URL: "ws://x/", Token: "t", BackoffMax: time.Second, BackoffTooMany: 3 * time.Second}
	if _, err := big.validate(); err != nil {
		t.Fatal(err)
	}
	if got := big.backoff(actTooMany, 4, top); got != 3*time.Second-1 {
		t.Fatalf("4029 with BackoffTooMany > BackoffMax: %v", got)
	}
}

func TestExpo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base, ceiling time.Duration
		attempt       int
		want          time.Duration
	}{
		{time.Millisecond, time.Second, 0, time.Millisecond},
		{time.Millisecond, time.Second, 10, time.Second},
		{1 << 62, 1<<63 - 1, 5, 1<<63 - 1},
		{time.Second, time.Second, 3, time.Second},
	} {
		if got := expo(tc.base, tc.ceiling, tc.attempt); got != tc.want {
			t.Errorf("expo(%v, %v, %d) = %v, want %v", tc.base, tc.ceiling, tc.attempt, got, tc.want)
		}
	}
}

// TestRunBackoffSequence drives Run's loop against a closed port with the
// wait replaced (nothing sleeps): each failure waits the next full-jitter
// step, up to BackoffMax, and the attempt count keeps growing.
func TestRunBackoffSequence(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // refused from now on
	c, err := New(Config{URL: "ws://" + addr + "/v2/realtime/stream", Token: "t",
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.randN = func(n int64) int64 { return n - 1 }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	c.wait = func(_ context.Context, d time.Duration) bool {
		waits = append(waits, d)
		if len(waits) == 7 {
			cancel()
			return false
		}
		return true
	}
	if err := c.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i := range want {
		want[i] = want[i]*time.Millisecond - 1
	}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if st := c.Stats(); st.Dials != 7 || st.Reconnects != 6 {
		t.Fatalf("stats %+v", st)
	}
}
