package client

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// BenchmarkPublisherBatched: b.N events handed to PublishAsync as fast as
// the Publisher takes them (at most MaxPending queued), against a real
// node over HTTP; the Publisher coalesces them into batch requests.
// Reports the events per request it reached.
func BenchmarkPublisherBatched(b *testing.B) {
	n := testkit.StartNode(b, nil)
	p, err := NewPublisher(PublisherConfig{URL: n.BaseURL(), Org: "bench", Token: n.Token(b, "bench", "pub", time.Hour, true)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	data := json.RawMessage(`{"pad":"` + string(make([]byte, 0, 240)) + `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	if _, err := p.Publish(ctx, Message{Topic: "t", Data: data}); err != nil {
		b.Fatal(err) // the org is loaded before the clock starts
	}
	ps := make([]*Pending, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pd, err := p.PublishAsync(ctx, Message{Topic: "t", Data: data})
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, pd)
	}
	var reqs float64
	for _, pd := range ps {
		a, err := pd.Wait(ctx)
		if err != nil {
			b.Fatal(err)
		}
		reqs += 1 / float64(a.Batched)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/reqs, "events/req")
}
