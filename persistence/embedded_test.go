package persistence

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestStartEmbeddedConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     EmbeddedConfig
		wantErr string
		wantURL string // regexp; "" = no client URL
	}{
		{name: "no listener", cfg: EmbeddedConfig{Listen: ListenOff}},
		{name: "free port", cfg: EmbeddedConfig{Listen: "127.0.0.1:0", PublisherPassword: testPublisherPassword}, wantURL: `^nats://127\.0\.0\.1:[1-9][0-9]*$`},
		{name: "listener without publisher password", cfg: EmbeddedConfig{Listen: "127.0.0.1:0"}, wantErr: "PublisherPassword"},
		{name: "bcrypt-like publisher password", cfg: EmbeddedConfig{Listen: "127.0.0.1:0", PublisherPassword: "$2a$11$abc"}, wantErr: "bcrypt"},
		{name: "cluster without secret", cfg: EmbeddedConfig{Listen: "127.0.0.1:0", PublisherPassword: testPublisherPassword, ClusterListen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}}, wantErr: "ClusterSecret"},
		{name: "TLS key without cert", cfg: EmbeddedConfig{Listen: "127.0.0.1:0", PublisherPassword: testPublisherPassword, TLSKey: "key.pem"}, wantErr: "certificate and a key"},
		{name: "TLS CA alone", cfg: EmbeddedConfig{Listen: "127.0.0.1:0", PublisherPassword: testPublisherPassword, TLSCA: "ca.pem"}, wantErr: "CA needs"},
		{name: "cluster without listener", cfg: EmbeddedConfig{Listen: ListenOff, ClusterListen: "127.0.0.1:0"}, wantErr: "client listener"},
		{name: "cluster without routes", cfg: EmbeddedConfig{Listen: "127.0.0.1:0", PublisherPassword: testPublisherPassword, ClusterListen: "127.0.0.1:0", ClusterSecret: "s"}, wantErr: "Routes"},
		{name: "advertise without cluster", cfg: EmbeddedConfig{Listen: ListenOff, ClusterAdvertise: "10.0.0.5:6222"}, wantErr: "ClusterAdvertise needs ClusterListen"},
		{name: "advertise port 0", cfg: EmbeddedConfig{Listen: "127.0.0.1:0", PublisherPassword: testPublisherPassword, ClusterListen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}, ClusterSecret: "s", ClusterAdvertise: "10.0.0.5:0"}, wantErr: "ClusterAdvertise"},
		{name: "routes without cluster", cfg: EmbeddedConfig{Listen: ListenOff, Routes: []string{"nats://127.0.0.1:1"}}, wantErr: "ClusterListen"},
		{name: "bad listen", cfg: EmbeddedConfig{Listen: "nonsense"}, wantErr: "Listen"},
		{name: "bad port", cfg: EmbeddedConfig{Listen: "127.0.0.1:99999"}, wantErr: "bad port"},
		{name: "no data dir", cfg: EmbeddedConfig{Listen: ListenOff}, wantErr: "DataDir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if tc.name != "no data dir" {
				cfg.DataDir = t.TempDir()
			}
			e, err := StartEmbedded(cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Shutdown()
			if tc.wantURL == "" {
				if e.ClientURL() != "" {
					t.Fatalf("ClientURL = %q, want none", e.ClientURL())
				}
			} else if !regexp.MustCompile(tc.wantURL).MatchString(e.ClientURL()) {
				t.Fatalf("ClientURL = %q, want %s", e.ClientURL(), tc.wantURL)
			}
			// In-process connections work with or without a listener.
			nc, err := e.Connect()
			if err != nil {
				t.Fatal(err)
			}
			l := openJetStream(t, JetStreamConfig{Conn: nc})
			mustAppend(t, l, "acme", drafts(1, "a")...)
			_ = l.Close()
			nc.Close()
			if u := e.ClientURL(); u != "" {
				tcp, err := nats.Connect(u, nats.UserInfo(PublisherUser, testPublisherPassword))
				if err != nil {
					t.Fatalf("connect over TCP to %s: %v", u, err)
				}
				tcp.Close()
			}
			e.Shutdown()
			e.Shutdown()
		})
	}
}

func TestEmbeddedLogsToZap(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	e, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), Listen: ListenOff, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	e.Shutdown()
	if logs.FilterLoggerName("nats").FilterLevelExact(zapcore.InfoLevel).Len() == 0 {
		t.Fatal("no server notice reached zap at Info")
	}
	if n := logs.FilterLevelExact(zapcore.DebugLevel).Len(); n != 0 {
		t.Fatalf("%d debug entries: debug and trace should be off", n)
	}
}

