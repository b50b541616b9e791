package persistence

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstream/orgstream/messages"
)

// Forged live messages: published on orgstream.live.<org> by someone other
// than the stream's RePublish. The follower must not deliver them, count
// them, and deliver the next stored event with its real data.

// The embedded server lets no user publish on orgstream.live.> (see
// TestEmbeddedOnlyRePublishWritesLive), so these tests play the follower's
// second line of defence on an external server that grants everything to
// everyone: a cluster whose operator left the live subjects open, or a
// forger holding the daemon's credentials there. The witness check in forge
// fails the test loudly if a publish does not reach the subject.

// openServer starts an unauthenticated nats-server with JetStream on
// loopback and returns its URL.
func openServer(t *testing.T) string { return startExternal(t) }

// dial connects to url; the connection is closed at cleanup.
func dial(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// forgerConn is a connection that may publish on orgstream.live.>.
func forgerConn(t *testing.T, url string) *nats.Conn { return dial(t, url) }

// liveWitness subscribes nc to org's live subject, to capture the real
// republished headers and to see that forged messages do reach it.
type liveWitness struct {
	t   *testing.T
	nc  *nats.Conn
	org string
	sub *nats.Subscription
}

func newLiveWitness(t *testing.T, nc *nats.Conn, org string) *liveWitness {
	t.Helper()
	sub, err := nc.SubscribeSync(LivePrefix + org)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return &liveWitness{t: t, nc: nc, org: org, sub: sub}
}

// next returns the next message the witness saw whose Orgstream-Seq is seq.
func (w *liveWitness) next(seq uint64) *nats.Msg {
	w.t.Helper()
	for {
		m, err := w.sub.NextMsg(10 * time.Second)
		if err != nil {
			w.t.Fatalf("witness: no live message with seq %d: %v", seq, err)
		}
		if m.Header.Get(HeaderSeq) == strconv.FormatUint(seq, 10) {
			return m
		}
	}
}

// forge publishes a live message with header h and data on org's live
// subject and waits until the witness saw it, so it reached every
// subscriber (the followers' connection included) before anything
// published after it.
func (w *liveWitness) forge(h nats.Header, data string) {
	w.t.Helper()
	if err := w.nc.PublishMsg(&nats.Msg{Subject: LivePrefix + w.org, Header: h, Data: []byte(data)}); err != nil {
		w.t.Fatal(err)
	}
	if err := w.nc.Flush(); err != nil {
		w.t.Fatal(err)
	}
	for {
		m, err := w.sub.NextMsg(10 * time.Second)
		if err != nil {
			w.t.Fatalf("the forged message never reached %s (may this connection publish there?): %v", LivePrefix+w.org, err)
		}
		if string(m.Data) == data {
			return
		}
	}
}

// forgedCounts is an OnForged hook counting per org.
type forgedCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *forgedCounts) add(org string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[org]++
}

func (c *forgedCounts) get(org string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[org]
}

func cloneHeader(h nats.Header) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		out[k] = slices.Clone(v)
	}
	return out
}

