package node_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
)

// maxBody is the largest publish body accepted (PROTOCOL.md: 413 over it).
const maxBody = messages.MaxBody

// bodyOfSize is a one-event publish body of exactly size bytes whose data is
// a JSON string of random base64 (so that deflate shrinks it little), and
// that data.
func bodyOfSize(t *testing.T, topic string, size int) (body, data string) {
	t.Helper()
	head := `{"topic":"` + topic + `","data":"`
	n := size - len(head) - len(`"}`)
	raw := make([]byte, n)
	_, _ = rand.Read(raw)
	s := base64.RawStdEncoding.EncodeToString(raw)[:n]
	return head + s + `"}`, `"` + s + `"`
}

// PROTOCOL.md "Limits that hold under any input": an event of the largest
// accepted size reaches an idle client, compressed or not, intact; it never
// cuts it with 4008 (issue 10: a 1 MiB body closed a fast client at once).
func TestLargestEventReachesIdleClient(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "big", "backend", time.Hour, true)

	tooBig, _ := bodyOfSize(t, "t", maxBody+1)
	if st, b := testkit.Publish(t, n.BaseURL(), "big", pub, tooBig); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body of %d bytes: status %d %s, want 413 (the largest body is not %d bytes)", maxBody+1, st, b, maxBody)
	}
	for _, mode := range []websocket.CompressionMode{websocket.CompressionDisabled, websocket.CompressionNoContextTakeover} {
		c := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, "big", "alice", time.Hour, false), nil),
			&websocket.DialOptions{CompressionMode: mode})
		c.ExpectWelcome(ctx)
		body, data := bodyOfSize(t, "t", maxBody)
		st, ans := testkit.Publish(t, n.BaseURL(), "big", pub, body)
		var a testkit.SeqAnswer
		if err := json.Unmarshal(ans, &a); st != http.StatusCreated || err != nil {
			t.Fatalf("publish of %d bytes: status %d %s", len(body), st, ans)
		}
		seq := a.Seq
		evs, err := c.CollectEvents(ctx, 1)
		if err != nil {
			t.Fatalf("compression %v: the largest event (seq %d): %v (close code %d)", mode, seq, err, testkit.CloseCode(err))
		}
		if string(evs[0].Data) != data || evs[0].Seq != seq {
			t.Fatalf("compression %v: event seq %d with %d bytes of data, want seq %d with %d", mode, evs[0].Seq, len(evs[0].Data), seq, len(data))
		}
		c.Close()
	}
}

// A burst of large events (several largest publishes at once, and a batch of
// large events) reaches a client that reads at socket speed: it is not a
// slow consumer.
func TestLargeEventBurstReachesReader(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, 2*phase)
	pub := n.Token(t, "burst", "backend", time.Hour, true)
	c := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, "burst", "alice", time.Hour, false), nil),
		&websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	c.ExpectWelcome(ctx)

	const singles = 5
	bodies := make([]string, 0, singles+1)
	for range singles {
		b, _ := bodyOfSize(t, "t", maxBody)
		bodies = append(bodies, b)
	}
	// One batch of four events of ~256 KiB, filling a largest body.
	parts := make([]string, 4)
	for i := range parts {
		b, _ := bodyOfSize(t, "t", (maxBody-len(`{"events":[]}`)-3)/4)
		parts[i] = b
	}
	bodies = append(bodies, `{"events":[`+strings.Join(parts, ",")+`]}`)
	if l := len(bodies[singles]); l > maxBody {
		t.Fatalf("batch body is %d bytes", l)
	}

	var wg sync.WaitGroup
	errs := make([]error, len(bodies))
	for i, b := range bodies {
		wg.Go(func() {
			st, ans, err := testkit.Post(ctx, n.BaseURL(), "burst", pub, b)
			if err == nil && st != http.StatusCreated {
				err = fmt.Errorf("status %d: %s", st, ans)
			}
			errs[i] = err
		})
	}
	want := singles + len(parts)
	evs, err := c.CollectEvents(ctx, want)
	wg.Wait()
	for i, e := range errs {
		if e != nil {
			t.Fatalf("publish %d: %v", i, e)
		}
	}
	if err != nil {
		t.Fatalf("after %d of %d large events: %v (close code %d)", len(evs), want, err, testkit.CloseCode(err))
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
}

// A queue bound below the frames of the largest publish would recreate the
// 4008 of an idle client: Start refuses it.
func TestStartRefusesQueueBelowLargestPublish(t *testing.T) {
	t.Parallel()
	cfg := node.Config{Listen: "127.0.0.1:0", NATSListen: "off", DataDir: t.TempDir(),
		JWTSecret: []byte(strings.Repeat("s", 32)), MaxQueueBytes: messages.MaxPublishFrames - 1}
	n, err := node.Start(context.Background(), cfg)
	if err == nil {
		_ = n.Shutdown(context.Background())
		t.Fatal("Start accepted MaxQueueBytes below messages.MaxPublishFrames")
	}
	if !errors.Is(err, node.ErrInvalidConfig) {
		t.Fatalf("Start: %v, want ErrInvalidConfig", err)
	}
}

// PROTOCOL.md "Limits that hold under any input": the window is bounded in
// bytes (node.Config.WindowBytes); a resume older than what it kept is
// served from the log, exact: every seq once, in order, with its data.
func TestResumeBeyondByteBoundedWindow(t *testing.T) {
	t.Parallel()
	const windowBytes = 256 << 10
	n := testkit.StartNode(t, func(c *node.Config) { c.WindowBytes = windowBytes })
	ctx := ctxFor(t, phase)
	const org = "wide"
	pub := n.Token(t, org, "backend", time.Hour, true)
	// A subscriber keeps the org actor (and its window) alive throughout.
	live := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, org, "bob", time.Hour, false), nil), nil)
	live.ExpectWelcome(ctx)
	const events = 40 // of ~64 KiB: the window keeps about 3
	datas := make([]string, events+1)
	for i := 1; i <= events; i++ {
		body, data := bodyOfSize(t, "t", 64<<10)
		if st, ans := testkit.Publish(t, n.BaseURL(), org, pub, body); st != http.StatusCreated {
			t.Fatalf("publish %d: %d %s", i, st, ans)
		}
		datas[i] = data
	}
	if _, err := live.CollectEvents(ctx, events); err != nil {
		t.Fatalf("live subscriber: %v", err)
	}
	_, epoch := n.Head(t, org)
	for _, last := range []uint64{0, 5, 30, 37} {
		c := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, org, "alice", time.Hour, false), last, epoch), nil)
		w := c.ExpectWelcome(ctx)
		if !w.Resumed || w.Replay == nil || w.Replay.From != last+1 || w.Replay.To != events {
			t.Fatalf("resume after %d: welcome %s", last, w.Raw)
		}
		evs, err := c.CollectEvents(ctx, int(events-last))
		if err != nil {
			t.Fatalf("resume after %d: %v", last, err)
		}
		for i, e := range evs {
			seq := last + 1 + uint64(i)
			if e.Seq != seq || string(e.Data) != datas[seq] {
				t.Fatalf("resume after %d: event %d is seq %d with %d bytes, want seq %d with its %d bytes",
					last, i, e.Seq, len(e.Data), seq, len(datas[seq]))
			}
		}
		c.Close()
	}
	if got := n.Metrics().Replayed.Load(); got == 0 {
		t.Fatal("nothing replayed")
	}
}
