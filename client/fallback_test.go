package client

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// FallbackURLs: with the first node gone (nothing listens on URL), the
// client moves on to the next URL and follows the org there; a 4008 or 4001
// would have kept it on the same node (movesOn).
func TestFallbackURLs(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + l.Addr().String() + "/v2/realtime/stream"
	_ = l.Close() // nothing listens there any more

	cfg := nodeConfig(t, n, "fallback", "alice")
	live := cfg.URL
	cfg.URL, cfg.FallbackURLs = dead, []string{live}
	r := start(t, cfg)
	waitFor(t, "open on the fallback", func() bool { return r.State() == Open })
	pub := n.Token(t, "fallback", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "fallback", pub, "t", 5)
	waitFor(t, "5 events", func() bool { return r.rec.lastSeq() == 5 })
	checkStream(t, r, 1, 5)
	if codes := r.rec.closeCodes(); len(codes) == 0 || codes[0] != 0 {
		t.Errorf("close codes %v: want a failed attempt (0) on the dead URL first", codes)
	}
}

func TestMovesOn(t *testing.T) {
	for _, tt := range []struct {
		e    ending
		want bool
	}{
		{ending{}, true}, // dial failed
		{ending{status: 503}, true},
		{ending{code: CloseGoingAway, welcomed: true}, true},
		{ending{code: CloseAbnormal, welcomed: true}, true},
		{ending{code: CloseTokenExpired, welcomed: true}, false},
		{ending{code: CloseSlowConsumer, welcomed: true}, false},
		{ending{code: CloseTooMany}, false},
	} {
		if got := movesOn(tt.e); got != tt.want {
			t.Errorf("movesOn(%+v) = %v, want %v", tt.e, got, tt.want)
		}
	}
}

func TestFallbackURLsInvalid(t *testing.T) {
	_, err := New(Config{URL: "ws://127.0.0.1:1/x", FallbackURLs: []string{"http://127.0.0.1:2/x"}, Token: "t"})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New with an http fallback: %v, want ErrInvalidConfig", err)
	}
}
