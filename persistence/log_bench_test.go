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
			benchAppend(b, l, "bench", size)
		})
	}
	b.Run("memory", func(b *testing.B) {
		l := NewMemory(MemoryConfig{})
		defer l.Close()
		benchAppend(b, l, "bench", 1)
	})
}

// BenchmarkAppendR3 measures sequential appends of one event on a
// replicated stream (three embedded servers on loopback, the writer on the
// first), with and without the check of each append's place
// (log_jetstream_collide.go: one Direct Get).
func BenchmarkAppendR3(b *testing.B) {
	nodes := startCluster3(b)
	l := openJetStream(b, JetStreamConfig{Conn: connect(b, nodes[0]), Replicas: 3})
	runs := 0
	for _, check := range []bool{true, false} {
		b.Run("check="+strconv.FormatBool(check), func(b *testing.B) {
			if !check {
				skipPlaces(l)
				defer checkPlaces(l)
			}
			runs++ // a fresh org for each run: every run starts at Head{}
			benchAppend(b, l, "bench"+strconv.Itoa(runs), 1)
		})
	}
}

func benchAppend(b *testing.B, l Log, org string, size int) {
	ctx := context.Background()
	ds := make([]messages.Draft, size)
	for i := range ds {
		ds[i] = messages.Draft{Topic: "orders.updated", Data: []byte(`{"order":12345,"status":"shipped"}`)}
	}
	var h Head
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := l.Append(ctx, org, h, ds)
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
