package node_test

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// PROTOCOL.md "Resume": an epoch that differs from the current one, or
// last_seq > head, gives welcome resumed:false, a reset (epoch_changed,
// invalid_position) naming the oldest retained seq, then live events from
// head on.
func TestResetReasons(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 10)
	head := uint64(10)
	settle(t, n, "acme", head)

	// An epoch from another generation of the log: a store that was wiped.
	other := testkit.StartNode(t, nil)
	if other.Epoch() == n.Epoch() {
		t.Fatalf("two fresh stores share the epoch %s", n.Epoch())
	}
	cases := []struct {
		name   string
		last   func(head uint64) uint64
		epoch  string
		reason string
	}{
		{"epoch of a wiped store", fixed(4), other.Epoch(), "epoch_changed"},
		{"made-up epoch", fixed(4), "e-bogus", "epoch_changed"},
		{"made-up epoch, last_seq 0", fixed(0), "e-bogus", "epoch_changed"},
		{"last_seq head+1", func(h uint64) uint64 { return h + 1 }, n.Epoch(), "invalid_position"},
		{"last_seq far past head", fixed(1 << 40), n.Epoch(), "invalid_position"},
		{"last_seq max uint64", fixed(^uint64(0)), n.Epoch(), "invalid_position"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := expectReset(ctx, t, n, "acme", tc.last(head), tc.epoch, tc.reason, 1, head)
			head++
			expectLive(ctx, t, n, c, "acme", head)
		})
	}
	// And the control: the current epoch at head resumes with an empty replay.
	c := expectResumed(ctx, t, n, "acme", head, n.Epoch(), head)
	expectLive(ctx, t, n, c, "acme", head+1)
}

func fixed(v uint64) func(uint64) uint64 { return func(uint64) uint64 { return v } }
