package testkit

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/orgstream/orgstream/node"
)

// Node is a node started by StartNode, with the secret its tokens are signed
// with and URL helpers.
type Node struct {
	*node.Node
	// Config is the configuration the node was started with (before the
	// node's own defaults).
	Config node.Config
	// Secret is Config.JWTSecret.
	Secret []byte
}

// StartNode starts a node for t: a fresh t.TempDir data dir, HTTP on
// 127.0.0.1:0, no NATS listener, a random JWT secret, DrainPeriod 200ms,
// node name "test-0", logs dropped (or to t with ORGSTREAM_TEST_LOG=1). mutate, if not nil,
// changes the config before the start (e.g. DataDir to restart on a previous
// node's store). The node is shut down when t ends.
func StartNode(t testing.TB, mutate func(*node.Config)) *Node {
	t.Helper()
	return StartNodes(t, 1, func(_ int, c *node.Config) {
		if mutate != nil {
			mutate(c)
		}
	})[0]
}

// StartNodes starts k nodes at once, each configured as by StartNode (with
// its own data dir and secret) and then by mutate(i, cfg). They start
// concurrently, as nodes of a cluster must (a clustered JetStream becomes
// ready only once enough of them run). All are shut down when t ends.
func StartNodes(t testing.TB, k int, mutate func(i int, cfg *node.Config)) []*Node {
	t.Helper()
	cfgs := make([]node.Config, k)
	for i := range cfgs {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		cfgs[i] = node.Config{
			Listen:      "127.0.0.1:0",
			DataDir:     t.TempDir(),
			JWTSecret:   secret,
			NATSListen:  "off",
			DrainPeriod: 200 * time.Millisecond,
			NodeName:    "test-" + strconv.Itoa(i),
			Logger:      zap.NewNop(),
		}
		if os.Getenv("ORGSTREAM_TEST_LOG") != "" {
			cfgs[i].Logger = zaptest.NewLogger(t).Named(cfgs[i].NodeName)
		}
		if mutate != nil {
			mutate(i, &cfgs[i])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := make([]*Node, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i := range cfgs {
		wg.Go(func() {
			n, err := node.Start(ctx, cfgs[i])
			if err != nil {
				errs[i] = err
				return
			}
			nodes[i] = &Node{Node: n, Config: cfgs[i], Secret: cfgs[i].JWTSecret}
		})
	}
	wg.Wait()
	for _, n := range nodes {
		if n != nil {
			t.Cleanup(func() { n.Stop(t) })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("testkit: start node %d: %v", i, err)
		}
	}
	return nodes
}

// Stop shuts the node down (waiting at most 30s) and fails t on an error.
// Safe to call more than once.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("testkit: shutdown: %v", err)
	}
}

// BaseURL is http://host:port of the node.
func (n *Node) BaseURL() string { return "http://" + n.Addr() }

// StreamURL is the stream's ws:// URL with access_token=token (omitted when
// empty) and the extra query values q (may be nil).
func (n *Node) StreamURL(token string, q url.Values) string {
	return StreamURL(n.BaseURL(), token, q)
}

// ResumeURL is the stream URL resuming after lastSeq in epoch.
func (n *Node) ResumeURL(token string, lastSeq uint64, epoch string) string {
	return StreamURL(n.BaseURL(), token, ResumeQuery(lastSeq, epoch))
}

// Token issues a token signed with the node's secret (see Token).
func (n *Node) Token(t testing.TB, org, sub string, ttl time.Duration, publish bool) string {
	t.Helper()
	return Token(t, n.Secret, org, sub, ttl, publish)
}

// Head opens a stream on org and returns the welcome's head (and epoch).
func (n *Node) Head(t testing.TB, org string) (head uint64, epoch string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := Dial(ctx, t, n.StreamURL(n.Token(t, org, "testkit-head", time.Minute, false), nil), nil)
	defer c.Close()
	w := c.ExpectWelcome(ctx)
	return w.Head, w.Epoch
}

// StreamURL builds the stream URL of the node at baseURL (http://host:port).
func StreamURL(baseURL, token string, q url.Values) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		panic("testkit: bad base URL " + baseURL)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path = "/v2/realtime/stream"
	v := url.Values{}
	for k, vs := range q {
		v[k] = append([]string(nil), vs...)
	}
	if token != "" {
		v.Set("access_token", token)
	}
	u.RawQuery = v.Encode()
	return u.String()
}

// ResumeQuery is last_seq=lastSeq&epoch=epoch.
func ResumeQuery(lastSeq uint64, epoch string) url.Values {
	return url.Values{"last_seq": {strconv.FormatUint(lastSeq, 10)}, "epoch": {epoch}}
}
