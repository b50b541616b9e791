package client

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPublisherTake: which queued groups one request takes.
func TestPublisherTake(t *testing.T) {
	big := Message{Topic: "t", Data: []byte(`"` + strings.Repeat("x", maxBody/3) + `"`)}
	one := Message{Topic: "t", Data: []byte(`1`)}
	bad := Message{Topic: "no spaces", Data: []byte(`1`)}
	huge := Message{Topic: "t", Data: []byte(`"` + strings.Repeat("x", maxBody) + `"`)}
	batch := func(n int) []Message {
		ms := make([]Message, n)
		for i := range ms {
			ms[i] = one
		}
		return ms
	}
	for _, tc := range []struct {
		name     string
		maxBatch int
		minBatch int
		groups   [][]Message
		want     []int // groups per request, in order
	}{
		{"all in one", 0, 1, [][]Message{{one}, {one}, batch(3), {one}}, []int{4}},
		{"max events", 4, 1, [][]Message{{one}, {one}, {one}, {one}, {one}}, []int{4, 1}},
		{"a batch is not split", 5, 1, [][]Message{{one}, batch(4), {one}, {one}}, []int{2, 2}},
		{"a batch over the max goes alone", 2, 1, [][]Message{batch(3), {one}}, []int{1, 1}},
		{"1 MiB body", 0, 1, [][]Message{{big}, {big}, {big}, {one}}, []int{2, 2}},
		{"a bad topic goes alone", 0, 1, [][]Message{{one}, {bad}, {one}, {one}}, []int{1, 1, 2}},
		{"a bad topic in a batch", 0, 1, [][]Message{{one}, {one, bad}, {one}}, []int{1, 1, 1}},
		{"below MinBatchEvents singles go alone", 0, 4, [][]Message{{one}, {one}, {one}}, []int{1, 1, 1}},
		{"from MinBatchEvents on they coalesce", 0, 4, [][]Message{{one}, {one}, {one}, {one}, {one}}, []int{5}},
		{"a caller's batch takes singles along", 0, 4, [][]Message{batch(2), {one}}, []int{2}},
		{"over 1 MiB goes alone", 0, 1, [][]Message{{one}, {huge}, {one}}, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPublisher(PublisherConfig{URL: "http://127.0.0.1:1", Org: "a", Token: "x", MaxBatchEvents: tc.maxBatch, MinBatchEvents: tc.minBatch})
			if err != nil {
				t.Fatal(err)
			}
			for _, ms := range tc.groups {
				g, err := newGroup(context.Background(), ms, len(ms) == 1)
				if err != nil {
					t.Fatal(err)
				}
				p.q.groups = append(p.q.groups, g)
				p.q.events += len(ms)
			}
			p.q.inFlight = 1
			var got []int
			for {
				gs, _ := p.take()
				if gs == nil {
					break
				}
				got = append(got, len(gs))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("requests of %v groups, want %v", got, tc.want)
			}
			if p.q.events != 0 || p.q.inFlight != 0 {
				t.Fatalf("%d events queued, %d in flight after the queue emptied", p.q.events, p.q.inFlight)
			}
		})
	}
}

// TestPublisherBackpressure: past MaxPending queued events a publish waits
// for room, and gives up with its context (nothing queued); a request to a
// daemon that never answers holds the queue until Shutdown's bound.
func TestPublisherBackpressure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 8)
	go func() { // accept and never answer
		for {
			c, err := ln.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- c
		}
	}()
	defer func() {
		_ = ln.Close()
		for c := range held {
			_ = c.Close()
		}
	}()
	p, err := NewPublisher(PublisherConfig{URL: "http://" + ln.Addr().String(), Org: "a", Token: "x",
		MaxBatchEvents: 1, MaxPending: 2})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*Pending
	for i := range 3 { // one in flight (once taken), two queued
		pd, err := p.PublishAsync(context.Background(), num(i))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, pd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.PublishAsync(ctx, num(3)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish past MaxPending: %v", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer scancel()
	if err := p.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := ps[0].Wait(context.Background()); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("event in flight: %v", err)
	}
	for _, pd := range ps[1:] {
		if _, err := pd.Wait(context.Background()); !errors.Is(err, ErrPublisherClosed) {
			t.Fatalf("event queued: %v", err)
		}
	}
}
