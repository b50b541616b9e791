package soak

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Defaults of Config.
const (
	DefaultDuration          = 10 * time.Minute
	DefaultOrgs              = 3
	DefaultSubscribersPerOrg = 2
	DefaultPublishInterval   = 30 * time.Millisecond
	// DefaultPingInterval is the daemons' --ping-interval: short, so that
	// the heartbeat cuts the clients of a paused node quickly.
	DefaultPingInterval = time.Second
	// nodeCount is the cluster size (--replicas 3).
	nodeCount = 3
	// resolveLimit bounds the end of publishing: every batch in flight is
	// retried until acknowledged, within this.
	resolveLimit = 90 * time.Second
	// catchUpLimit bounds the wait for every subscriber to reach the last
	// acknowledged seq of its org.
	catchUpLimit = 60 * time.Second
)

// Config is a campaign.
type Config struct {
	// Duration is the time publishers publish and the nemesis injects
	// faults (the start of the cluster and the final checks come on top).
	Duration time.Duration
	// Seed draws the faults, the publishers' orgs and batches, the
	// subscribers' hops; 0 means one from the clock. It is printed, and the
	// same seed draws the same faults in the same order.
	Seed uint64
	// Faults restricts the kinds drawn (KindKill, KindKillLeader, KindPause,
	// KindClusterRestart, KindPartition, KindDiskFull); empty means every
	// kind that can be injected here.
	Faults []string
	// Orgs and SubscribersPerOrg size the load.
	Orgs              int
	SubscribersPerOrg int
	// PublishInterval is each publisher's pause between two batches.
	PublishInterval time.Duration
	// PingInterval is the daemons' --ping-interval.
	PingInterval time.Duration
	// Daemon is the orgstream binary (bench.DaemonConfig.Path).
	Daemon string
	// DaemonArgs are extra flags of every node's `orgstream serve` (for
	// example --partitions 6), after the campaign's own.
	DaemonArgs []string
	// DataDir is the parent of the nodes' data dirs; empty = a temporary one.
	DataDir string
	// Out is the parent of the report folder (bench.RunDir).
	Out string
	// Log receives the progress lines (seed, faults, verdict); nil = none.
	Log io.Writer
}

func (c *Config) defaults() error {
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Duration < 30*time.Second {
		return fmt.Errorf("soak: duration %s: at least 30s", c.Duration)
	}
	for _, f := range c.Faults {
		if !slices.Contains(kinds, f) {
			return fmt.Errorf("soak: unknown fault %q (known: %v)", f, kinds)
		}
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Orgs == 0 {
		c.Orgs = DefaultOrgs
	}
	if c.SubscribersPerOrg == 0 {
		c.SubscribersPerOrg = DefaultSubscribersPerOrg
	}
	if c.PublishInterval == 0 {
		c.PublishInterval = DefaultPublishInterval
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}
