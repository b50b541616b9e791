package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/orgstream/orgstream/transport/auth"
)

// Defaults of TargetConfig.
const (
	DefaultSourceAddrs = 4
	DefaultDialTimeout = 10 * time.Second
	// tokenTTL outlasts any run: the daemon closes a stream with 4001 when
	// its token expires.
	tokenTTL = 24 * time.Hour
)

// ErrConfig wraps every invalid configuration.
var ErrConfig = errors.New("bench: invalid config")

// TargetConfig says which orgstream a run measures and how clients reach it.
type TargetConfig struct {
	// URL is the base URL of a running orgstream (http://host:port), or the
	// base URLs of the nodes of a running cluster, comma-separated. Empty
	// means start Nodes daemons with Daemon (and stop them on Close).
	URL string
	// Secret is the HS256 key the daemons verify tokens with. Empty means
	// <DataDir>/jwt-secret (for a started daemon: its own data dir; a
	// started cluster always uses the secret it was given).
	Secret []byte
	// DataDir is the data dir of the daemon at URL, to read its jwt-secret
	// from when Secret is empty.
	DataDir string
	// PID is the process id of the daemon at URL (a single one), for its
	// RSS (/proc/PID/status). Zero means unknown, so RSS figures are left
	// out, unless the harness started the daemon.
	PID int
	// PIDs are the process ids of the daemons at a URL list, in its order
	// (one per URL), for their RSS. Empty means unknown; not with PID.
	PIDs []int
	// Nodes is how many daemons are started, as one cluster, when URL is
	// empty. Zero means 1: one daemon on its own (no NATS client port, no
	// routes, the log unreplicated).
	Nodes int
	// SourceAddrs is how many loopback source addresses (127.0.0.2,
	// 127.0.0.3, …) client connections are spread over, each allowing
	// another ~28k connections to one daemon port. Zero means
	// DefaultSourceAddrs; negative means one address chosen by the kernel.
	// Ignored (kernel's choice) for a node whose host is not a loopback IP.
	SourceAddrs int
	// DialTimeout bounds one connect plus WebSocket handshake. Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// Daemon configures the daemons started when URL is empty.
	Daemon DaemonConfig
	// Progress receives a one-line progress display ("\r…") while a
	// scenario runs. Nil means none.
	Progress io.Writer

	urls []string // URL parsed by validate
}

// MaxNodes bounds TargetConfig.Nodes.
const MaxNodes = 9

