package e2e

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/persistence"
)

// TestEmbeddedNATSPublish: with --nats-listen 127.0.0.1:0 the daemon logs
// the embedded server's nats://127.0.0.1:PORT; a connection without the
// credentials that `orgstream nats-creds` prints is refused; a backend with
// them publishes with a request on orgstream.publish.<org>, gets
// {"seq":N} back, a stream client receives the event, and the same backend
// cannot write the live feed.
func TestEmbeddedNATSPublish(t *testing.T) {
	closeIdle(t)
	d := startDaemon(t, spec{}) // --nats-listen 127.0.0.1:0
	natsURL := d.NATSURL()
	if natsURL == "" {
		t.Fatal("the daemon did not log nats://127.0.0.1:PORT at start")
	}
	secret := d.secret(t)
	ctx := phase(t)
	c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, testkit.Token(t, secret, "acme", "alice", time.Hour, false), nil), nil)
	c.ExpectWelcome(ctx)

	if nc, err := nats.Connect(natsURL, nats.Name("e2e anonymous"), nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connect without credentials: %v, want an Authorization Violation", err)
	}
	out, errOut, code := runCLI(t, nil, "nats-creds", "--data-dir", d.DataDir)
	user, pass, ok := strings.Cut(strings.TrimSuffix(out, "\n"), ":")
	if code != 0 || !ok || user != "publisher" || len(pass) < 32 || strings.Contains(pass, "\n") {
		t.Fatalf("orgstream nats-creds: exit %d, stdout %q, stderr %q; want one line publisher:PASSWORD", code, out, errOut)
	}
	if strings.Contains(d.Output(), pass) {
		t.Fatal("the daemon's output holds the publisher password")
	}
	forgeErrs := make(chan error, 4)
	nc, err := nats.Connect(natsURL, nats.Name("e2e backend"), nats.UserInfo(user, pass),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case forgeErrs <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("connect to the logged %s: %v", natsURL, err)
	}
	defer nc.Close()
	const data = `{"via": "nats"}`
	reply, err := nc.Request("orgstream.publish.acme", []byte(testkit.EventBody("orders.nats", data, "")), 30*time.Second)
	if err != nil {
		t.Fatalf("request on orgstream.publish.acme: %v", err)
	}
	var a testkit.SeqAnswer
	if err := json.Unmarshal(reply.Data, &a); err != nil || a.Seq != 1 {
		t.Fatalf("reply %s (%v), want {\"seq\":1}", reply.Data, err)
	}
	f := c.ExpectFrame(ctx, "event")
	if f.Seq != 1 || f.Topic != "orders.nats" || string(f.Data) != data {
		t.Fatalf("event %s, want seq 1 topic orders.nats data %s", f.Raw, data)
	}

	// A malformed body gets the JSON error body and adds nothing; a batch
	// gets consecutive seqs.
	reply, err = nc.Request("orgstream.publish.acme", []byte(`{"topic":"bad topic!","data":{}}`), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var e testkit.ErrorBody
	if err := json.Unmarshal(reply.Data, &e); err != nil || e.Error == "" || e.Code == "" {
		t.Fatalf("reply to a bad topic: %s, want {\"error\":…,\"code\":…}", reply.Data)
	}
	reply, err = nc.Request("orgstream.publish.acme", []byte(testkit.BatchBody("orders.nats", 2)), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a = testkit.SeqAnswer{}
	if err := json.Unmarshal(reply.Data, &a); err != nil || len(a.Seqs) != 2 || a.Seqs[0] != 2 || a.Seqs[1] != 3 {
		t.Fatalf("reply to a batch of 2: %s, want {\"seqs\":[2,3]}", reply.Data)
	}
	seqs, err := c.CollectSeqs(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	testkit.AssertRange(t, seqs, 2, 3)

	// The backend's forged live message is refused by the server; the
	// client gets the next stored event, not the forgery.
	forged := nats.NewMsg("orgstream.live.acme")
	forged.Header.Set("Orgstream-Seq", "4")
	forged.Data = []byte(`{"forged":true}`)
	if err := nc.PublishMsg(forged); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-forgeErrs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("forged publish: %v, want a permissions violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the forged publish on orgstream.live.acme was not refused")
	}
	reply, err = nc.Request("orgstream.publish.acme", []byte(testkit.EventBody("orders.nats", `{"real":4}`, "")), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a = testkit.SeqAnswer{}
	if err := json.Unmarshal(reply.Data, &a); err != nil || a.Seq != 4 {
		t.Fatalf("reply %s (%v), want {\"seq\":4}: the forgery took no seq", reply.Data, err)
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 4 || string(f.Data) != `{"real":4}` {
		t.Fatalf("after the forgery: %s, want seq 4 with the stored data", f.Raw)
	}
}

// TestExternalNATS: the daemon runs on --nats-url against a NATS server
// with JetStream started by the test; publishing and streaming work, and
// after kill -9 and a restart a client resumes in the same epoch with
// nothing missing.
func TestExternalNATS(t *testing.T) {
	closeIdle(t)
	ns := startNATSServer(t)
	// The daemon's user has the least permissions docs/CLUSTER.md lists,
	// and its password is in the URL, which must never be printed.
	const pass = "e2e-external-daemon-password"
	natsURL := strings.Replace(ns.ClientURL(), "nats://", "nats://"+persistence.DaemonUser+":"+pass+"@", 1)
	s := spec{Args: []string{"--nats-url", natsURL}}
	d := startDaemon(t, s)
	defer func() {
		if strings.Contains(d.Output(), pass) {
			t.Error("the daemon's output holds the password of --nats-url")
		}
	}()
	s.DataDir = d.DataDir // the jwt-secret lives there
	secret := d.secret(t)
	pub := testkit.Token(t, secret, "acme", "backend", time.Hour, true)
	sub := testkit.Token(t, secret, "acme", "alice", time.Hour, false)
	ctx := phase(t)

	c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, sub, nil), nil)
	epoch := c.ExpectWelcome(ctx).Epoch
	l := newLedger()
	for i := range 20 {
		if _, err := l.publish(ctx, d.Base, "acme", pub, []ev{{Topic: "t", Data: eventData(0, i)}}, false); err != nil {
			t.Fatal(err)
		}
	}
	seqs, err := c.CollectSeqs(ctx, 10) // the client has seen 1..10
	if err != nil {
		t.Fatal(err)
	}
	testkit.AssertAll(t, seqs, 10)
	c.Close()

	d.Kill()
	d2 := startDaemon(t, s)
	for i := 20; i < 25; i++ {
		if _, err := l.publish(ctx, d2.Base, "acme", pub, []ev{{Topic: "t", Data: eventData(0, i)}}, false); err != nil {
			t.Fatal(err)
		}
	}
	l.check(t)
	testkit.AssertAll(t, l.ackedSeqs(), 25)
	c2, w := resume(ctx, t, d2, sub, 10, epoch)
	if w.Head != 25 {
		t.Fatalf("welcome %s, want head 25", w.Raw)
	}
	evs, err := c2.CollectEvents(ctx, 15)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		want := uint64(11 + i)
		if e.Seq != want || string(e.Data) != l.acked[want].Data {
			t.Fatalf("replay event %d: %s, want seq %d data %s", i, e.Raw, want, l.acked[want].Data)
		}
	}
	seq := testkit.PublishEvent(t, d2.Base, "acme", pub, "t", `{"live":true}`)
	if f := c2.ExpectFrame(ctx, "event"); seq != 26 || f.Seq != 26 {
		t.Fatalf("live after the replay: published seq %d, received %s; want 26", seq, f.Raw)
	}
	// The events are in the test's server, not in an embedded one.
	jsz, err := ns.Jsz(&server.JSzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if jsz.Streams == 0 || jsz.Messages < 26 {
		t.Fatalf("the external server holds %d streams, %d messages; want the 26 events", jsz.Streams, jsz.Messages)
	}
}

// startNATSServer runs a nats-server with JetStream in the test process on
// a random loopback port; it is shut down when t ends.
func startNATSServer(t *testing.T) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: "e2e-external",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		Users: []*server.User{{
			Username: persistence.DaemonUser, Password: "e2e-external-daemon-password",
			Permissions: persistence.DaemonPermissions(),
		}},
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	u, err := url.Parse(ns.ClientURL())
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("nats-server client URL %q", ns.ClientURL())
	}
	if p, _ := strconv.Atoi(u.Port()); p == 0 {
		t.Fatalf("nats-server client URL %q has no port", ns.ClientURL())
	}
	return ns
}
