package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/persistence"
)

// TestExternalNATSCredsFile: --nats-creds authenticates the daemon to an
// operator-mode NATS server (decentralized JWT auth, the way NGS and most
// production clusters run) whose user JWT grants exactly the daemon's least
// permissions of docs/CLUSTER.md; the daemon publishes, streams and never
// prints the file's seed.
func TestExternalNATSCredsFile(t *testing.T) {
	closeIdle(t)
	ns, creds := startOperatorNATS(t)
	d := startDaemon(t, spec{Args: []string{"--nats-url", ns.ClientURL(), "--nats-creds", creds}})
	secret := d.secret(t)
	ctx := phase(t)
	c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, testkit.Token(t, secret, "acme", "alice", time.Hour, false), nil), nil)
	c.ExpectWelcome(ctx)
	pub := testkit.Token(t, secret, "acme", "backend", time.Hour, true)
	if seq := testkit.PublishEvent(t, d.Base, "acme", pub, "t", `{"via":"creds"}`); seq != 1 {
		t.Fatalf("seq %d, want 1", seq)
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 1 || string(f.Data) != `{"via":"creds"}` {
		t.Fatalf("event %s", f.Raw)
	}
	b, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "SU") && strings.Contains(d.Output(), line) {
			t.Fatal("the daemon's output holds the creds file's seed")
		}
	}

	// A missing creds file is a clear start failure, not a hang.
	_, errOut, code := runCLI(t, nil, "serve", "--data-dir", t.TempDir(), "--listen", freeAddr(t),
		"--nats-url", ns.ClientURL(), "--nats-creds", filepath.Join(t.TempDir(), "missing.creds"))
	if code != 1 || !strings.Contains(errOut, "missing.creds") {
		t.Fatalf("serve with a missing creds file: exit %d, stderr %q; want 1 naming the file", code, errOut)
	}
}

// startOperatorNATS runs an operator-mode nats-server with JetStream on
// loopback and writes the credentials file of a user with the daemon's
// least permissions.
func startOperatorNATS(t *testing.T) (*server.Server, string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(okp)
	must(err)
	oc, err = jwt.DecodeOperatorClaims(ojwt)
	must(err)

	account := func(name string, js bool) (nkeys.KeyPair, string, string) {
		akp, err := nkeys.CreateAccount()
		must(err)
		apub, _ := akp.PublicKey()
		ac := jwt.NewAccountClaims(apub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1, MaxBytesRequired: false}
		}
		ajwt, err := ac.Encode(okp)
		must(err)
		return akp, apub, ajwt
	}
	_, sysPub, sysJWT := account("SYS", false)
	akp, apub, ajwt := account("ORGSTREAM", true)

	ukp, err := nkeys.CreateUser()
	must(err)
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = persistence.DaemonUser
	perms := persistence.DaemonPermissions()
	uc.Pub.Allow.Add(perms.Publish.Allow...)
	uc.Pub.Deny.Add(perms.Publish.Deny...)
	uc.Sub.Allow.Add(perms.Subscribe.Allow...)
	uc.Resp = &jwt.ResponsePermission{MaxMsgs: perms.Response.MaxMsgs, Expires: perms.Response.Expires}
	ujwt, err := uc.Encode(akp)
	must(err)
	seed, err := ukp.Seed()
	must(err)
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	must(err)
	path := filepath.Join(t.TempDir(), "orgstream.creds")
	must(os.WriteFile(path, creds, 0o600))

	resolver := &server.MemAccResolver{}
	must(resolver.Store(sysPub, sysJWT))
	must(resolver.Store(apub, ajwt))
	ns, err := server.NewServer(&server.Options{
		ServerName:       "e2e-operator",
		Host:             "127.0.0.1",
		Port:             server.RANDOM_PORT,
		JetStream:        true,
		StoreDir:         t.TempDir(),
		NoLog:            true,
		NoSigs:           true,
		TrustedOperators: []*jwt.OperatorClaims{oc},
		AccountResolver:  resolver,
		SystemAccount:    sysPub,
		MaxPayload:       2 << 20,
	})
	must(err)
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return ns, path
}
