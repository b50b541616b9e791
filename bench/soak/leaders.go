package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/orgstream/orgstream/metrics"
)

// busiestLeader finds the node leading the most of the log's streams, as
// an operator would: the "log" member of a node's JSON metrics (PROTOCOL.md
// v2: each stream and the name of the node leading it), asked of each node
// in turn until one answers with every stream led. names are the nodes'
// names (--node-name), urls their base URLs. Ties go to the lower index.
// The note says how many streams it led.
func busiestLeader(ctx context.Context, hc *http.Client, names, urls []string) (int, string, error) {
	var last error
	for _, u := range urls {
		streams, err := logLeaders(ctx, hc, u)
		if err != nil {
			last = err
			continue
		}
		leads := make([]int, len(names))
		known := 0
		for _, leader := range streams {
			for i, n := range names {
				if n == leader {
					leads[i]++
					known++
				}
			}
		}
		if known != len(streams) || known == 0 {
			last = fmt.Errorf("%s names leaders %v: not every stream led by a node", u, streams)
			continue
		}
		best := 0
		for i := range leads {
			if leads[i] > leads[best] {
				best = i
			}
		}
		return best, fmt.Sprintf("led %d of %d log streams", leads[best], len(streams)), nil
	}
	return 0, "", fmt.Errorf("soak: no node names the log's leaders: %w", last)
}

// logLeaders reads GET /v2/realtime/metrics at base: stream → leader.
func logLeaders(ctx context.Context, hc *http.Client, base string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/realtime/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("soak: metrics request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("soak: metrics of %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("soak: metrics of %s: %s", base, resp.Status)
	}
	var doc metrics.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("soak: metrics of %s: %w", base, err)
	}
	return doc.Log.Leaders(), nil
}
