package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// Example runs the org log on an embedded server: append with conflict
// retry, read back, follow.
func Example() {
	dir, err := os.MkdirTemp("", "orgstream-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	e, err := persistence.StartEmbedded(persistence.EmbeddedConfig{DataDir: dir, Listen: persistence.ListenOff})
	if err != nil {
		panic(err)
	}
	defer e.Shutdown()
	nc, err := e.Connect()
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log, err := persistence.OpenJetStream(ctx, persistence.JetStreamConfig{Conn: nc})
	if err != nil {
		panic(err)
	}
	defer log.Close()

	appendOne := func(topic, data string) uint64 {
		d := []messages.Draft{{Topic: topic, Data: []byte(data)}}
		for {
			h, err := log.Head(ctx, "acme")
			if err != nil {
				panic(err)
			}
			res, err := log.Append(ctx, "acme", h, d)
			if errors.Is(err, persistence.ErrConflict) {
				continue // another writer got in first
			}
			if err != nil {
				panic(err)
			}
			return res.Seqs[0]
		}
	}
	fmt.Println("seq", appendOne("orders.created", `{"id":1}`))

	got := make(chan messages.Event, 10)
	f, err := log.Follow("acme", 0, func(ev messages.Event) { got <- ev })
	if err != nil {
		panic(err)
	}
	defer f.Stop()
	fmt.Println("seq", appendOne("orders.updated", `{"id":1,"paid":true}`))
	for range 2 {
		ev := <-got
		fmt.Println("followed", ev.Seq, ev.Topic, string(ev.Data))
	}
	first, head, err := log.Bounds(ctx, "acme")
	fmt.Println("bounds", first, head, err)
	// Output:
	// seq 1
	// seq 2
	// followed 1 orders.created {"id":1}
	// followed 2 orders.updated {"id":1,"paid":true}
	// bounds 1 2 <nil>
}
