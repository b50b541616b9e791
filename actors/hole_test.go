package actors

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// A live feed that lost live messages (its NATS connection was cut) catches
// up from the log and meets a hole there (an event deleted meanwhile): it
// jumps over it, the org actor cuts the stream that needed the missing
// event, and that stream's resume is reset (window_exceeded, first = the
// seq after the hole), then live; never a 1011 loop. Real embedded
// JetStream; the cut connection is held down until the hole is made.
func TestLiveFeedCrossingHole(t *testing.T) {
	e := startEmbeddedLog(t)
	feedConn, reconnect := heldConn(t, e)
	writerConn, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer writerConn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	feedLog, err := persistence.OpenJetStream(ctx, persistence.JetStreamConfig{Conn: feedConn})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = feedLog.Close() }()
	// Another node's writer, on its own connection.
	writer, err := persistence.OpenJetStream(ctx, persistence.JetStreamConfig{Conn: writerConn})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = writer.Close() }()
	publish := func(data string) persistence.Head {
		t.Helper()
		hd, err := writer.Head(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		res, err := writer.Append(ctx, "acme", hd, []messages.Draft{{Topic: "t", Data: json.RawMessage(data)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Head
	}
	for i := range 3 {
		publish(`{"i":` + strconv.Itoa(i+1) + `}`)
	}

	h, err := NewHub(Config{Log: feedLog, WindowSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	c := openStream(t, h)
	defer c.Close()
	if w := readFrame(t, c); w.Type != "welcome" || w.Head != 3 {
		t.Fatalf("welcome %+v", w)
	}
	publish(`{"i":4}`)
	if f := readFrame(t, c); f.Type != "event" || f.Seq != 4 {
		t.Fatalf("live %+v, want event 4", f)
	}

	// Cut the feed's connection and keep it down while 5..7 are stored
	// and 6 is deleted.
	cid, err := feedConn.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Server().DisconnectClientByID(cid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); feedConn.IsConnected(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the feed's connection was not cut")
		}
	}
	publish(`{"i":5}`)
	six := publish(`{"i":6}`)
	publish(`{"i":7}`)
	js, err := jetstream.New(writerConn)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, persistence.PartitionStream(persistence.PartitionOf("acme", persistence.DefaultPartitions)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx, six.Rev); err != nil {
		t.Fatal(err)
	}
	reconnect()

	// The feed catches up from the log: 5, then over the hole to 7. The
	// stream gets 5, and is cut since its next event, 6, is gone.
	if f := readFrame(t, c); f.Type != "event" || f.Seq != 5 {
		t.Fatalf("after the reconnect %+v, want event 5", f)
	}
	expectCloseThenEOF(t, c, CloseSlowConsumer)

	// Its resume from 5 is reset: the log is whole from 7 on.
	r := openStreamAs(t, h, messages.Stream{
		Org: "acme", User: "alice", Expiry: time.Now().Add(time.Hour),
		Resume: true, LastSeq: 5, Epoch: feedLog.Epoch(),
	})
	defer r.Close()
	if w := readFrame(t, r); w.Type != "welcome" || w.Resumed || w.Head != 7 {
		t.Fatalf("resume after 5: %+v, want welcome resumed:false head 7", w)
	}
	if f := readFrame(t, r); f.Type != "reset" || f.Reason != messages.ResetWindowExceeded || f.First != 7 || f.Head != 7 {
		t.Fatalf("resume after 5: %+v, want reset window_exceeded first 7 head 7", f)
	}
	publish(`{"i":8}`)
	if f := readFrame(t, r); f.Type != "event" || f.Seq != 8 {
		t.Fatalf("after the reset %+v, want event 8", f)
	}
}

// frame is a decoded server frame, for these tests.
type frame struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Head    uint64 `json:"head"`
	Resumed bool   `json:"resumed"`
	Reason  string `json:"reason"`
	First   uint64 `json:"first"`
}

// readFrame reads the next text frame; a close frame fails the test.
func readFrame(t *testing.T, c net.Conn) frame {
	t.Helper()
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		fh, p, err := readServerFrame(c)
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		switch fh.OpCode {
		case ws.OpText:
			var f frame
			if err := json.Unmarshal(p, &f); err != nil {
				t.Fatalf("frame %s: %v", p, err)
			}
			return f
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(p)
			t.Fatalf("closed with %d %q, want a frame", code, reason)
		}
	}
}
