package persistence

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

// collision is the state a leader change leaves (log_jetstream_collide.go),
// built on a test log: acme holds event 1 ("a") and event 2 ("p1"), and a
// message of another org of acme's partition ("other…") lies between them, at stale.Rev, so that
// Head{Seq: 1, Rev: stale.Rev} is a head of acme that event 2 made stale
// (no acme message between event 1 and it, like the head event 2 was
// appended after).
type collision struct {
	l     *JetStreamLog
	nc    *nats.Conn
	other string // an org in acme's partition
	stale Head   // acme's head before event 2
	p1    uint64 // stream sequence of event 2
}

func newCollision(t *testing.T, l *JetStreamLog, nc *nats.Conn) collision {
	t.Helper()
	a := mustAppend(t, l, "acme", draft("t", "a", `"a"`))
	other := samePartition(l, "acme", "other")
	o := mustAppend(t, l, other, draft("t", "o", `"o"`))
	p1 := mustAppend(t, l, "acme", draft("t", "p1", `"p1"`))
	if a.Seqs[0] != 1 || p1.Seqs[0] != 2 {
		t.Fatalf("setup seqs %v %v", a.Seqs, p1.Seqs)
	}
	return collision{l: l, nc: nc, other: other, stale: Head{Seq: 1, Rev: o.Head.Rev}, p1: p1.Head.Rev}
}

// storeStale publishes on acme, from the test's own connection, what the
// race stores: an event with seq 2 and id, expecting acme's stale head (the
// server compares it with org c.other, where it holds).
func (c collision) storeStale(t *testing.T, id string) uint64 {
	t.Helper()
	h := nats.Header{}
	h.Set(HeaderSeq, "2")
	h.Set(HeaderTopic, "t")
	h.Set(HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	h.Set(HeaderID, id)
	h.Set(hdrMsgID, "acme:"+id)
	h.Set(hdrExpectSubjSeq, strconv.FormatUint(c.stale.Rev, 10))
	h.Set(hdrExpectSubjSeqSubject, c.l.subject(c.other))
	resp, err := c.nc.RequestMsg(&nats.Msg{Subject: c.l.subject("acme"), Header: h, Data: []byte(`"` + id + `"`)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil || ack.Error != nil || ack.Duplicate {
		t.Fatalf("stale publish: %s", resp.Data)
	}
	return ack.Seq
}

// collisionLog is a one-server log whose appends check their place, as on a
// replicated stream, and its connection.
func collisionLog(t *testing.T) (*JetStreamLog, *nats.Conn) {
	t.Helper()
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	checkPlaces(l)
	return l, connect(t, e)
}

// The detector flags a message with another message of the org between the
// head it expected and itself, and only that, with the highest seq stored
// in between.
func TestJetStreamCollisionDetected(t *testing.T) {
	l, nc := collisionLog(t)
	c := newCollision(t, l, nc)
	orphan := c.storeStale(t, "p2")
	tests := []struct {
		name     string
		afterRev uint64
		rev      uint64
		want     uint64
	}{
		{"the stale message", c.stale.Rev, orphan, 2},
		{"the event it collided with", c.stale.Rev, c.p1, 0},
		{"the stale message after its real predecessor", c.p1, orphan, 0},
		{"the first event of the org", 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.collisionTop(ctxT(t), "acme", tt.afterRev, tt.rev)
			if err != nil || got != tt.want {
				t.Fatalf("collisionTop(%d, %d) = %d, %v; want %d", tt.afterRev, tt.rev, got, err, tt.want)
			}
		})
	}
}

// The duplicate answer for the id of a collided message resolves to its
// copy, appended once after the org's head with a derived id, and every
// later retry of the id gets the same seq; the log then holds each event
// once under the seqs subscribers see.
func TestJetStreamDupSeqResolvesCollision(t *testing.T) {
	l, nc := collisionLog(t)
	c := newCollision(t, l, nc)
	orphan := c.storeStale(t, "p2")
	ctx := ctxT(t)
	for i := range 3 {
		seq, err := l.dupSeq(ctx, "acme", orphan, "p2")
		if err != nil || seq != 3 {
			t.Fatalf("dupSeq #%d of the collided id = %d, %v; want 3 (its copy)", i, seq, err)
		}
	}
	h, err := l.Head(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Append(ctx, "acme", h, []messages.Draft{draft("t", "p2", `"p2"`)})
	if err != nil || !res.Duplicate[0] || res.Seqs[0] != 3 {
		t.Fatalf("retry of p2 through Append = %+v, %v; want duplicate seq 3", res, err)
	}
	evs, err := l.Read(ctx, "acme", 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(evs); !slices.Equal(got, []string{"1:a", "2:p1", "3:p2"}) {
		t.Fatalf("Read = %v", got)
	}
}

// An append the server stored after a stale head (its expectation accepted
// by mistake) is detected and re-appended: the Append acknowledges the seq
// a follower delivers, and the follower delivers every acknowledged event
// exactly once.
func TestJetStreamAppendRepairsCollision(t *testing.T) {
	tests := []struct {
		name   string
		drafts []messages.Draft
		seqs   []uint64
	}{
		{"one event with an id", []messages.Draft{draft("t", "p2", `"p2"`)}, []uint64{3}},
		{"one event without an id", []messages.Draft{draft("t", "", `"p2"`)}, []uint64{3}},
		// Only the batch's first event collided with event 2: its second,
		// seq 3, is delivered where it is, the first is copied as seq 4.
		{"an atomic batch", []messages.Draft{draft("t", "p2", `"p2"`), draft("t", "p3", `"p3"`)}, []uint64{4, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, nc := collisionLog(t)
			checkAppendRepairs(t, newCollision(t, l, nc), tt.drafts, tt.seqs)
		})
	}
}

// The same on a replicated stream (three embedded servers), where the check
// is on by itself.
func TestJetStreamAppendRepairsCollisionR3(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster formation takes seconds")
	}
	nodes := startCluster3(t)
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, nodes[0]), Replicas: 3})
	if !l.checkPlace {
		t.Fatal("place check off on a replicated stream")
	}
	checkAppendRepairs(t, newCollision(t, l, connect(t, nodes[1])), []messages.Draft{draft("t", "p2", `"p2"`)}, []uint64{3})
}

