package persistence

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testPublisherPassword = "test-publisher-password"
	testClusterSecret     = "test-cluster-secret-of-32-bytes!"
)

// startListening starts an embedded server with a client port on loopback
// and returns it with a daemon connection; both end at cleanup.
func startListening(t *testing.T, cfg EmbeddedConfig) (*Embedded, *nats.Conn) {
	t.Helper()
	cfg.DataDir = t.TempDir()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.PublisherPassword == "" {
		cfg.PublisherPassword = testPublisherPassword
	}
	e, err := StartEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return e, nc
}

// asyncErrs collects the errors the server sends a connection (permission
// violations arrive this way, not as Publish errors).
func asyncErrs() (nats.Option, <-chan error) {
	ch := make(chan error, 16)
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case ch <- err:
		default:
		}
	}), ch
}

// wantViolation waits for a permissions violation naming subject.
func wantViolation(t *testing.T, errs <-chan error, subject string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), subject) {
				return
			}
			t.Logf("other async error: %v", err)
		case <-timeout:
			t.Fatalf("no permissions violation for %q", subject)
		}
	}
}

func TestEmbeddedRefusesUnauthenticated(t *testing.T) {
	e, _ := startListening(t, EmbeddedConfig{NodeName: "closed"})
	for _, tc := range []struct {
		name string
		opts []nats.Option
	}{
		{"no credentials", nil},
		{"wrong password", []nats.Option{nats.UserInfo(PublisherUser, "guess")}},
		{"daemon user, guessed password", []nats.Option{nats.UserInfo(DaemonUser, testPublisherPassword)}},
		{"route user", []nats.Option{nats.UserInfo(routeUser, routePassword(testClusterSecret))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := nats.Connect(e.ClientURL(), append(tc.opts, nats.NoReconnect())...)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("err = %v, want an Authorization Violation", err)
			}
		})
	}
}

// The publisher role reaches the publish requests and nothing else: every
// other publish is refused by the server and arrives nowhere, and
// subscriptions outside the reply inboxes are refused.
func TestEmbeddedPublisherRole(t *testing.T) {
	e, daemon := startListening(t, EmbeddedConfig{NodeName: "roles"})
	l := openJetStream(t, JetStreamConfig{Conn: daemon})
	mustAppend(t, l, "victim", drafts(1, "a")...)

	// The daemon side: a responder on the publish subject, and a catch-all
	// that must see nothing but the publish request.
	resp, err := daemon.QueueSubscribe(PublishPrefix+"*", "orgstream", func(m *nats.Msg) { _ = m.Respond([]byte(`{"seq":1}`)) })
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Unsubscribe()
	live, err := daemon.SubscribeSync(LivePrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Unsubscribe()
	if err := daemon.Flush(); err != nil {
		t.Fatal(err)
	}

	opt, errs := asyncErrs()
	pub, err := nats.Connect(e.ClientURL(), nats.UserInfo(PublisherUser, testPublisherPassword), opt, nats.PermissionErrOnSubscribe(true))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	m, err := pub.Request(PublishPrefix+"acme", []byte(`{"topic":"t","data":{}}`), 5*time.Second)
	if err != nil {
		t.Fatalf("request on %sacme: %v", PublishPrefix, err)
	}
	if string(m.Data) != `{"seq":1}` {
		t.Fatalf("reply %q", m.Data)
	}

	for _, subj := range []string{
		LivePrefix + "victim",
		EventsPrefix + "victim",
		PartitionSubjectPrefix(PartitionOf("victim", DefaultPartitions)) + "victim",
		HeadsPrefix + "victim",
		"$JS.API.STREAM.DELETE." + PartitionStream(0),
		"$JS.API.STREAM.PURGE." + PartitionStream(0),
		"$JS.API.STREAM.MSG.DELETE." + PartitionStream(0),
		DaemonInboxPrefix + ".forged",
		"_INBOX.someone-else",
	} {
		t.Run("publish "+subj, func(t *testing.T) {
			msg := nats.NewMsg(subj)
			msg.Data = []byte(`{"forged":true}`)
			msg.Header.Set(HeaderSeq, "2")
			msg.Header.Set("Nats-Stream", PartitionStream(PartitionOf("victim", DefaultPartitions)))
			if err := pub.PublishMsg(msg); err != nil {
				t.Fatal(err)
			}
			wantViolation(t, errs, subj)
		})
	}
	for _, subj := range []string{LivePrefix + ">", ">", EventsPrefix + "victim", DaemonInboxPrefix + ".>", "$JS.API.>"} {
		t.Run("subscribe "+subj, func(t *testing.T) {
			sub, err := pub.SubscribeSync(subj)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if _, err := sub.NextMsg(5 * time.Second); !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("NextMsg on %q: %v, want a permissions violation", subj, err)
			}
		})
	}

	// Nothing of that reached the daemon's live feed or changed the log.
	if m, err := live.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("the live feed received %q on %s", m.Data, m.Subject)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := l.Read(ctx, "victim", 1, 10)
	if err != nil || len(evs) != 1 || string(evs[0].Data) != `{"a":0}` {
		t.Fatalf("victim's log after the attempts: %v %+v", err, evs)
	}
}