// Three embedded nodes joined by routes, the log replicated (R3): every node
// sees the same epoch and events, and writers on different nodes arbitrate
// through the log.
func TestEmbeddedClusterR3(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster formation takes seconds")
	}
	nodes := startCluster3(t)
	logs := make([]*JetStreamLog, len(nodes))
	for i, e := range nodes {
		logs[i] = openJetStream(t, JetStreamConfig{Conn: connect(t, e), Replicas: 3})
	}
	for _, l := range logs[1:] {
		if l.Epoch() != logs[0].Epoch() {
			t.Fatalf("epochs differ: %q vs %q", l.Epoch(), logs[0].Epoch())
		}
	}
	ctx := ctxT(t)
	done := make(chan error, len(logs))
	for i, l := range logs {
		go func() {
			for k := range 10 {
				if _, err := appendRetrying(ctx, l, "acme", drafts(1+k%2, string(rune('a'+i)))); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range logs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// A client that read seq N on one node and resumes on another must find
	// a head of at least N there, however far that node's replica lags: one
	// writer per node, each checking another node's LeaderHead after every ack.
	const rounds = 60
	for i := range logs {
		go func() {
			for k := range rounds {
				res, err := appendRetrying(ctx, logs[i], "acme", drafts(20, "b"))
				if err != nil {
					done <- err
					return
				}
				if head, err := logs[(i+1)%3].LeaderHead(ctx, "acme"); err != nil || head < res.Head.Seq {
					done <- fmt.Errorf("round %d: LeaderHead on node %d = head %d, %v, after seq %d was acked", k, (i+1)%3, head, err, res.Head.Seq)
					return
				}
			}
			done <- nil
		}()
	}
	for range logs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	const total = 45 + 3*rounds*20
	for i, l := range logs {
		var evs []uint64
		eventually(t, 5*time.Second, "replicas to catch up", func() bool {
			got, err := l.Read(ctx, "acme", 1, total)
			evs = seqsOf(got)
			return err == nil && len(got) == total
		})
		if want := seqRange(1, total); !equalU(evs, want) {
			t.Fatalf("node %d reads %v", i, evs)
		}
	}
}

// startCluster3 starts three clustered embedded nodes n1, n2, n3; they are
// shut down at cleanup.
func startCluster3(t testing.TB) []*Embedded {
	t.Helper()
	var addrs, routes []string
	for range 3 {
		a := freeAddr(t)
		addrs, routes = append(addrs, a), append(routes, "nats://"+a)
	}
	nodes := make([]*Embedded, len(addrs))
	for i, a := range addrs {
		e, err := StartEmbedded(EmbeddedConfig{
			DataDir: t.TempDir(), Listen: "127.0.0.1:0", NodeName: fmt.Sprintf("n%d", i+1),
			ClusterListen: a, Routes: routes, ClusterSecret: testClusterSecret, PublisherPassword: testPublisherPassword,
			// Generous: under make test's load a clustered server has
			// taken over the default 10 s to accept connections.
			ReadyTimeout: 45 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		nodes[i] = e
	}
	return nodes
}

// freeAddr is a loopback address with a port free right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ListenFallback: with the client port taken, the server listens on a free
// one (and says so); without it, the start fails.
func TestEmbeddedListenFallback(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()

	if e, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), Listen: addr, NodeName: "strict", PublisherPassword: testPublisherPassword}); err == nil {
		e.Shutdown()
		t.Fatalf("started on the taken %s without ListenFallback", addr)
	}

	core, logs := observer.New(zapcore.WarnLevel)
	e, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), Listen: addr, ListenFallback: true,
		NodeName: "fallback", PublisherPassword: testPublisherPassword, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	if u := e.ClientURL(); u == "" || strings.HasSuffix(u, ":"+strings.Split(addr, ":")[1]) {
		t.Fatalf("ClientURL %q, want another port than the taken %s", u, addr)
	}
	if logs.FilterMessageSnippet("port taken").Len() != 1 {
		t.Fatalf("no warning about the taken port: %v", logs.All())
	}
}

// TestEmbeddedClusterAdvertise: ClusterAdvertise becomes nats-server's
// cluster.advertise (what the route gossip tells the others), and the
// listen address stays the one bound.
func TestEmbeddedClusterAdvertise(t *testing.T) {
	cfg := EmbeddedConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", PublisherPassword: testPublisherPassword,
		ClusterListen: "127.0.0.1:6222", ClusterSecret: "s", Routes: []string{"nats://127.0.0.1:6223"},
		ClusterAdvertise: "10.0.0.5:16222"}
	opts, err := cfg.serverOptions("daemon-pass")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Cluster.Advertise != "10.0.0.5:16222" || opts.Cluster.Host != "127.0.0.1" || opts.Cluster.Port != 6222 {
		t.Fatalf("cluster opts: advertise %q host %q port %d", opts.Cluster.Advertise, opts.Cluster.Host, opts.Cluster.Port)
	}
}