func checkAppendRepairs(t *testing.T, c collision, ds []messages.Draft, seqs []uint64) {
	t.Helper()
	ctx := ctxT(t)
	var (
		mu  sync.Mutex
		got []messages.Event
	)
	f, err := c.l.Follow("acme", 0, func(ev messages.Event) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()

	acceptStaleOnce(c.l, c.l.subject(c.other))
	res, err := c.l.Append(ctx, "acme", c.stale, ds)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Seqs, seqs) || slices.Contains(res.Duplicate, true) || res.Head.Seq != 2+uint64(len(ds)) {
		t.Fatalf("Append after a stale head = %+v; want new seqs %v, head %d", res, seqs, 2+len(ds))
	}
	acked := make([]string, len(ds))
	for i, seq := range res.Seqs {
		acked[i] = strconv.FormatUint(seq, 10) + ":" + ds[i].ID
	}
	slices.Sort(acked) // one-digit seqs
	want := append([]string{"1:a", "2:p1"}, acked...)
	// One more append after the answered head: the follower delivers it
	// last, so everything before it was delivered by then.
	next, err := c.l.Append(ctx, "acme", res.Head, []messages.Draft{draft("t", "last", `"last"`)})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, strconv.FormatUint(next.Seqs[0], 10)+":last")
	eventually(t, 10*time.Second, "the follower to deliver the last event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1].ID == "last"
	})
	mu.Lock()
	ids := idsOf(got)
	mu.Unlock()
	if !slices.Equal(ids, want) {
		t.Fatalf("follower delivered %v; want %v", ids, want)
	}
	evs, err := c.l.Read(ctx, "acme", 1, 100)
	if err != nil || !slices.Equal(idsOf(evs), want) {
		t.Fatalf("Read = %v, %v; want %v", idsOf(evs), err, want)
	}
	for i, w := range want {
		evs, err := c.l.Read(ctx, "acme", uint64(i+1), 1)
		if err != nil || len(evs) != 1 || idsOf(evs)[0] != w {
			t.Fatalf("Read(%d, 1) = %v, %v; want %s", i+1, idsOf(evs), err, w)
		}
	}
	// A retry of the drafts with ids gets the seqs acknowledged first.
	if slices.ContainsFunc(ds, func(d messages.Draft) bool { return d.ID == "" }) {
		return
	}
	retry, err := c.l.Append(ctx, "acme", next.Head, ds)
	if err != nil || !slices.Equal(retry.Seqs, seqs) || slices.Contains(retry.Duplicate, false) {
		t.Fatalf("retry = %+v, %v; want duplicates with seqs %v", retry, err, seqs)
	}
}

// idsOf lists events as "seq:id".
func idsOf(evs []messages.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = strconv.FormatUint(ev.Seq, 10) + ":" + ev.ID
	}
	return out
}

// collidedCount: the events of an append whose seqs the messages in between
// took, all of them when the messages in between could not be read.
func TestCollidedCount(t *testing.T) {
	evs := []messages.Event{{Seq: 5}, {Seq: 6}, {Seq: 7}}
	tests := []struct {
		top  uint64
		want int
	}{
		{0, 0}, {4, 0}, {5, 1}, {6, 2}, {7, 3}, {9, 3}, {^uint64(0), 3},
	}
	for _, tt := range tests {
		if got := collidedCount(tt.top, evs); got != tt.want {
			t.Errorf("collidedCount(%d) = %d, want %d", tt.top, got, tt.want)
		}
	}
}

// A copy's derived message ID tells which copy it is, and is never the ID
// of a publisher's event (org names hold no '#').
func TestCopyMsgID(t *testing.T) {
	tests := []struct {
		msgID string
		want  int
	}{
		{"acme:a", 1},
		{"acme:a#2", 1},
		{"acme:#3:x", 1},
		{copyMsgID("acme", "a", 2), 2},
		{copyMsgID("acme", "a#9:b", 4), 4},
		{copyMsgID("acme", "", 3), 3},
		{"acme#x:a", 1},
	}
	for _, tt := range tests {
		m := &nats.Msg{Header: nats.Header{hdrMsgID: []string{tt.msgID}}}
		if got := copyOf(m); got != tt.want {
			t.Errorf("copyOf(%q) = %d, want %d", tt.msgID, got, tt.want)
		}
	}
	if id := copyMsgID("acme", "", 2); id == copyMsgID("acme", "", 2) || !strings.HasPrefix(id, "acme#2:") {
		t.Errorf("copy ids of events without an id: %q", id)
	}
}
