package bench

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

func TestParseURLList(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil: an error
	}{
		{"http://127.0.0.1:8080", []string{"http://127.0.0.1:8080"}},
		{"http://127.0.0.1:8080/", []string{"http://127.0.0.1:8080"}},
		{"http://a:1,http://b:2,https://c:3", []string{"http://a:1", "http://b:2", "https://c:3"}},
		{" http://a:1 , http://b:2/ ", []string{"http://a:1", "http://b:2"}},
		{"http://[::1]:80,http://a", []string{"http://[::1]:80", "http://a"}},
		{"", nil},
		{"http://a:1,", nil},
		{",http://a:1", nil},
		{"http://a:1,,http://b:2", nil},
		{"ftp://a:1", nil},
		{"a:1", nil},
		{"http://", nil},
		{"http://a:1,http://a:1/", nil},
		{"http://a:1/prefix", nil},
		{"http://a:1?x=1", nil},
		{"http://a:1?", nil},
		{"http://a:1#f", nil},
		{"http://u:p@a:1", nil},
		{"http://a b:1", nil},
		{"http:a", nil},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseURLList(tc.in)
			if tc.want == nil {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("ParseURLList(%q) = %v, %v; want ErrConfig", tc.in, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ParseURLList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzParseURLList(f *testing.F) {
	for _, s := range []string{"http://a:1", "http://a:1,https://b:2/", " http://[::1]:80 ,http://c", "http://a:1?", "x,y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		urls, err := ParseURLList(s)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v is not ErrConfig", err)
			}
			return
		}
		if len(urls) != strings.Count(s, ",")+1 {
			t.Fatalf("%q: %d URLs for %d fields", s, len(urls), strings.Count(s, ",")+1)
		}
		seen := map[string]bool{}
		for _, raw := range urls {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || seen[raw] {
				t.Fatalf("%q: accepted %q (%v)", s, raw, err)
			}
			seen[raw] = true
			if again, err := ParseURLList(raw); err != nil || len(again) != 1 || again[0] != raw {
				t.Fatalf("%q does not parse back to itself: %v %v", raw, again, err)
			}
		}
	})
}

func TestNodeFor(t *testing.T) {
	cases := []struct {
		name               string
		conns, orgs, nodes int
		perNode            []int
	}{
		{"one node", 10, 3, 1, []int{10}},
		{"3000 over 10 orgs, 3 nodes", 3000, 10, 3, []int{1000, 1000, 1000}},
		{"orgs a multiple of nodes", 300, 3, 3, []int{100, 100, 100}},
		{"orgs = nodes = 2", 8, 2, 2, []int{4, 4}},
		{"one org", 7, 1, 3, []int{3, 2, 2}},
		{"more nodes than streams", 2, 1, 3, []int{1, 1, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := streamsPerNode(tc.conns, tc.orgs, tc.nodes); !slices.Equal(got, tc.perNode) {
				t.Errorf("streams per node = %v, want %v", got, tc.perNode)
			}
			// Every org with at least as many streams as nodes has readers
			// on every node, and its streams differ by at most one per node.
			for org := range tc.orgs {
				counts := make([]int, tc.nodes)
				n := 0
				for i := org; i < tc.conns; i += tc.orgs {
					counts[nodeFor(i, tc.orgs, tc.nodes)]++
					n++
				}
				if n >= tc.nodes && (slices.Min(counts) == 0 || slices.Max(counts)-slices.Min(counts) > 1) {
					t.Errorf("org %d: streams per node %v", org, counts)
				}
			}
		})
	}
	// Consecutive streams of one org go round-robin.
	var seq []int
	for i := 4; i < 4+5*10; i += 10 {
		seq = append(seq, nodeFor(i, 10, 3))
	}
	if !slices.Equal(seq, []int{1, 2, 0, 1, 2}) {
		t.Errorf("org 4's first streams on nodes %v, want 1 2 0 1 2", seq)
	}
}

