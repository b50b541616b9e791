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
	"strings"
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
	// URL is the base URL of a running orgstream (http://host:port). Empty
	// means start one with Daemon (and stop it on Close).
	URL string
	// Secret is the HS256 key the daemon verifies tokens with. Empty means
	// <DataDir>/jwt-secret (for a started daemon: its own data dir).
	Secret []byte
	// DataDir is the data dir of the daemon at URL, to read its jwt-secret
	// from when Secret is empty.
	DataDir string
	// PID is the daemon's process id, for its RSS (/proc/PID/status). Zero
	// means unknown, so RSS figures are left out, unless the harness started
	// the daemon.
	PID int
	// SourceAddrs is how many loopback source addresses (127.0.0.2,
	// 127.0.0.3, …) client connections are spread over, each allowing
	// another ~28k connections to one daemon port. Zero means
	// DefaultSourceAddrs; negative means one address chosen by the kernel.
	// Ignored (kernel's choice) when URL's host is not a loopback IP.
	SourceAddrs int
	// DialTimeout bounds one connect plus WebSocket handshake. Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// Daemon configures the daemon started when URL is empty.
	Daemon DaemonConfig
	// Progress receives a one-line progress display ("\r…") while a
	// scenario runs. Nil means none.
	Progress io.Writer
}

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
	if c.DialTimeout < 0 || c.PID < 0 {
		return fmt.Errorf("%w: negative DialTimeout or PID", ErrConfig)
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: URL must be http(s)://host:port", ErrConfig)
		}
		if len(c.Secret) == 0 && c.DataDir == "" {
			return fmt.Errorf("%w: a URL needs the daemon's secret (Secret or DataDir)", ErrConfig)
		}
	}
	return nil
}

// Target is an orgstream under measurement: its address, how to mint
// tokens for it, and (when the harness started it) its process. Methods are
// safe for concurrent use.
type Target struct {
	// BaseURL is http(s)://host:port.
	BaseURL string
	// PID is the daemon's process id, 0 when unknown.
	PID int
	// Started is true when the harness started the daemon.
	Started bool

	cfg      TargetConfig
	secret   []byte
	streamWS string // ws://host:port/v2/realtime/stream
	runID    string
	daemon   *Daemon
	http     *http.Client
	dialers  []*net.Dialer
	pubToken string
}

// Open resolves the target: starts a daemon when cfg.URL is empty, reads
// the secret, and prepares the dialers. Close releases it.
func Open(ctx context.Context, cfg TargetConfig) (*Target, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Target{cfg: cfg, BaseURL: strings.TrimRight(cfg.URL, "/"), PID: cfg.PID, secret: cfg.Secret}
	if cfg.URL == "" {
		d, err := StartDaemon(ctx, cfg.Daemon)
		if err != nil {
			return nil, err
		}
		t.daemon, t.BaseURL, t.PID, t.Started = d, d.URL, d.PID, true
		if len(t.secret) == 0 {
			t.cfg.DataDir = d.DataDir
		}
	}
	if len(t.secret) == 0 {
		s, err := readSecretFile(filepath.Join(t.cfg.DataDir, "jwt-secret"))
		if err != nil {
			_ = t.Close()
			return nil, err
		}
		t.secret = s
	}
	u, _ := url.Parse(t.BaseURL)
	ws := "ws"
	if u.Scheme == "https" {
		ws = "wss"
	}
	t.streamWS = ws + "://" + u.Host + "/v2/realtime/stream"
	var id [3]byte
	_, _ = rand.Read(id[:])
	t.runID = hex.EncodeToString(id[:])
	t.dialers = makeDialers(u.Hostname(), t.cfg.SourceAddrs, t.cfg.DialTimeout)
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

// Close stops the daemon if the harness started it. Safe to call twice.
func (t *Target) Close() error {
	if t.http != nil {
		t.http.CloseIdleConnections()
	}
	if t.daemon != nil {
		return t.daemon.Stop()
	}
	return nil
}

// Daemon is the daemon the harness started, nil for an external target.
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
func (t *Target) SourceAddrs() int { return len(t.dialers) }

// RSS returns the daemon's resident set size; ok is false when its PID is
// unknown or unreadable.
func (t *Target) RSS() (int64, bool) {
	if t.PID == 0 {
		return 0, false
	}
	v, err := ReadRSS(t.PID)
	return v, err == nil
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

// Metrics reads GET /v2/realtime/metrics.
func (t *Target) Metrics(ctx context.Context) (ServerMetrics, error) {
	var m ServerMetrics
	b, err := t.get(ctx, "/v2/realtime/metrics")
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

// Runtime reads go_goroutines and go_memstats_heap_inuse_bytes.
func (t *Target) Runtime(ctx context.Context) (Runtime, error) {
	b, err := t.get(ctx, "/metrics")
	if err != nil {
		return Runtime{}, err
	}
	g, err := PromValue(b, "go_goroutines")
	if err != nil {
		return Runtime{}, err
	}
	h, _ := PromValue(b, "go_memstats_heap_inuse_bytes")
	return Runtime{Goroutines: g, HeapInuse: h}, nil
}

func (t *Target) get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.BaseURL+path, nil)
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
		return nil, fmt.Errorf("bench: GET %s: status %d", path, resp.StatusCode)
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
