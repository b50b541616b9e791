package node_test

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// PROTOCOL.md "Operating" and "Publishing": while the store is unreachable
// /readyz is 503, publishes get 503 with a JSON body and add nothing, new
// streams are refused with 503; once it is back the node is ready again,
// seqs continue without a hole, and a subscriber that was open all along
// (resuming if it was closed) sees every seq once.
func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	opts := server.Options{
		ServerName: "external",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
	}
	var nsMu sync.Mutex
	var ns *server.Server
	startNS := func(o server.Options) {
		t.Helper()
		s, err := server.NewServer(&o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(20 * time.Second) {
			s.Shutdown()
			t.Fatal("nats-server not ready")
		}
		nsMu.Lock()
		ns = s
		nsMu.Unlock()
	}
	stopNS := func() {
		nsMu.Lock()
		defer nsMu.Unlock()
		if ns != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
			ns = nil
		}
	}
	startNS(opts)
	t.Cleanup(stopNS)
	url := ns.ClientURL()
	opts.Port = ns.Addr().(*net.TCPAddr).Port // the same address when it comes back

	n := testkit.StartNode(t, func(c *node.Config) { c.NATSURL = url })
	ctx := ctxFor(t, 2*phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 5)

	var finalMu sync.Mutex
	var final uint64
	f := &testkit.Follower{URL: resumeURLs(t, n, "acme", "alice")}
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, func(last uint64) bool {
			finalMu.Lock()
			defer finalMu.Unlock()
			return final != 0 && last >= final
		})
	}()
	waitFor(t, phase, "the follower connected", func() bool { return n.Metrics().Connections.Load() == 1 })
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 3) // 6..8, live
	waitFor(t, phase, "live events", func() bool { return f.Last() == 8 })

	// The store goes away.
	stopNS()
	waitFor(t, phase, "readyz 503", func() bool {
		st, _ := get(t, n.BaseURL()+"/readyz")
		return st == http.StatusServiceUnavailable
	})
	for range 3 {
		st, b := testkit.Publish(t, n.BaseURL(), "acme", pub, testkit.EventBody("t", `{"lost":true}`, ""))
		if st != http.StatusServiceUnavailable {
			t.Fatalf("publish without a store: %d %s, want 503", st, b)
		}
		decodeError(t, b)
	}
	resp, body := upgradeRequest(t, n.StreamURL(n.Token(t, "acme", "bob", time.Hour, false), nil), nil, false)
	expectRefused(t, resp, body, http.StatusServiceUnavailable)
	if st, _ := get(t, n.BaseURL()+"/healthz"); st != 200 {
		t.Errorf("healthz without a store: %d, want 200 (the process lives)", st)
	}

	// It comes back: ready again, seqs continue at 9.
	startNS(opts)
	waitFor(t, phase, "readyz 200", func() bool {
		st, _ := get(t, n.BaseURL()+"/readyz")
		return st == http.StatusOK
	})
	var seqs []uint64
	waitFor(t, phase, "publishing again", func() bool {
		st, b := testkit.Publish(t, n.BaseURL(), "acme", pub, testkit.BatchBody("y", 4))
		if st == http.StatusServiceUnavailable {
			return false // JetStream may need a moment after the reconnect
		}
		if st != http.StatusCreated {
			t.Fatalf("publish after the store came back: %d %s", st, b)
		}
		var a testkit.SeqAnswer
		_ = json.Unmarshal(b, &a)
		seqs = a.Seqs
		return true
	})
	testkit.AssertRange(t, seqs, 9, 12)
	finalMu.Lock()
	final = 12
	finalMu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testkit.AssertRange(t, f.Seqs(), 6, 12)
	if codes := f.CloseCodes(); len(codes) > 0 {
		t.Logf("the follower was closed with %v and resumed", codes)
	}
	for _, c := range f.CloseCodes() {
		if c == -1 {
			t.Errorf("the follower was dropped without a close code")
		}
	}
}
