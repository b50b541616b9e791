package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// PROTOCOL.md "Names"/"event": an org is a tenant; its seqs are its own and
// its events never reach another org's clients, even the same user's.
func TestOrgIsolation(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "*", "backend", time.Hour, true)
	orgs := []string{"tenant-a", "tenant-b", "Tenant_A"} // case matters
	clients := map[string]*testkit.Client{}
	for _, org := range orgs {
		clients[org], _ = subscriber(ctx, t, n, org, "same-user")
	}
	counts := map[string]uint64{}
	for i := range 30 {
		org := orgs[i%len(orgs)]
		if i%4 == 0 {
			org = orgs[0] // uneven
		}
		counts[org]++
		seq := testkit.PublishEvent(t, n.BaseURL(), org, pub, "t", fmt.Sprintf(`{"org":%q,"n":%d}`, org, counts[org]))
		if seq != counts[org] {
			t.Fatalf("%s: seq %d, want %d (seqs are per org)", org, seq, counts[org])
		}
	}
	for _, org := range orgs {
		evs, err := clients[org].CollectEvents(ctx, int(counts[org]))
		if err != nil {
			t.Fatalf("%s: %v", org, err)
		}
		for k, e := range evs {
			want := fmt.Sprintf(`{"org":%q,"n":%d}`, org, k+1)
			if e.Seq != uint64(k+1) || string(e.Data) != want {
				t.Fatalf("%s client got %s, want seq %d data %s", org, e.Raw, k+1, want)
			}
		}
		// Nothing else is pending: the next frame is the org's own next event.
		expectLive(ctx, t, n, clients[org], org, counts[org]+1)
	}
}
