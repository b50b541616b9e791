package soak

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"syscall"
	"time"

	"github.com/orgstream/orgstream/bench"
	"github.com/orgstream/orgstream/internal/ctxwait"
)

// The kinds of fault.
const (
	KindKill = "kill-9"
	// KindKillLeader is kill -9 of the node leading the most of the log's
	// streams (its partitions' leaders), as its metrics name them.
	KindKillLeader     = "kill-9-leader"
	KindPause          = "sigstop"
	KindClusterRestart = "cluster-restart"
	KindPartition      = "partition"
	KindDiskFull       = "disk-full"
)

// kinds are the faults the nemesis always draws from; KindDiskFull is
// added when its small disk could be mounted.
var kinds = []string{KindKill, KindKillLeader, KindPause, KindClusterRestart, KindPartition, KindDiskFull}

// Timing of the nemesis.
const (
	// gapMin and gapMax bound the quiet time before each fault.
	gapMin = 3 * time.Second
	gapMax = 8 * time.Second
	// pauseMin and pauseMax bound a SIGSTOP, a full disk and a partition.
	pauseMin = 2 * time.Second
	pauseMax = 20 * time.Second
	// restartBudget is the time a fault that restarts a node is assumed to
	// need at most (down time + start), to decide whether it still fits.
	restartBudget = 15 * time.Second
	// WriteBound is the contract: after the last fault healed, the cluster
	// accepts a write within this.
	WriteBound = 15 * time.Second
	// probeLimit bounds the wait for a write after a heal.
	probeLimit = 60 * time.Second
	// probeAttempt bounds one probe publish.
	probeAttempt = 2 * time.Second
)

// Fault is one injected fault; times are seconds since the campaign start.
type Fault struct {
	Kind string `json:"kind"`
	// Node is the node hit; empty for the whole cluster.
	Node  string  `json:"node,omitempty"`
	Start float64 `json:"start_s"`
	// Hold is how long the node stayed down or paused, before the restart or
	// SIGCONT.
	Hold float64 `json:"hold_s"`
	// Healed is when the fault ended: the node(s) restarted and ready, or
	// SIGCONT sent.
	Healed float64 `json:"healed_s"`
	// WritesBack is the time from Healed until every node has acknowledged
	// a probe write; -1 if that did not happen within the probe limit.
	WritesBack float64 `json:"writes_back_s"`
	// LongestWriteGap is the longest time without any acknowledged publish
	// between Start and the next fault's start (or the end of publishing).
	LongestWriteGap float64 `json:"longest_write_gap_s"`
	// Note says more (how much filled the disk, whether a restart was
	// needed).
	Note string `json:"note,omitempty"`
	// Err is set when the nemesis failed to inject or heal it.
	Err string `json:"err,omitempty"`
}

// nemesis injects faults into a cluster.
type nemesis struct {
	rng     *rand.Rand
	c       *bench.Cluster
	nodes   *nodes
	start   time.Time
	stopBy  time.Time // no fault may still be active then
	warmUp  time.Duration
	log     io.Writer
	probe   func(ctx context.Context) bool // one write through some node
	faults  []Fault
	drawn   int
	kindSeq []string
	// kinds are the kinds drawn from.
	kinds []string
	// disk is the small disk of node diskNode, nil without one.
	disk *smallDisk
}

// since is seconds since the campaign start.
func (n *nemesis) since(t time.Time) float64 { return t.Sub(n.start).Seconds() }

// nextKind draws the next kind: the first len(kinds) draws are a random
// order of every kind (so that a short campaign sees each), then any.
func (n *nemesis) nextKind() string {
	if n.kindSeq == nil {
		n.kindSeq = make([]string, len(n.kinds))
		for i, p := range n.rng.Perm(len(n.kinds)) {
			n.kindSeq[i] = n.kinds[p]
		}
	}
	n.drawn++
	if n.drawn <= len(n.kindSeq) {
		return n.kindSeq[n.drawn-1]
	}
	return n.kinds[n.rng.IntN(len(n.kinds))]
}

// between draws a duration in [lo, hi).
func (n *nemesis) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)))
}