func TestJetStreamFollowRefusesForged(t *testing.T) {
	e := openServer(t)
	nc := dial(t, e)
	var counts forgedCounts
	l := openJetStream(t, JetStreamConfig{Conn: nc, OnForged: counts.add})
	const last = 3 // events stored before the forgery
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	cases := []struct {
		name string
		// forge builds the forged headers from the real republished
		// headers of event `last` and the stream sequence of another
		// org's event stored after it.
		forge func(real nats.Header, otherRev uint64) nats.Header
	}{
		{"publisher headers only, as nats pub would", func(real nats.Header, _ uint64) nats.Header {
			return nats.Header{HeaderSeq: {u(last + 1)}, HeaderTime: real[HeaderTime], HeaderTopic: {"billing"}}
		}},
		{"a copy of the last event's headers, seq last+1", func(real nats.Header, _ uint64) nats.Header {
			h := cloneHeader(real)
			h.Set(HeaderSeq, u(last+1))
			return h
		}},
		{"a copy, seq 999999", func(real nats.Header, _ uint64) nats.Header {
			h := cloneHeader(real)
			h.Set(HeaderSeq, "999999")
			return h
		}},
		{"seq 999999 at a stream sequence that does not exist", func(real nats.Header, _ uint64) nats.Header {
			h := cloneHeader(real)
			h.Set(HeaderSeq, "999999")
			h.Set(hdrLastSequence, real.Get(hdrSequence))
			h.Set(hdrSequence, "1000000")
			return h
		}},
		{"seq last+1 at a stream sequence that does not exist", func(real nats.Header, _ uint64) nats.Header {
			h := cloneHeader(real)
			h.Set(HeaderSeq, u(last+1))
			h.Set(hdrSequence, "1000000")
			return h
		}},
		{"seq last+1 at another org's event", func(real nats.Header, otherRev uint64) nats.Header {
			h := cloneHeader(real)
			h.Set(HeaderSeq, u(last+1))
			h.Set(hdrSequence, u(otherRev))
			return h
		}},
		{"another stream's name", func(real nats.Header, _ uint64) nats.Header {
			h := cloneHeader(real)
			h.Set(HeaderSeq, u(last+1))
			h.Set(hdrStream, "OTHER")
			return h
		}},
		{"another org's subject", func(real nats.Header, _ uint64) nats.Header {
			h := cloneHeader(real)
			h.Set(HeaderSeq, u(last+1))
			h.Set(hdrSubject, EventsPrefix+"elsewhere")
			return h
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			org := "org" + strconv.Itoa(i)
			w := newLiveWitness(t, forgerConn(t, e), org)
			mustAppend(t, l, org, drafts(last, "real")...)
			real := w.next(last).Header
			other := mustAppend(t, l, org+"-other", drafts(1, "o")...)

			// One follower caught up from the start (it knows the last
			// event's stream sequence), one started at the head (it does
			// not: its first live message is checked against the log).
			var fromStart, atHead collector
			for _, f := range []struct {
				after uint64
				c     *collector
			}{{0, &fromStart}, {last, &atHead}} {
				fl, err := l.Follow(org, f.after, f.c.add)
				if err != nil {
					t.Fatal(err)
				}
				defer fl.Stop()
			}
			eventually(t, 10*time.Second, "the first events", func() bool { return len(fromStart.seqs()) == last })

			w.forge(tc.forge(real, other.Head.Rev), `{"forged":true}`)
			eventually(t, 10*time.Second, "both followers to refuse it", func() bool { return counts.get(org) == 2 })

			// The next stored event comes with its real data, on both.
			next := mustAppend(t, l, org, draft("t", "", `{"real":"next"}`))
			if next.Head.Seq != last+1 {
				t.Fatalf("appended seq %d", next.Head.Seq)
			}
			for _, c := range []*collector{&fromStart, &atHead} {
				eventually(t, 10*time.Second, "the next event", func() bool {
					s := c.seqs()
					return len(s) > 0 && s[len(s)-1] >= last+1
				})
			}
			if got := fromStart.seqs(); !slices.Equal(got, seqRange(1, last+1)) {
				t.Fatalf("follower from the start got %v", got)
			}
			if got := atHead.seqs(); !slices.Equal(got, []uint64{last + 1}) {
				t.Fatalf("follower from the head got %v", got)
			}
			for _, c := range []*collector{&fromStart, &atHead} {
				c.mu.Lock()
				ev := c.evs[len(c.evs)-1]
				c.mu.Unlock()
				if string(ev.Data) != `{"real":"next"}` {
					t.Fatalf("seq %d delivered with data %s", ev.Seq, ev.Data)
				}
			}
			if n := counts.get(org); n != 2 {
				t.Fatalf("forged count %d, want 2", n)
			}
		})
	}
}

