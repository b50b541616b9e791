package actors

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// A publish whose publisher was answered 503 before its writer got to it is
// never appended: while the writer's connection to the log is down, one
// publish holds the writer until its deadline (its outcome is unknown: the
// request may reach the log when the connection is back) and a second one
// times out in the writer's queue (log unavailable: nothing stored); after
// the log is back, the second one is not stored.
func TestPublishGivenUpIsNotAppended(t *testing.T) {
	const busySize = 64 << 10
	e := startEmbeddedLog(t)
	nc, reconnect := heldConn(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := persistence.OpenJetStream(ctx, persistence.JetStreamConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	h, err := NewHub(Config{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	ev := func(id string) []messages.Draft {
		return []messages.Draft{{Topic: "t", ID: id, Data: json.RawMessage(`"` + id + `"`)}}
	}
	if _, _, err := h.Publish(ctx, "acme", ev("first")); err != nil {
		t.Fatal(err)
	}

	cid, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Server().DisconnectClientByID(cid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); nc.IsConnected(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer's connection was not cut")
		}
	}
	busy := make(chan error, 1)
	go func() {
		c, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		big := []messages.Draft{{Topic: "t", ID: "busy", Data: json.RawMessage(`"` + strings.Repeat("b", busySize) + `"`)}}
		_, _, err := h.Publish(c, "acme", big)
		busy <- err
	}()
	// "busy" holds the writer once its append waits in the connection's
	// reconnect buffer (told by its size: nothing else sent is that large).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, err := nc.Buffered(); err == nil && n >= busySize {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the busy append never reached the connection")
		}
	}
	late, cancelLate := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err = h.Publish(late, "acme", ev("late"))
	cancelLate()
	if !errors.Is(err, persistence.ErrUnavailable) || errors.Is(err, persistence.ErrOutcomeUnknown) {
		t.Fatalf("late publish: err = %v, want ErrUnavailable (nothing stored)", err)
	}
	busyErr := <-busy
	reconnect()
	if _, _, err := h.Publish(ctx, "acme", ev("after")); err != nil {
		t.Fatal(err)
	}
	evs, err := l.Read(ctx, "acme", 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
		if ev.ID == "late" {
			t.Fatalf("the publish answered 503 was appended later: log holds %v", ids)
		}
	}
	if ids[len(ids)-1] != "after" {
		t.Fatalf("log holds %v, want the last to be after", ids)
	}
	if !errors.Is(busyErr, persistence.ErrOutcomeUnknown) {
		t.Fatalf("busy publish: err = %v, want ErrOutcomeUnknown", busyErr)
	}
}