func (c *TargetConfig) validate() error {
	if c.SourceAddrs == 0 {
		c.SourceAddrs = DefaultSourceAddrs
	}
	if c.SourceAddrs > 250 {
		return fmt.Errorf("%w: SourceAddrs %d > 250", ErrConfig, c.SourceAddrs)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.DialTimeout < 0 || c.PID < 0 || c.Nodes < 0 {
		return fmt.Errorf("%w: negative DialTimeout, PID or Nodes", ErrConfig)
	}
	if c.Nodes > MaxNodes {
		return fmt.Errorf("%w: Nodes %d > %d", ErrConfig, c.Nodes, MaxNodes)
	}
	for _, p := range c.PIDs {
		if p <= 0 {
			return fmt.Errorf("%w: PID %d is not positive", ErrConfig, p)
		}
	}
	if c.PID != 0 && len(c.PIDs) > 0 {
		return fmt.Errorf("%w: PID and PIDs both set", ErrConfig)
	}
	if c.URL == "" {
		if len(c.PIDs) > 0 {
			return fmt.Errorf("%w: PIDs need the URL list they belong to", ErrConfig)
		}
		return nil
	}
	urls, err := ParseURLList(c.URL)
	if err != nil {
		return err
	}
	c.urls = urls
	if c.Nodes > 1 {
		return fmt.Errorf("%w: Nodes is for daemons the harness starts, not with URL", ErrConfig)
	}
	if len(c.PIDs) > 0 && len(c.PIDs) != len(urls) {
		return fmt.Errorf("%w: %d PIDs for %d URLs (one per URL, in order)", ErrConfig, len(c.PIDs), len(urls))
	}
	if c.PID != 0 && len(urls) > 1 {
		return fmt.Errorf("%w: PID with %d URLs: give PIDs, one per URL", ErrConfig, len(urls))
	}
	if len(c.Secret) == 0 && c.DataDir == "" {
		return fmt.Errorf("%w: a URL needs the daemon's secret (Secret or DataDir)", ErrConfig)
	}
	return nil
}

// Target is an orgstream under measurement, one daemon or the nodes of a
// cluster: their addresses, how to mint tokens for them, and (when the
// harness started them) their processes. Methods are safe for concurrent
// use.
type Target struct {
	// BaseURL is the first node's http(s)://host:port.
	BaseURL string
	// PID is the first node's process id, 0 when unknown.
	PID int
	// Started is true when the harness started the daemons.
	Started bool
	// Nodes are the daemons, at least one. Stream i of a fleet reads from
	// node nodeFor(i, orgs, len(Nodes)); org i's publisher posts through
	// node i mod len(Nodes).
	Nodes []TargetNode

	cfg      TargetConfig
	secret   []byte
	ends     []endpoint // per node
	runID    string
	daemon   *Daemon
	cluster  *Cluster
	http     *http.Client
	pubToken string
}

// TargetNode is one daemon of a Target.
type TargetNode struct {
	// Name is the node's --node-name when the harness started it ("bench"
	// alone, b1 … in a cluster), else n1, n2 … in URL order.
	Name string `json:"name"`
	// URL is its base URL.
	URL string `json:"url"`
	// PID is its process id, 0 when unknown.
	PID int `json:"pid,omitempty"`
}

// endpoint is how clients reach one node.
type endpoint struct {
	streamWS string // ws://host:port/v2/realtime/stream
	dialers  []*net.Dialer
}

// Open resolves the target: starts the daemons when cfg.URL is empty (one,
// or a cluster of cfg.Nodes), reads the secret, and prepares the dialers.
// Close releases it.
func Open(ctx context.Context, cfg TargetConfig) (*Target, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Target{cfg: cfg, secret: cfg.Secret}
	switch {
	case cfg.URL != "":
		pids := cfg.PIDs
		if cfg.PID != 0 {
			pids = []int{cfg.PID}
		}
		for i, u := range cfg.urls {
			n := TargetNode{Name: fmt.Sprintf("n%d", i+1), URL: u}
			if i < len(pids) {
				n.PID = pids[i]
			}
			t.Nodes = append(t.Nodes, n)
		}
	case cfg.Nodes > 1:
		c, err := StartCluster(ctx, cfg.Nodes, cfg.Daemon)
		if err != nil {
			return nil, err
		}
		t.cluster, t.Started, t.secret = c, true, c.Secret
		for _, d := range c.Daemons {
			t.Nodes = append(t.Nodes, TargetNode{Name: d.Name, URL: d.URL, PID: d.PID})
		}
	default:
		d, err := StartDaemon(ctx, cfg.Daemon)
		if err != nil {
			return nil, err
		}
		t.daemon, t.Started = d, true
		t.Nodes = []TargetNode{{Name: d.Name, URL: d.URL, PID: d.PID}}
		if len(t.secret) == 0 {
			t.cfg.DataDir = d.DataDir
		}
	}
	t.BaseURL, t.PID = t.Nodes[0].URL, t.Nodes[0].PID
	if len(t.secret) == 0 {
		s, err := readSecretFile(filepath.Join(t.cfg.DataDir, "jwt-secret"))
		if err != nil {
			_ = t.Close()
			return nil, err
		}
		t.secret = s
	}
	for _, n := range t.Nodes {
		u, _ := url.Parse(n.URL)
		ws := "ws"
		if u.Scheme == "https" {
			ws = "wss"
		}
		t.ends = append(t.ends, endpoint{streamWS: ws + "://" + u.Host + "/v2/realtime/stream",
			dialers: makeDialers(u.Hostname(), t.cfg.SourceAddrs, t.cfg.DialTimeout)})
	}
	var id [3]byte
	_, _ = rand.Read(id[:])
	t.runID = hex.EncodeToString(id[:])
	t.http = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: t.cfg.DialTimeout, KeepAlive: -1}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
	tok, err := t.Token(auth.AnyOrg, "bench-publisher", true)
	if err != nil {
		_ = t.Close()
		return nil, err
	}
	t.pubToken = tok
	return t, nil
}

// Close stops the daemons if the harness started them. Safe to call twice.
func (t *Target) Close() error {
	if t.http != nil {
		t.http.CloseIdleConnections()
	}
	switch {
	case t.daemon != nil:
		return t.daemon.Stop()
	case t.cluster != nil:
		return t.cluster.Stop()
	}
	return nil
}

// Daemon is the daemon the harness started alone, nil for an external
// target or a cluster.
func (t *Target) Daemon() *Daemon { return t.daemon }

// Org names an org of this Target's runs: unique per Open, so runs against
// the same daemon do not share orgs.
func (t *Target) Org(name string) string { return "b" + t.runID + "-" + name }

// Token mints a token for (org, sub), valid for a day.
func (t *Target) Token(org, sub string, publish bool) (string, error) {
	c := auth.Claims{Sub: sub, Org: org, Exp: time.Now().Add(tokenTTL)}
	if publish {
		c.Scope = auth.ScopePublish
	}
	tok, err := auth.Issue(t.secret, c)
	if err != nil {
		return "", fmt.Errorf("bench: token: %w", err)
	}
	return tok, nil
}

// SourceAddrs is the number of client source addresses in use (1 when the
// kernel chooses).
func (t *Target) SourceAddrs() int {
	if len(t.ends) == 0 {
		return 0
	}
	return len(t.ends[0].dialers)
}