func TestTargetConfigNodes(t *testing.T) {
	cases := []struct {
		name string
		cfg  TargetConfig
	}{
		{"PIDs without URL", TargetConfig{PIDs: []int{1}}},
		{"PID and PIDs", TargetConfig{URL: "http://a:1", Secret: []byte("s"), PID: 1, PIDs: []int{1}}},
		{"PIDs count", TargetConfig{URL: "http://a:1,http://b:2", Secret: []byte("s"), PIDs: []int{1}}},
		{"PID with a list", TargetConfig{URL: "http://a:1,http://b:2", Secret: []byte("s"), PID: 1}},
		{"zero PID", TargetConfig{URL: "http://a:1", Secret: []byte("s"), PIDs: []int{0}}},
		{"Nodes with URL", TargetConfig{URL: "http://a:1", Secret: []byte("s"), Nodes: 3}},
		{"too many nodes", TargetConfig{Nodes: MaxNodes + 1}},
		{"negative nodes", TargetConfig{Nodes: -1}},
		{"bad URL in list", TargetConfig{URL: "http://a:1,b", Secret: []byte("s")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("validate = %v, want ErrConfig", err)
			}
		})
	}
	ok := TargetConfig{URL: "http://a:1, http://b:2/", Secret: []byte("s"), PIDs: []int{3, 4}}
	if err := ok.validate(); err != nil || !slices.Equal(ok.urls, []string{"http://a:1", "http://b:2"}) {
		t.Errorf("validate = %v, urls %v", err, ok.urls)
	}
	if _, err := StartCluster(context.Background(), 1, DaemonConfig{}); !errors.Is(err, ErrConfig) {
		t.Errorf("a 1-node cluster: err = %v, want ErrConfig", err)
	}
}

func TestFreePortsAndRoutes(t *testing.T) {
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Errorf("ports %v not 3 distinct", ports)
	}
	list := []string{"a", "b", "c"}
	if got := others(list, 1); !slices.Equal(got, []string{"a", "c"}) || !slices.Equal(list, []string{"a", "b", "c"}) {
		t.Errorf("others = %v (list now %v)", got, list)
	}
}

// TestOpenURLList opens two separate in-process nodes sharing a secret as
// one target: streams are spread over both, metrics are summed and
// reported per node.
func TestOpenURLList(t *testing.T) {
	t.Parallel()
	secret := []byte("one secret for both nodes of the test")
	nodes := testkit.StartNodes(t, 2, func(_ int, c *node.Config) { c.JWTSecret = secret })
	ctx := testCtx(t)
	tg, err := Open(ctx, TargetConfig{URL: nodes[0].BaseURL() + "," + nodes[1].BaseURL() + "/", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	if len(tg.Nodes) != 2 || tg.Nodes[1].Name != "n2" || tg.Nodes[1].URL != nodes[1].BaseURL() || tg.BaseURL != nodes[0].BaseURL() {
		t.Fatalf("nodes = %+v", tg.Nodes)
	}
	r, err := RunIdle(ctx, tg, IdleConfig{Conns: 30, Orgs: 3, Hold: 50 * time.Millisecond, Settle: 50 * time.Millisecond})
	requireOK(t, r, err)
	if got := metricValue(t, r, "daemon connections (after connect)"); got != 30 {
		t.Errorf("summed daemon connections = %v, want 30", got)
	}
	for _, name := range []string{"node n1: streams open", "node n2: streams open"} {
		if got := metricValue(t, r, name); got != 15 {
			t.Errorf("%s = %v, want 15", name, got)
		}
	}
	if r.Target.NodeCount != 2 || len(r.Target.Nodes) != 2 {
		t.Errorf("target info = %+v", r.Target)
	}
	var md strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "a 2-node cluster: n1 "+nodes[0].BaseURL()) {
		t.Errorf("results.md does not name the nodes:\n%s", md.String())
	}
}
