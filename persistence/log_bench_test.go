package persistence

import (
	"context"
	"strconv"
	"testing"

	"github.com/orgstream/orgstream/messages"
)

// BenchmarkAppend measures sequential appends of one writer to one org on
// the embedded server (in-process connection, file store, R1): one event per
// Append, and batches of 100 (one atomic batch each). ns/op is per Append.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			e := startEmbedded(b, b.TempDir())
			l := openJetStream(b, JetStreamConfig{Conn: connect(b, e)})
			benchAppend(b, l, size)
		})
	}
	b.Run("memory", func(b *testing.B) {
		l := NewMemory(MemoryConfig{})
		defer l.Close()
		benchAppend(b, l, 1)
	})
}

func benchAppend(b *testing.B, l Log, size int) {
	ctx := context.Background()
	ds := make([]messages.Draft, size)
	for i := range ds {
		ds[i] = messages.Draft{Topic: "orders.updated", Data: []byte(`{"order":12345,"status":"shipped"}`)}
	}
	var h Head
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := l.Append(ctx, "bench", h, ds)
		if err != nil {
			b.Fatal(err)
		}
		h = res.Head
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendWithDuplicate measures the append of a batch of 1000 drafts
// with IDs, one of them a duplicate (the duplicates are found, then the new
// drafts stored as one atomic batch), on the embedded server (R1). ns/op is
// per Append.
func BenchmarkAppendWithDuplicate(b *testing.B) {
	e := startEmbedded(b, b.TempDir())
	l := openJetStream(b, JetStreamConfig{Conn: connect(b, e)})
	ctx := context.Background()
	h := Head{}
	ds := make([]messages.Draft, 1000)
	b.ReportAllocs()
	for r := 0; b.Loop(); r++ {
		seed := "seed-" + strconv.Itoa(r)
		b.StopTimer()
		res, err := l.Append(ctx, "bench", h, []messages.Draft{{Topic: "t", ID: seed, Data: []byte(`1`)}})
		if err != nil {
			b.Fatal(err)
		}
		h = res.Head
		for i := range ds {
			ds[i] = messages.Draft{Topic: "t", ID: strconv.Itoa(r) + "-" + strconv.Itoa(i), Data: []byte(`{"order":12345}`)}
		}
		ds[500].ID = seed
		b.StartTimer()
		if res, err = l.Append(ctx, "bench", h, ds); err != nil || !res.Duplicate[500] {
			b.Fatal(res.Duplicate[500], err)
		}
		h = res.Head
	}
}
