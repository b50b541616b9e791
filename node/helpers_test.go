package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/persistence"
)

// phase is the deadline of one phase of a test: generous, because the box
// is shared, has two cores and runs -race.
const phase = 60 * time.Second

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// subscriber opens a fresh stream for (org, user) and reads its welcome.
func subscriber(ctx context.Context, t *testing.T, n *testkit.Node, org, user string) (*testkit.Client, testkit.Frame) {
	t.Helper()
	c := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, org, user, time.Hour, false), nil), nil)
	return c, c.ExpectWelcome(ctx)
}

// resumeURLs builds follower URLs for (org, user) on n.
func resumeURLs(t *testing.T, n *testkit.Node, org, user string) func(uint64, string, bool) string {
	tok := n.Token(t, org, user, time.Hour, false)
	return func(last uint64, epoch string, resume bool) string {
		if !resume {
			return n.StreamURL(tok, nil)
		}
		return n.ResumeURL(tok, last, epoch)
	}
}

// background is a publisher goroutine that keeps publishing to one org over
// HTTP (single events and small batches, alternating) until stopped; it
// records every acknowledged seq.
type background struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	acked []uint64
	err   error
}

// publishInBackground starts a background publisher; at most max events
// (0 = unbounded) are published. A 503 is an error unless retry503: then
// the publish is retried with the same ids, as a publisher must when a
// publish in flight at an org actor's crash gets the documented 503.
func publishInBackground(t *testing.T, base, org, token string, max int, retry503 bool) *background {
	b := &background{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for i := 0; max == 0 || b.count() < max; i++ {
			select {
			case <-b.stop:
				return
			default:
			}
			// Every event has an id, so that a retried 503 stores nothing
			// twice.
			body := testkit.EventBody("bg.tick", fmt.Sprintf(`{"i":%d}`, i), fmt.Sprintf("bg-%d", i))
			batch := i%3 == 2
			if batch {
				parts := make([]string, 1+i%5)
				for j := range parts {
					parts[j] = testkit.EventBody("bg.batch", fmt.Sprintf(`{"i":%d,"j":%d}`, i, j), fmt.Sprintf("bg-%d-%d", i, j))
				}
				body = `{"events":[` + strings.Join(parts, ",") + `]}`
			}
			var st int
			var resp []byte
			var err error
			for attempt := 0; attempt < 100; attempt++ {
				ctx, cancel := context.WithTimeout(context.Background(), phase)
				st, resp, err = testkit.Post(ctx, base, org, token, body)
				cancel()
				if err != nil || st != http.StatusServiceUnavailable || !retry503 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err == nil && st != http.StatusCreated && st != http.StatusOK {
				err = fmt.Errorf("status %d: %s", st, resp)
			}
			var a testkit.SeqAnswer
			if err == nil {
				err = json.Unmarshal(resp, &a)
			}
			if err != nil {
				b.fail(err)
				return
			}
			b.mu.Lock()
			if batch {
				b.acked = append(b.acked, a.Seqs...)
			} else {
				b.acked = append(b.acked, a.Seq)
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() { b.halt() })
	return b
}

func (b *background) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.acked)
}

func (b *background) fail(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

func (b *background) halt() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
}

// finish stops the publisher and returns every acknowledged seq.
func (b *background) finish(t *testing.T) []uint64 {
	t.Helper()
	b.halt()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		t.Fatalf("background publisher: %v", b.err)
	}
	return append([]uint64(nil), b.acked...)
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// postRetrying publishes body as a backend in a cluster must: a 503 (a
// leader moving) is retried with the same body, so the same ids, up to 50
// times with a growing pause; onRetry, if not nil, is called before each
// pause. It returns the last answer. It does not fail t: publishers run
// in goroutines.
func postRetrying(ctx context.Context, base, org, token, body string, onRetry func()) (int, []byte, error) {
	var st int
	var resp []byte
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		st, resp, err = testkit.Post(ctx, base, org, token, body)
		if err != nil || st != http.StatusServiceUnavailable {
			break
		}
		if onRetry != nil {
			onRetry()
		}
		time.Sleep(time.Duration(10+attempt*10) * time.Millisecond)
	}
	return st, resp, err
}