// Genuine live messages are not counted as forged, whether they pass the
// header check or are checked against the log (a follower started at the
// head, batches, two writers).
func TestJetStreamFollowCountsNoGenuine(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	var counts forgedCounts
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e), OnForged: counts.add})
	peer := openJetStream(t, JetStreamConfig{Conn: connect(t, e), OnForged: counts.add})
	mustAppend(t, l, "acme", drafts(2, "a")...)
	var c, c2 collector
	f, err := l.Follow("acme", 0, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	f2, err := l.Follow("acme", 2, c2.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Stop()
	for i := range 20 {
		w := []Log{l, peer}[i%2]
		mustAppend(t, w, "acme", drafts(1+i%4, "b")...)
	}
	const head = 2 + 20/4*(1+2+3+4)
	eventually(t, 10*time.Second, "every event", func() bool { return len(c.seqs()) >= head && len(c2.seqs()) >= head-2 })
	if got := c.seqs(); !slices.Equal(got, seqRange(1, head)) {
		t.Fatalf("followed %v", got)
	}
	if got := c2.seqs(); !slices.Equal(got, seqRange(3, head)) {
		t.Fatalf("followed from the head %v", got)
	}
	if n := counts.get("acme"); n != 0 {
		t.Fatalf("%d genuine live messages counted as forged", n)
	}
}

// A flood of forged messages is counted one by one but logged only a few
// times per period, with the subject and never the payload.
func TestJetStreamForgedLogSampled(t *testing.T) {
	e := openServer(t)
	core, logs := observer.New(zapcore.WarnLevel)
	var counts forgedCounts
	l := openJetStream(t, JetStreamConfig{Conn: dial(t, e), OnForged: counts.add, Logger: zap.New(core)})
	w := newLiveWitness(t, forgerConn(t, e), "acme")
	var c collector
	f, err := l.Follow("acme", 0, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	const flood = 50
	for i := range flood {
		w.forge(nats.Header{HeaderSeq: {"1"}}, `{"secret-payload":`+strconv.Itoa(i)+`}`)
	}
	eventually(t, 10*time.Second, "every forgery counted", func() bool { return counts.get("acme") == flood })
	entries := logs.FilterMessageSnippet("forged").All()
	if len(entries) == 0 || len(entries) > forgedLogFirst {
		t.Fatalf("%d warnings for %d forged messages, want 1..%d", len(entries), flood, forgedLogFirst)
	}
	for _, en := range entries {
		if en.ContextMap()["subject"] != LivePrefix+"acme" {
			t.Fatalf("warning without the subject: %v", en.ContextMap())
		}
	}
	for _, en := range logs.All() {
		var b bytes.Buffer
		b.WriteString(en.Message)
		for k, v := range en.ContextMap() {
			b.WriteString(k)
			b.WriteString(strconv.Quote(toString(v)))
		}
		if bytes.Contains(b.Bytes(), []byte("secret-payload")) {
			t.Fatalf("a log entry holds the payload: %s", b.String())
		}
	}
	if n := len(c.seqs()); n != 0 {
		t.Fatalf("%d forged events delivered", n)
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// The trust check of a genuine live message is a few header compares: no
// read (the follower has no log here, so any read would panic).
func BenchmarkOnLiveGenuine(b *testing.B) {
	f := &jsFollower{org: "acme", stream: PartitionStream(0), events: PartitionSubjectPrefix(0) + "acme", fn: func(messages.Event) {}}
	m := &nats.Msg{
		Subject: LivePrefix + "acme",
		Header: nats.Header{
			hdrStream: {PartitionStream(0)}, hdrSubject: {PartitionSubjectPrefix(0) + "acme"},
			hdrSequence: {"11"}, hdrLastSequence: {"10"},
			HeaderSeq: {"2"}, HeaderTopic: {"t"}, HeaderTime: {"2026-12-07T10:00:00.123456Z"},
		},
		Data: []byte(`{"a":1}`),
	}
	b.ReportAllocs()
	for b.Loop() {
		f.last, f.lastRev = 1, 10
		if !f.onLive(m) || f.last != 2 || f.lastRev != 11 {
			b.Fatal("genuine live message not delivered")
		}
	}
}
