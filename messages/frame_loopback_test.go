package messages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The frames work on a real socket with an independent client: a gobwas/ws
// server that negotiated permessage-deflate writes the shared bytes as they
// are, and a coder/websocket client reads the JSON back.
func TestFramesOverLoopback(t *testing.T) {
	big := Event{Seq: 8, Topic: "big", Time: ts0, Data: json.RawMessage(`{"s":"` + strings.Repeat("payload ", 400) + `"}`)}
	frames := []Frame{
		EncodeWelcome(Welcome{ConnID: "c-1", Org: "acme", User: "alice", Epoch: "e-1", Head: 7}),
		EncodeEvent(Event{Seq: 7, Topic: "small", Time: ts0, Data: json.RawMessage(`{"a":1}`)}),
		EncodeEvent(big),
		EncodeEvent(big), // a second compressed message: no shared context
		EncodeReset(Reset{Reason: ResetWindowExceeded, First: 2, Head: 8}),
	}
	if frames[2].Deflated == nil {
		t.Fatal("big event has no deflated frame")
	}
	cases := []struct {
		name    string
		mode    websocket.CompressionMode
		deflate bool
	}{
		{
			name:    "client offers no context takeover",
			mode:    websocket.CompressionNoContextTakeover,
			deflate: true,
		},
		{
			name:    "client offers context takeover",
			mode:    websocket.CompressionContextTakeover,
			deflate: true,
		},
		{
			name:    "client without compression",
			mode:    websocket.CompressionDisabled,
			deflate: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, tc.mode, tc.deflate, frames)
			if len(got) != len(frames) {
				t.Fatalf(
					"client read %d messages, want %d",
					len(got), len(frames),
				)
			}
			for i, f := range frames {
				if want := framePayload(t, f.Plain); !bytes.Equal(got[i], want) {
					t.Fatalf(
						"message %d: got %.80q, want %.80q",
						i, got[i], want,
					)
				}
			}
		})
	}
}

// exchange upgrades one loopback connection, writes frames with For(deflate)
// once the server accepted (or not) permessage-deflate, and returns what
// the client read.
func exchange(t *testing.T, mode websocket.CompressionMode, deflate bool, frames []Frame) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	serverErr := make(chan error, 1)
	go func() {
		serverErr <- serve(ln, deflate, frames)
	}()

	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/", &websocket.DialOptions{
		CompressionMode: mode,
	})
	if err != nil {
		t.Fatalf(
			"dial: %v",
			err,
		)
	}
	var got [][]byte
	for range frames {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf(
				"read: %v",
				err,
			)
		}
		if typ != websocket.MessageText {
			t.Fatalf(
				"message type %v, want text",
				typ,
			)
		}
		got = append(got, msg)
	}
	_ = c.CloseNow()
	if err := <-serverErr; err != nil {
		t.Fatalf(
			"server: %v",
			err,
		)
	}
	return got
}

func serve(ln net.Listener, wantDeflate bool, frames []Frame) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	ext := wsflate.Extension{Parameters: wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
	}}
	u := ws.Upgrader{Negotiate: ext.Negotiate}
	_, err = u.Upgrade(conn)
	if err != nil {
		return err
	}
	_, accepted := ext.Accepted()
	if accepted != wantDeflate {
		return fmt.Errorf(
			"permessage-deflate accepted = %v, want %v",
			accepted, wantDeflate,
		)
	}
	for _, f := range frames {
		_, err = conn.Write(f.For(WSEncoding(accepted)))
		if err != nil {
			return err
		}
	}
	// Wait for the client to go away.
	_, _ = io.Copy(io.Discard, conn)
	return nil
}
