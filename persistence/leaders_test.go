package persistence

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Six R3 streams on three clustered servers, every leader on n1: the
// balancers of the three servers, each moving only its own streams, spread
// the leaders two per server, with four moves and no more.
func TestLeaderBalancerSpreads(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster formation takes seconds")
	}
	nodes := startCluster3(t)
	conns := make([]*nats.Conn, len(nodes))
	for i, e := range nodes {
		conns[i] = connect(t, e)
	}
	js, err := jetstream.New(conns[0])
	if err != nil {
		t.Fatal(err)
	}
	streams := make([]string, 6)
	for i := range streams {
		streams[i] = fmt.Sprintf("BALANCE_%d", i)
		cfg := jetstream.StreamConfig{Name: streams[i], Subjects: []string{fmt.Sprintf("balance.%d", i)}, Replicas: 3}
		for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := js.CreateOrUpdateStream(cctx, cfg)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("create %s: %v", streams[i], err)
			}
		}
	}
	// Every leader onto n1.
	for _, s := range streams {
		eventually(t, 30*time.Second, s+" led by n1", func() bool {
			ps := placements(t, conns[0], streams)
			for _, p := range ps {
				if p.stream == s && p.leader == "n1" {
					return p.settled()
				}
			}
			m := nats.NewMsg("$JS.API.STREAM.LEADER.STEPDOWN." + s)
			m.Data = []byte(`{"placement":{"preferred":"n1"}}`)
			_, _ = conns[0].RequestMsg(m, 2*time.Second)
			return false
		})
	}
	if _, counts, ok := spreadOf(placements(t, conns[0], streams)); ok {
		t.Fatalf("leaders already spread before the balancers start: %v", counts)
	}

	// Set before the balancers start, restored after they stopped
	// (cleanups run last first).
	old := settleDelay
	t.Cleanup(func() { settleDelay = old })
	settleDelay = 200 * time.Millisecond
	var moves atomic.Int64
	for i, nc := range conns {
		b, err := StartLeaderBalancer(LeaderBalancerConfig{
			Conn: nc, Streams: streams, Interval: time.Second,
			OnMove: func(stream, from, to string) {
				if want := fmt.Sprintf("n%d", i+1); from != want {
					t.Errorf("the balancer of %s moved %s from %s", want, stream, from)
				}
				moves.Add(1)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
	}
	var counts []int
	eventually(t, 45*time.Second, "leaders spread within ±1", func() bool {
		var ok bool
		_, counts, ok = spreadOf(placements(t, conns[0], streams))
		return ok && len(counts) == 3
	})
	// Balanced means no further move: wait past a few rounds.
	time.Sleep(2 * time.Second)
	if _, c, ok := spreadOf(placements(t, conns[0], streams)); !ok || moves.Load() != 4 {
		t.Fatalf("after spreading (%v): counts %v, %d moves (want 4)", counts, c, moves.Load())
	}
}

// placements reads every stream's placement as the balancer does; a
// stream that does not answer has no leader.
func placements(t *testing.T, nc *nats.Conn, streams []string) []placement {
	t.Helper()
	b := &LeaderBalancer{cfg: LeaderBalancerConfig{Conn: nc, RequestTimeout: 2 * time.Second}}
	var ps []placement
	for _, s := range streams {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		p, err := b.placement(ctx, s)
		cancel()
		if err != nil {
			p = placement{stream: s}
		}
		ps = append(ps, p)
	}
	return ps
}

// spreadOf returns the leader count of each online server in ps (by
// name) and whether they are within ±1. A stream without a leader is not
// spread.
func spreadOf(ps []placement) (map[string]int, []int, bool) {
	leads := leaderCounts(ps)
	lo, hi := len(ps), 0
	var counts []int
	for _, n := range []string{"n1", "n2", "n3"} {
		counts = append(counts, leads[n])
	}
	for _, c := range leads {
		lo, hi = min(lo, c), max(hi, c)
	}
	for _, p := range ps {
		if p.leader == "" {
			return leads, counts, false
		}
	}
	return leads, counts, hi-lo <= 1
}
