package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// PROTOCOL.md "event": within an org, seqs are 1, 2, 3, … with no holes and
// no reuse; "Publishing": a batch gets consecutive seqs. Several publishers
// race over HTTP (single events and batches) into three orgs; every acked
// seq is unique, together they are 1..N per org, and every subscriber sees
// 1..N in order.
func TestSeqsUnderConcurrentPublishers(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	orgs := []string{"org-a", "org-b", "org_c"}
	pub := n.Token(t, "*", "backend", time.Hour, true)

	subs := map[string][]*testkit.Client{}
	for _, org := range orgs {
		for i := range 2 {
			c, w := subscriber(ctx, t, n, org, fmt.Sprintf("u%d", i))
			if w.Head != 0 {
				t.Fatalf("fresh org %s has head %d", org, w.Head)
			}
			subs[org] = append(subs[org], c)
		}
	}

	const publishers, rounds = 6, 12
	var mu sync.Mutex
	acked := map[string][]uint64{}
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for r := range rounds {
				org := orgs[(p+r)%len(orgs)]
				size := 0 // single event
				if r%2 == 1 {
					size = 1 + (p*7+r)%20
				}
				body := testkit.EventBody("t", fmt.Sprintf(`{"p":%d,"r":%d}`, p, r), "")
				if size > 0 {
					body = testkit.BatchBody("t", size)
				}
				st, b, err := testkit.Post(ctx, n.BaseURL(), org, pub, body)
				if err != nil || st != http.StatusCreated {
					errs <- fmt.Errorf("publisher %d round %d: %d %s %v", p, r, st, b, err)
					return
				}
				var a testkit.SeqAnswer
				if err := json.Unmarshal(b, &a); err != nil {
					errs <- err
					return
				}
				got := a.Seqs
				if size == 0 {
					got = []uint64{a.Seq}
				}
				if len(got) != max(size, 1) {
					errs <- fmt.Errorf("batch of %d got %d seqs: %s", size, len(got), b)
					return
				}
				for i := 1; i < len(got); i++ {
					if got[i] != got[i-1]+1 {
						errs <- fmt.Errorf("batch seqs not consecutive: %v", got)
						return
					}
				}
				mu.Lock()
				acked[org] = append(acked[org], got...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for _, org := range orgs {
		seqs := slices.Clone(acked[org])
		slices.Sort(seqs)
		total := uint64(len(seqs))
		if err := testkit.CheckRange(seqs, 1, total); err != nil {
			t.Fatalf("acked seqs of %s: %v", org, err)
		}
		for i, c := range subs[org] {
			got, err := c.CollectSeqs(ctx, int(total))
			if err != nil {
				t.Fatalf("%s subscriber %d: %v", org, i, err)
			}
			if err := testkit.CheckRange(got, 1, total); err != nil {
				t.Fatalf("%s subscriber %d: %v", org, i, err)
			}
		}
		if h, _ := n.Head(t, org); h != total {
			t.Errorf("%s head %d, want %d", org, h, total)
		}
	}
}
