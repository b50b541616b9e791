package messages_test

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/gobwas/ws"

	"github.com/orgstream/orgstream/messages"
)

func Example() {
	body := []byte(`{"topic":"orders.updated","data":{"any": "json"},"id":"k-1"}`)
	p, err := messages.ParsePublish(body)
	if err != nil {
		fmt.Println(err) // a *messages.Error: its Code goes to the client
		return
	}
	d := p.Drafts[0]

	// The log gives the draft its seq and time; the frame is encoded once
	// and its bytes written to every connection.
	f := messages.EncodeEvent(messages.Event{
		Seq:   1001,
		Topic: d.Topic,
		ID:    d.ID,
		Time:  time.Date(2026, 11, 28, 10, 0, 0, 123456000, time.UTC),
		Data:  d.Data,
	})

	// What a client reads: one final text frame holding the JSON.
	r := bytes.NewReader(f.For(messages.EncWS))
	h, _ := ws.ReadHeader(r)
	payload, _ := io.ReadAll(r)
	fmt.Println(h.OpCode == ws.OpText, h.Fin, h.Length == int64(len(payload)))
	fmt.Println(string(payload))

	_, err = messages.ParsePublish([]byte(`{"topic":"orders.*","data":1}`))
	fmt.Println(err)
	// Output:
	// true true true
	// {"type":"event","seq":1001,"topic":"orders.updated","ts":"2026-11-28T10:00:00.123456Z","id":"k-1","data":{"any": "json"}}
	// invalid_topic: "topic" must match ^[A-Za-z0-9_.-]{1,256}$
}
