package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/metrics"
)

// TestClusterLeadersSpread (issue 13): the leaders of the log's streams
// spread within ±1 over the three nodes; after a kill -9 of the node
// leading the most and its restart, they spread again within a minute
// (each node's leader balancer hands its extra streams to the least loaded
// node whose replica is current). The streams are the ones the metrics
// name ("log.streams"); with a binary that splits the log into partitions
// the nodes run 6 of them.
func TestClusterLeadersSpread(t *testing.T) {
	closeIdle(t)
	var extra []string
	if acceptsFlag(t, "--partitions") {
		extra = []string{"--partitions", "6"}
	}
	c := startClusterWith(t, 3, extra...)
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()

	counts := c.waitSpread(hc, 0, time.Minute)
	busiest := 0
	for i, n := range counts {
		if n > counts[busiest] {
			busiest = i
		}
	}
	t.Logf("leaders per node %v; kill -9 n%d", counts, busiest+1)
	c.node(busiest).Kill()
	via := (busiest + 1) % 3
	// The survivors take over every stream before the node comes back.
	c.waitLeaders(hc, via, busiest, time.Minute)
	c.restart(busiest)
	start := time.Now()
	counts = c.waitSpread(hc, via, time.Minute)
	t.Logf("spread again %v after the restart: %v", time.Since(start).Round(100*time.Millisecond), counts)
}

// acceptsFlag tells whether `orgstream serve -h` lists flag.
func acceptsFlag(t *testing.T, flag string) bool {
	t.Helper()
	out, _ := exec.Command(binPath, "serve", "-h").CombinedOutput()
	return strings.Contains(string(out), flag+" ") || strings.Contains(string(out), flag+"\n") ||
		strings.Contains(string(out), flag+"=")
}

// logStreams reads the "log" member of node via's JSON metrics: each
// stream's leader (nil on any error).
func logStreams(hc *http.Client, base string) map[string]string {
	resp, err := hc.Get(base + "/v2/realtime/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var doc metrics.Snapshot
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil {
		return nil
	}
	return doc.Log.Leaders()
}

// leaderCounts counts the streams each node of c leads as node via's
// metrics show them; ok is false while a stream has no leader or one is
// not a node of c.
func (c *cluster) leaderCounts(hc *http.Client, via int) (counts []int, ok bool) {
	streams := logStreams(hc, c.node(via).Base)
	counts = make([]int, len(c.specs))
	for _, leader := range streams {
		var i int
		if _, err := fmt.Sscanf(leader, "n%d", &i); err != nil || i < 1 || i > len(counts) {
			return counts, false
		}
		counts[i-1]++
	}
	return counts, len(streams) > 0
}

// waitSpread waits until every stream has a leader and the nodes lead
// within ±1 of each other, as node via's metrics show (the log probe
// refreshes them every second).
func (c *cluster) waitSpread(hc *http.Client, via int, within time.Duration) []int {
	c.t.Helper()
	var counts []int
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		var ok bool
		if counts, ok = c.leaderCounts(hc, via); ok && spreadWithin1(counts) {
			return counts
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("e2e: leaders not spread within ±1 after %v: %v (via n%d: %v)", within, counts, via+1, logStreams(hc, c.node(via).Base))
		}
	}
}

// waitLeaders waits until every stream has a leader other than node gone.
func (c *cluster) waitLeaders(hc *http.Client, via, gone int, within time.Duration) {
	c.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		if counts, ok := c.leaderCounts(hc, via); ok && counts[gone] == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("e2e: streams without a leader %v after n%d died: %v", within, gone+1, logStreams(hc, c.node(via).Base))
		}
	}
}

func spreadWithin1(counts []int) bool {
	lo, hi := counts[0], counts[0]
	for _, n := range counts {
		lo, hi = min(lo, n), max(hi, n)
	}
	return hi-lo <= 1
}