// getBearer is GET u with token as a bearer ("" for none): the status and
// the body. The routes of an org (history, presence) are read this way.
func getBearer(t *testing.T, u, token string) (int, []byte) {
	t.Helper()
	return doBearer(t, http.MethodGet, u, token, "")
}

// doBearer sends method u with body and token as a bearer ("" for none):
// the status and the body of the answer.
func doBearer(t *testing.T, method, u, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// publisherConn connects to url as the NATS publisher role with password,
// and returns expectViolation, which waits (until ctx ends) for the server
// to refuse what the role just tried with a permissions violation.
func publisherConn(ctx context.Context, t *testing.T, url, password string) (nc *nats.Conn, expectViolation func(what string)) {
	t.Helper()
	violations := make(chan error, 16)
	nc, err := nats.Connect(url, nats.UserInfo(persistence.PublisherUser, password),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case violations <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, func(what string) {
		t.Helper()
		select {
		case err := <-violations:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("%s: %v, want a permissions violation", what, err)
			}
		case <-ctx.Done():
			t.Fatalf("%s was not refused", what)
		}
	}
}

// decodeError decodes a refusal body and checks it has both keys.
func decodeError(t *testing.T, b []byte) testkit.ErrorBody {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", b, err)
	}
	var e testkit.ErrorBody
	_ = json.Unmarshal(b, &e)
	if e.Error == "" || e.Code == "" {
		t.Fatalf(`error body %s lacks "error" or "code"`, b)
	}
	return e
}

// logLeaders reads GET /v2/realtime/metrics at base and returns its
// "log" member as stream name → leader.
func logLeaders(t *testing.T, base string) map[string]string {
	t.Helper()
	st, b := get(t, base+"/v2/realtime/metrics")
	if st != http.StatusOK {
		t.Fatalf("metrics JSON: %d %s", st, b)
	}
	var doc struct {
		Log *struct {
			Streams []struct {
				Name   string  `json:"name"`
				Leader *string `json:"leader"`
			} `json:"streams"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Log == nil || doc.Log.Streams == nil {
		t.Fatalf(`metrics JSON %s lacks "log":{"streams":[…]} (%v)`, b, err)
	}
	leaders := map[string]string{}
	for _, s := range doc.Log.Streams {
		if s.Leader == nil {
			t.Fatalf("metrics JSON %s: stream %q without a leader member", b, s.Name)
		}
		leaders[s.Name] = *s.Leader
	}
	return leaders
}

// readyCode decodes a /readyz body, which is exactly {"status":S,"code":S}
// (no error text, PROTOCOL.md), and returns the code.
func readyCode(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("/readyz body %q is not a JSON object of strings: %v", b, err)
	}
	if len(m) != 2 || m["code"] == "" || m["status"] != m["code"] {
		t.Fatalf(`/readyz body %s, want exactly {"status":S,"code":S}`, b)
	}
	return m["code"]
}

// settle waits until a fresh stream on org announces a head of at least seq.
// Right after an acknowledged publish the org actor may not have seen the
// event yet (TestWelcomeHeadCoversAcknowledged checks that separately);
// tests that assert exact heads call settle first so that they check their
// own clause.
func settle(t *testing.T, n *testkit.Node, org string, seq uint64) {
	t.Helper()
	waitFor(t, phase, fmt.Sprintf("head %d on %s", seq, org), func() bool {
		h, _ := n.Head(t, org)
		return h >= seq
	})
}

// logStreamsLedBy is what the metrics' "log.streams" lists for a node with
// the default partitions, every stream led by leader: each partition's
// stream and the heads stream.
func logStreamsLedBy(leader string) map[string]string {
	want := map[string]string{persistence.HeadsStreamName: leader}
	for i := range persistence.DefaultPartitions {
		want[persistence.PartitionStream(i)] = leader
	}
	return want
}