// Not even the daemon's own user may write the live feed; JetStream's
// RePublish, done inside the server, still does.
func TestEmbeddedOnlyRePublishWritesLive(t *testing.T) {
	e, _ := startListening(t, EmbeddedConfig{NodeName: "live"})
	opt, errs := asyncErrs()
	daemon, err := e.Connect(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	l := openJetStream(t, JetStreamConfig{Conn: daemon})
	live, err := daemon.SubscribeSync(LivePrefix + "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Unsubscribe()
	if err := daemon.Flush(); err != nil {
		t.Fatal(err)
	}

	forged := nats.NewMsg(LivePrefix + "acme")
	forged.Header.Set(HeaderSeq, "1")
	forged.Data = []byte(`{"forged":true}`)
	if err := daemon.PublishMsg(forged); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, errs, LivePrefix+"acme")
	mustAppend(t, l, "acme", drafts(1, "a")...)
	m, err := live.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no republished event: %v", err)
	}
	if string(m.Data) != `{"a":0}` || m.Header.Get(HeaderSeq) != "1" {
		t.Fatalf("live feed got %q seq %s, want the stored event", m.Data, m.Header.Get(HeaderSeq))
	}
	if m, err := live.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("the live feed also received %q", m.Data)
	}
}

// A node with another cluster secret forms no route with the others, in
// either direction; the others form theirs. No secret reaches the logs.
func TestEmbeddedWrongClusterSecret(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	secrets := []string{testClusterSecret, testClusterSecret, "another-secret-entirely-32-bytes"}
	nodes := startRouted(t, "n", 3, func(i int, c *EmbeddedConfig) {
		c.ClusterSecret, c.Logger = secrets[i], zap.New(core)
	})
	// The intruder keeps trying every second; give it a few tries.
	time.Sleep(3 * time.Second)
	if n := nodes[2].Server().NumRoutes(); n != 0 {
		t.Fatalf("the node with another secret has %d routes", n)
	}
	for i := range 2 {
		rz, err := nodes[i].Server().Routez(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rz.Routes {
			if r.RemoteName == "n3" {
				t.Fatalf("n%d routes to n3", i+1)
			}
		}
	}
	for _, e := range logs.All() {
		text := e.Message
		for _, f := range e.Context {
			text += " " + f.String
		}
		for _, s := range append(secrets, routePassword(testClusterSecret), routePassword(secrets[2])) {
			if strings.Contains(text, s) {
				t.Fatalf("a log line holds a secret: %q", text)
			}
		}
	}
}

// With a certificate, the client port speaks TLS only; the daemon's
// in-process connection needs none.
func TestEmbeddedTLS(t *testing.T) {
	caFile, certFile, keyFile := writeTestPKI(t)
	e, daemon := startListening(t, EmbeddedConfig{NodeName: "tls", TLSCert: certFile, TLSKey: keyFile, TLSCA: caFile})
	if !daemon.IsConnected() {
		t.Fatal("in-process daemon connection not connected")
	}
	if nc, err := nats.Connect(e.ClientURL(), nats.UserInfo(PublisherUser, testPublisherPassword), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("connected without trusting the server's certificate")
	}
	nc, err := nats.Connect(e.ClientURL(), nats.UserInfo(PublisherUser, testPublisherPassword), nats.RootCAs(caFile))
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer nc.Close()
	if !nc.TLSRequired() {
		t.Fatal("the server does not require TLS")
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Fatalf("not a TLS connection: %v", err)
	}
}

// writeTestPKI writes a CA and a certificate for 127.0.0.1 signed by it.
func writeTestPKI(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "orgstream test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "orgstream node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// The daemon's user is refused over the network even with its password.
func TestEmbeddedDaemonUserInProcessOnly(t *testing.T) {
	e, _ := startListening(t, EmbeddedConfig{NodeName: "inproc"})
	nc, err := nats.Connect(e.ClientURL(), nats.UserInfo(DaemonUser, e.daemonPass), nats.NoReconnect())
	if err == nil {
		nc.Close()
		t.Fatal("the daemon's user connected over TCP")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("err = %v, want an Authorization Violation", err)
	}
}

// With TLS and a CA, routes are mutual TLS: nodes with certificates of the
// CA form routes; a node with the right secret but a certificate of
// another CA forms none, nor does one with the right secret and no TLS.
func TestEmbeddedRouteTLS(t *testing.T) {
	caFile, certFile, keyFile := writeTestPKI(t)
	_, otherCert, otherKey := writeTestPKI(t)
	certs := [][2]string{{certFile, keyFile}, {certFile, keyFile}, {otherCert, otherKey}, {}}
	nodes := startRouted(t, "t", 4, func(i int, c *EmbeddedConfig) {
		c.TLSCert, c.TLSKey = certs[i][0], certs[i][1]
		if c.TLSCert != "" {
			c.TLSCA = caFile
		}
	})
	time.Sleep(3 * time.Second)
	if n := nodes[2].Server().NumRoutes(); n != 0 {
		t.Fatalf("the node with another CA's certificate has %d routes", n)
	}
	if n := nodes[3].Server().NumRoutes(); n != 0 {
		t.Fatalf("the node without TLS has %d routes", n)
	}
}

// startRouted starts k clustered nodes named prefix1…prefixk, each routed to
// all, with the test's secret and publisher password unless set changes
// them; it waits until nodes 1 and 2 (which the tests keep compatible) have
// formed a route. They are shut down at cleanup.
func startRouted(t *testing.T, prefix string, k int, set func(i int, c *EmbeddedConfig)) []*Embedded {
	t.Helper()
	addrs := make([]string, k)
	routes := make([]string, k)
	for i := range addrs {
		addrs[i] = freeAddr(t)
		routes[i] = "nats://" + addrs[i]
	}
	nodes := make([]*Embedded, k)
	for i := range nodes {
		c := EmbeddedConfig{
			DataDir: t.TempDir(), Listen: "127.0.0.1:0", NodeName: prefix + strconv.Itoa(i+1),
			ClusterListen: addrs[i], Routes: routes, ClusterSecret: testClusterSecret,
			PublisherPassword: testPublisherPassword,
		}
		set(i, &c)
		e, err := StartEmbedded(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		nodes[i] = e
	}
	deadline := time.Now().Add(10 * time.Second)
	for nodes[0].Server().NumRoutes() == 0 || nodes[1].Server().NumRoutes() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s1 and %s2 formed no route", prefix, prefix)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nodes
}