// RSS returns the daemons' resident set size, summed over the nodes; ok is
// false when a node's PID is unknown or unreadable.
func (t *Target) RSS() (int64, bool) {
	var sum int64
	for i := range t.Nodes {
		v, ok := t.NodeRSS(i)
		if !ok {
			return 0, false
		}
		sum += v
	}
	return sum, len(t.Nodes) > 0
}

// NodeRSS returns node i's resident set size; ok is false when its PID is
// unknown or unreadable.
func (t *Target) NodeRSS(i int) (int64, bool) {
	if t.Nodes[i].PID == 0 {
		return 0, false
	}
	v, err := ReadRSS(t.Nodes[i].PID)
	return v, err == nil
}

// pids lists the nodes' PIDs, or none when one is unknown.
func (t *Target) pids() []int {
	ps := make([]int, 0, len(t.Nodes))
	for _, n := range t.Nodes {
		if n.PID == 0 {
			return nil
		}
		ps = append(ps, n.PID)
	}
	return ps
}

// ServerMetrics is the part of GET /v2/realtime/metrics the harness reads.
type ServerMetrics struct {
	Connections                  int64  `json:"connections"`
	OrgsActive                   int64  `json:"orgs_active"`
	EventsPublishedTotal         uint64 `json:"events_published_total"`
	EventsDeliveredTotal         uint64 `json:"events_delivered_total"`
	ReplayedTotal                uint64 `json:"replayed_total"`
	SlowConsumerDisconnectsTotal uint64 `json:"slow_consumer_disconnects_total"`
}

// add sums o into m.
func (m *ServerMetrics) add(o ServerMetrics) {
	m.Connections += o.Connections
	m.OrgsActive += o.OrgsActive
	m.EventsPublishedTotal += o.EventsPublishedTotal
	m.EventsDeliveredTotal += o.EventsDeliveredTotal
	m.ReplayedTotal += o.ReplayedTotal
	m.SlowConsumerDisconnectsTotal += o.SlowConsumerDisconnectsTotal
}

// Metrics reads GET /v2/realtime/metrics of every node and sums them.
func (t *Target) Metrics(ctx context.Context) (ServerMetrics, error) {
	var sum ServerMetrics
	for i := range t.Nodes {
		m, err := t.NodeMetrics(ctx, i)
		if err != nil {
			return sum, err
		}
		sum.add(m)
	}
	return sum, nil
}

// NodeMetrics reads GET /v2/realtime/metrics of node i.
func (t *Target) NodeMetrics(ctx context.Context, i int) (ServerMetrics, error) {
	var m ServerMetrics
	b, err := t.get(ctx, i, "/v2/realtime/metrics")
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("bench: metrics JSON: %w", err)
	}
	return m, nil
}

// Runtime is what the harness reads from GET /metrics (Prometheus).
type Runtime struct {
	Goroutines float64
	// HeapInuse is go_memstats_heap_inuse_bytes (0 if absent).
	HeapInuse float64
}

// Runtime reads go_goroutines and go_memstats_heap_inuse_bytes of every
// node and sums them.
func (t *Target) Runtime(ctx context.Context) (Runtime, error) {
	var sum Runtime
	for i := range t.Nodes {
		b, err := t.get(ctx, i, "/metrics")
		if err != nil {
			return Runtime{}, err
		}
		g, err := PromValue(b, "go_goroutines")
		if err != nil {
			return Runtime{}, err
		}
		h, _ := PromValue(b, "go_memstats_heap_inuse_bytes")
		sum.Goroutines += g
		sum.HeapInuse += h
	}
	return sum, nil
}

// get GETs path of node i.
func (t *Target) get(ctx context.Context, i int, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Nodes[i].URL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: GET %s: %w", path, err)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: GET %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("bench: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: GET %s of %s: status %d", path, t.Nodes[i].Name, resp.StatusCode)
	}
	return b, nil
}

// readSecretFile reads a jwt-secret file without creating it.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: read secret: %w", ErrConfig, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrConfig, path)
	}
	return b, nil
}

// makeDialers returns one dialer per source address: 127.0.0.2 … for a
// loopback IP host, else a single dialer letting the kernel choose.
func makeDialers(host string, n int, timeout time.Duration) []*net.Dialer {
	ip := net.ParseIP(host)
	if n < 1 || ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return []*net.Dialer{{Timeout: timeout, KeepAlive: -1}}
	}
	ds := make([]*net.Dialer, n)
	for i := range ds {
		src := net.IPv4(127, 0, 0, byte(2+i))
		ds[i] = &net.Dialer{Timeout: timeout, KeepAlive: -1, LocalAddr: &net.TCPAddr{IP: src}}
	}
	return ds
}

// RaiseFileLimit raises this process's RLIMIT_NOFILE soft limit to its hard
// limit and returns the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: setrlimit: %w", err)
		}
	}
	return lim.Cur, nil
}
