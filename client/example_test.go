package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/orgstream/orgstream/client"
)

// A follower that keeps what it receives and survives restarts by
// persisting its position. It needs a running orgstream daemon, so it has
// no Output and is compiled, not run.
func ExampleClient() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var saved []byte // the events' data, copied (Data is only valid during OnEvent)
	c, err := client.New(client.Config{
		URL: "ws://127.0.0.1:8080/v2/realtime/stream",
		TokenFunc: func(ctx context.Context) (string, error) {
			return os.Getenv("ORGSTREAM_TOKEN"), nil // e.g. ask your auth service
		},
		Compression: true,
		// Where a previous run stopped (see Position below).
		Epoch: os.Getenv("EPOCH"), LastSeq: 0, Resume: os.Getenv("EPOCH") != "",
		OnEvent: func(e client.Event) {
			saved = append(saved, bytes.Clone(e.Data)...)
		},
		OnReset: func(r client.Reset) {
			log.Printf("events up to %d are not replayable (%s): refetch them", r.Head, r.Reason)
		},
		OnClose: func(code int, reason string, err error) {
			log.Printf("connection ended: %d %q %v", code, reason, err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err) // a permanent error: bad token, refused...
	}
	epoch, last := c.Position()
	fmt.Printf("stopped at %s/%d after %+v\n", epoch, last, c.Stats())
}

// Publishing with ids and safe retries: the Publisher gives each event an
// id (unless it has one) and retries 503s and network errors with the same
// ids, so an event is stored once even when an answer is lost. Compiled,
// not run (it needs a daemon).
func ExamplePublisher() {
	p, err := client.NewPublisher(client.PublisherConfig{
		URL:   "http://127.0.0.1:8080",
		Org:   "acme",
		Token: os.Getenv("ORGSTREAM_PUBLISH_TOKEN"),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ack, err := p.Publish(ctx, client.Message{Topic: "orders.updated", Data: []byte(`{"id":42}`)})
	switch {
	case errors.Is(err, client.ErrPublishRefused):
		log.Fatal(err) // a 4xx: fix the request or the token
	case errors.Is(err, client.ErrOutcomeUnknown):
		// Retries ran out: publish again later with the same id
		// (err.(*client.PublishError).IDs) to store it at most once.
		log.Fatal(err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("stored as seq", ack.Seq, "with id", ack.ID)

	batch, err := p.PublishBatch(ctx, []client.Message{
		{Topic: "orders.created", Data: []byte(`{"id":43}`), ID: "order-43-v1"}, // a natural key
		{Topic: "orders.created", Data: []byte(`{"id":44}`)},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("seqs", batch.Seqs)
}
