package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/orgstream/orgstream/internal/testkit"
)

// TestSIGTERMDrain: on SIGTERM every connected client is closed with 1001,
// /readyz answers 503 and new streams are refused while draining, the
// process exits 0 within the drain period plus a grace, and the log is
// intact for the next start.
func TestSIGTERMDrain(t *testing.T) {
	closeIdle(t)
	const org, clients, events = "acme", 5, 20
	const drain = time.Second // startDaemon's --drain-period
	d := startDaemon(t, spec{})
	secret := d.secret(t)
	pub := testkit.Token(t, secret, org, "backend", time.Hour, true)
	sub := testkit.Token(t, secret, org, "alice", time.Hour, false)
	ctx := phase(t)

	cs := make([]*testkit.Client, clients)
	var epoch string
	for i := range cs {
		cs[i] = testkit.Dial(ctx, t, testkit.StreamURL(d.Base, sub, nil), nil)
		epoch = cs[i].ExpectWelcome(ctx).Epoch
	}
	for i := range events {
		testkit.PublishEvent(t, d.Base, org, pub, "t", eventData(0, i))
	}

	// Each client reads the events, then waits for the close.
	codes := make([]websocket.StatusCode, clients)
	readErrs := make([]error, clients)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			if _, err := c.CollectSeqs(ctx, events); err != nil {
				readErrs[i] = err
				return
			}
			codes[i], _ = c.ReadUntilClose(ctx)
		})
	}

	// Watch readiness during the drain.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var saw503 bool
	var watch sync.WaitGroup
	watch.Go(func() {
		client := &http.Client{Timeout: time.Second}
		defer client.CloseIdleConnections()
		for watchCtx.Err() == nil {
			resp, err := client.Get(d.Base + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					saw503 = true
					// Draining: a new stream must be refused before the upgrade.
					c, resp, err := testkit.DialErr(watchCtx, testkit.StreamURL(d.Base, sub, nil), nil)
					switch {
					case err == nil:
						c.Close()
						t.Errorf("a stream was accepted after /readyz answered 503")
					case resp != nil && resp.StatusCode != http.StatusServiceUnavailable:
						t.Errorf("stream dial while draining: status %d, want 503", resp.StatusCode)
					}
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	code, took, err := d.Terminate(drain + 10*time.Second)
	stopWatch()
	watch.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	t.Logf("exited %d in %s after SIGTERM; /readyz 503 observed: %v", code, took, saw503)
	wg.Wait()
	for i := range cs {
		if readErrs[i] != nil {
			t.Errorf("client %d: %v", i, readErrs[i])
		} else if codes[i] != websocket.StatusGoingAway {
			t.Errorf("client %d closed with %d, want 1001", i, codes[i])
		}
	}

	// Flushed: a restart resumes from 0 with every event.
	d2 := startDaemon(t, spec{DataDir: d.DataDir})
	ctx2 := phase(t)
	c, w := resume(ctx2, t, d2, sub, 0, epoch)
	if w.Head != events {
		t.Fatalf("welcome after SIGTERM and restart: %s, want head %d", w.Raw, events)
	}
	seqs, err := c.CollectSeqs(ctx2, events)
	if err != nil {
		t.Fatal(err)
	}
	testkit.AssertAll(t, seqs, events)
}
