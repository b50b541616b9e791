package persistence

import (
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// hdrExpectSubjSeqSubject names the subject whose last sequence JetStream
// compares with Nats-Expected-Last-Subject-Sequence instead of the
// message's own subject.
const hdrExpectSubjSeqSubject = "Nats-Expected-Last-Subject-Sequence-Subject"

// checkPlaces turns on the place check of appends (on by itself on a
// replicated stream), so that it runs on a one-server test log too.
func checkPlaces(l *JetStreamLog) { l.checkPlace = true }

// skipPlaces turns the place check off (to measure what it costs).
func skipPlaces(l *JetStreamLog) { l.checkPlace = false }

// acceptStaleOnce makes the next append of l pass a stale expectation,
// exactly what a leader change can make the server do (log_jetstream_collide.go):
// its expectation is checked against the last message of subj (whose
// stream sequence the test made the stale head's Rev) rather than against
// the org's subject, and stored as it was sent.
func acceptStaleOnce(l *JetStreamLog, subj string) {
	var used atomic.Bool
	l.expectSeam = func(m *nats.Msg) {
		if used.CompareAndSwap(false, true) {
			m.Header[hdrExpectSubjSeqSubject] = []string{subj}
		}
	}
}

// dropMarkers makes l's marker writer drop every marker write, as a process
// killed right after its events would: the events are stored, their
// markers never are.
func dropMarkers(l *JetStreamLog) {
	l.markers.mu.Lock()
	defer l.markers.mu.Unlock()
	l.markers.sendSeam = func(*nats.Msg) bool { return false }
}
