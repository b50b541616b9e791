package persistence

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Partitions. The events are split over P streams so that their Raft
// leaders (one per stream, the node that takes every write of the stream)
// can sit on different nodes: partition i is the stream ORGSTREAM_P<i>
// (decimal, no padding) with the subjects orgstream.events.p<i>.<org>. An
// org's events all live in one partition, PartitionOf(org, P), so every
// per-org guarantee (consecutive seqs by compare-and-set, atomic batches,
// dedup by Nats-Msg-Id, holes, the live feed's checks) holds unchanged
// inside one stream. The head markers stay in the one ORGSTREAM_HEADS
// stream.

const (
	// DefaultPartitions is the default number of event streams: 12 spreads
	// within ±1 over 3, 4, 6 … 9 nodes (12 = 3·4 = 4·3 = 6·2, and within one
	// stream over 5, 7, 8 and 9).
	DefaultPartitions = 12
	// MaxPartitions bounds --partitions: each replicated stream is a Raft
	// group, and every open and Status asks each one.
	MaxPartitions = 64
	// partitionStreamPrefix + i is the name of partition i's stream.
	partitionStreamPrefix = "ORGSTREAM_P"
)

// PartitionOf is the partition (0..p-1) holding org's events: the 32-bit
// FNV-1a hash of the org's bytes, modulo p. It must never change: a store
// written with one hash would lose track of every org under another. p below
// 1 counts as 1.
func PartitionOf(org string, p int) int {
	if p <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(org))
	return int(h.Sum32() % uint32(p))
}

// PartitionStream is the name of partition i's stream: ORGSTREAM_P<i>.
func PartitionStream(i int) string { return partitionStreamPrefix + strconv.Itoa(i) }

// PartitionSubjectPrefix is the subject prefix of partition i's events:
// PartitionSubjectPrefix(i) + org is an org's subject,
// orgstream.events.p<i>.<org>.
func PartitionSubjectPrefix(i int) string { return EventsPrefix + "p" + strconv.Itoa(i) + "." }

// partition holds the names of one partition's stream, computed once.
type partition struct {
	index  int
	stream string     // ORGSTREAM_P<i>
	events string     // orgstream.events.p<i>. (+ org)
	gets   streamGets // Direct Get and Message Get subjects
	info   string     // the stream's info request subject
	// leaderElected is JetStream's advisory subject for a new leader of
	// the stream.
	leaderElected string
}

// newPartitions names the p partitions.
func newPartitions(p int) []partition {
	parts := make([]partition, p)
	for i := range parts {
		parts[i] = namedPartition(i, PartitionStream(i), PartitionSubjectPrefix(i))
	}
	return parts
}

// namedPartition is stream's names: its events' subject prefix, and the
// JetStream API subjects the log uses on it.
func namedPartition(i int, stream, events string) partition {
	return partition{
		index:         i,
		stream:        stream,
		events:        events,
		gets:          streamGets{direct: directGetPrefix + stream, leader: msgGetPrefix + stream},
		info:          streamInfoPrefix + stream,
		leaderElected: "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED." + stream,
	}
}

// validPartitions checks a partition count.
func validPartitions(p int) error {
	if p < 1 || p > MaxPartitions {
		return fmt.Errorf("persistence: partitions %d not in 1..%d", p, MaxPartitions)
	}
	return nil
}

// StreamOf is the name of the stream holding org's events (its partition's).
func (l *JetStreamLog) StreamOf(org string) string { return l.part(org).stream }

// part is the partition holding org's events.
func (l *JetStreamLog) part(org string) *partition {
	return &l.parts[PartitionOf(org, len(l.parts))]
}

// subject is org's events subject in its partition.
func (l *JetStreamLog) subject(org string) string { return l.part(org).events + org }