// run injects faults until the next one would not heal before stopBy, or
// ctx ends. It returns an error only when a node could not be brought back
// (the campaign cannot go on).
func (n *nemesis) run(ctx context.Context) error {
	if !ctxwait.Sleep(ctx, n.warmUp) {
		return nil
	}
	for {
		kind := n.nextKind()
		gap := n.between(gapMin, gapMax)
		node := n.rng.IntN(n.nodes.count())
		hold := n.between(time.Second, 5*time.Second)
		switch kind {
		case KindPause, KindDiskFull, KindPartition:
			hold = n.between(pauseMin, pauseMax)
		}
		left := time.Until(n.stopBy) - gap
		switch {
		case (kind == KindPause || kind == KindPartition) && left < pauseMin:
			return nil
		case kind == KindPause || kind == KindPartition:
			hold = min(hold, left)
		case kind == KindDiskFull && left < pauseMin+diskReadyWait+restartBudget:
			return nil
		case kind == KindDiskFull:
			hold = min(hold, left-diskReadyWait-restartBudget)
		case left < hold+restartBudget:
			return nil
		}
		if !ctxwait.Sleep(ctx, gap) {
			return nil
		}
		f := Fault{Kind: kind, Start: n.since(time.Now()), Hold: hold.Seconds(), WritesBack: -1}
		var err error
		switch kind {
		case KindKill:
			f.Node = n.nodes.name(node)
			err = n.kill(ctx, node, hold)
		case KindKillLeader:
			node, f.Note = n.busiest(ctx, node)
			f.Node = n.nodes.name(node)
			err = n.kill(ctx, node, hold)
		case KindPause:
			f.Node = n.nodes.name(node)
			err = n.pause(ctx, node, hold)
		case KindClusterRestart:
			err = n.restartAll(ctx, hold)
		case KindPartition:
			f.Node = n.nodes.name(node)
			err = n.partition(ctx, node, hold)
		case KindDiskFull:
			node = diskNode
			f.Node = n.nodes.name(node)
			f.Note, err = n.diskFull(ctx, node, hold)
		}
		healed := time.Now()
		f.Healed = n.since(healed)
		if err != nil {
			f.Err = err.Error()
			n.faults = append(n.faults, f)
			fmt.Fprintf(n.log, "soak: %6.1fs %s %s: %v\n", f.Start, f.Kind, f.Node, err)
			return err
		}
		if n.probe(ctx) {
			f.WritesBack = time.Since(healed).Seconds()
		}
		n.faults = append(n.faults, f)
		fmt.Fprintf(n.log, "soak: %6.1fs %-15s %-3s held %4.1fs, healed at %6.1fs, writes back after %.1fs %s\n",
			f.Start, f.Kind, f.Node, f.Hold, f.Healed, f.WritesBack, f.Note)
	}
}

// kill is kill -9 of node i, hold, then its restart.
func (n *nemesis) kill(ctx context.Context, i int, hold time.Duration) error {
	d := n.c.Daemons[i]
	if err := d.Kill(); err != nil {
		return err
	}
	ctxwait.Sleep(ctx, hold)
	if err := d.Restart(ctx); err != nil {
		return err
	}
	n.nodes.refresh(i)
	return nil
}

// busiest is the node leading the most log streams; when no node can
// tell (the metrics unreadable, a stream without a leader) it is fallback,
// and the note says so.
func (n *nemesis) busiest(ctx context.Context, fallback int) (int, string) {
	names := make([]string, n.nodes.count())
	urls := make([]string, n.nodes.count())
	for i := range names {
		names[i], urls[i] = n.nodes.name(i), n.nodes.url(i)
	}
	hc := &http.Client{Timeout: probeAttempt}
	defer hc.CloseIdleConnections()
	i, note, err := busiestLeader(ctx, hc, names, urls)
	if err != nil {
		return fallback, "leader unknown, a random node: " + err.Error()
	}
	return i, note
}

// pause is SIGSTOP of node i for hold, then SIGCONT (even when ctx ends).
func (n *nemesis) pause(ctx context.Context, i int, hold time.Duration) error {
	d := n.c.Daemons[i]
	if err := d.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	ctxwait.Sleep(ctx, hold)
	return d.Signal(syscall.SIGCONT)
}

// partition cuts node i off the other nodes (bench.Cluster.Partition:
// their route traffic held silent, clients still reach every node) for
// hold, then heals it (even when ctx ends).
func (n *nemesis) partition(ctx context.Context, i int, hold time.Duration) error {
	if err := n.c.Partition(i); err != nil {
		return err
	}
	ctxwait.Sleep(ctx, hold)
	return n.c.Heal(i)
}

// restartAll is kill -9 of every node at once, hold, then a start of all.
func (n *nemesis) restartAll(ctx context.Context, hold time.Duration) error {
	for _, d := range n.c.Daemons {
		if err := d.Kill(); err != nil {
			return err
		}
	}
	ctxwait.Sleep(ctx, hold)
	if err := n.c.RestartAll(ctx); err != nil {
		return err
	}
	for i := range n.c.Daemons {
		n.nodes.refresh(i)
	}
	return nil
}
