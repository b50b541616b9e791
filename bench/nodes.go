package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// ParseURLList parses a comma-separated list of base URLs
// ("http://a:1,http://b:2"): each http or https with a host and nothing
// else (no path, query, fragment or user info; a trailing slash is
// dropped), no URL twice.
// Spaces around the commas are ignored.
func ParseURLList(s string) ([]string, error) {
	var urls []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimRight(strings.TrimSpace(f), "/")
		u, err := url.Parse(f)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
			u.User != nil || u.RawQuery != "" || u.ForceQuery || strings.Contains(f, "#") {
			return nil, fmt.Errorf("%w: URL %q: want http(s)://host:port (several: comma-separated)", ErrConfig, f)
		}
		if seen[f] {
			return nil, fmt.Errorf("%w: URL %q given twice", ErrConfig, f)
		}
		seen[f] = true
		urls = append(urls, f)
	}
	return urls, nil
}

// nodeFor is the node of stream i when streams read org i mod orgs from
// nodes nodes: each org's streams go round-robin over the nodes, each org
// starting one node further, so that every org has readers on every node
// (whatever orgs and nodes are) and the nodes get as many streams as can
// be.
func nodeFor(i, orgs, nodes int) int {
	if nodes <= 1 || orgs < 1 {
		return 0
	}
	return (i/orgs + i%orgs) % nodes
}

// streamsPerNode counts the streams nodeFor puts on each node.
func streamsPerNode(n, orgs, nodes int) []int {
	counts := make([]int, max(nodes, 1))
	for i := range n {
		counts[nodeFor(i, orgs, nodes)]++
	}
	return counts
}

// nodeSnapshot is one node's open streams (by its metrics) and RSS at a
// moment.
type nodeSnapshot struct {
	conns   int64
	connsOK bool
	rss     int64
	rssOK   bool
}

// nodeSnapshots reads every node's streams and RSS.
func (t *Target) nodeSnapshots(ctx context.Context) []nodeSnapshot {
	s := make([]nodeSnapshot, len(t.Nodes))
	for i := range t.Nodes {
		if m, err := t.NodeMetrics(ctx, i); err == nil {
			s[i].conns, s[i].connsOK = m.Connections, true
		}
		s[i].rss, s[i].rssOK = t.NodeRSS(i)
	}
	return s
}

// nodeParams records the node count and the spread of streams and
// publishers over the nodes.
func nodeParams(r *Result, t *Target, streams, orgs int) {
	r.param("nodes", len(t.Nodes))
	if len(t.Nodes) < 2 {
		return
	}
	counts := streamsPerNode(streams, orgs, len(t.Nodes))
	parts := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		parts[i] = fmt.Sprintf("%s %d", n.Name, counts[i])
	}
	r.param("streams per node", strings.Join(parts, ", "))
	r.param("publishers", fmt.Sprintf("org i through node i mod %d", len(t.Nodes)))
}

// recordNodes adds, per node, the streams open by its metrics (from
// conns) and its RSS (from mem), and the RSS of all nodes together.
func recordNodes(r *Result, t *Target, conns, mem []nodeSnapshot) {
	var total int64
	all := len(mem) > 0
	for i, n := range t.Nodes {
		if i < len(conns) && conns[i].connsOK {
			r.metric("node "+n.Name+": streams open", float64(conns[i].conns), "", "")
		}
		if i < len(mem) && mem[i].rssOK {
			r.metric("node "+n.Name+": RSS", float64(mem[i].rss)/mib, "MiB", "")
			total += mem[i].rss
		} else {
			all = false
		}
	}
	switch {
	case all:
		r.metric("daemon RSS total", float64(total)/mib, "MiB", "")
	case len(t.Nodes) > 1:
		r.notef("RSS not measured on every node (PIDs unknown: pass --pid, one per --url)")
	default:
		r.notef("daemon RSS not measured (PID unknown: pass --pid)")
	}
}
