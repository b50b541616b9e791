package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orgstream/orgstream/transport/auth"
)

// Settings of StartCluster.
const (
	// maxReplicas caps a started cluster's --replicas.
	maxReplicas = 3
	// clusterStartAttempts: a route port reserved by freePorts may be taken
	// by someone else before its daemon binds it; the start is then retried
	// once on fresh ports.
	clusterStartAttempts = 2
	// warmUpOrg is the org of the warm-up publishes.
	warmUpOrg = "bench-warmup"
)

// errPortTaken marks a cluster start that failed on a port taken meanwhile.
var errPortTaken = errors.New("bench: port taken")

// Cluster is N orgstream daemons started by StartCluster as one cluster on
// loopback: their embedded NATS servers joined by routes, the log
// replicated min(N, 3) times, one JWT secret shared through the
// environment.
type Cluster struct {
	// Daemons are the nodes, named b1 … bN.
	Daemons []*Daemon
	// Secret is the HS256 secret every node verifies tokens with.
	Secret []byte
	// routeSecret authenticates the nodes' routes (--cluster-secret).
	routeSecret string
	// links are the route proxies when partitionable; nil otherwise.
	links *links

	dir      string // parent of the nodes' data dirs
	tempDir  bool
	tempBin  string
	stopOnce sync.Once
	stopErr  error
}

// StartCluster starts n ≥ 2 daemons as one cluster: each on free loopback
// ports (HTTP, NATS client, route), with its own data dir (<dir>/b1 …,
// under cfg.DataDir or a temporary directory), all started at once (a
// clustered JetStream waits for a quorum). It returns once every node's
// /readyz answers 200 and a publish through every node was answered 201,
// the proof that routes, meta leader and streams are up. Stop stops them.
func StartCluster(ctx context.Context, n int, cfg DaemonConfig) (*Cluster, error) {
	if n < 2 {
		return nil, fmt.Errorf("%w: a cluster needs at least 2 nodes, got %d", ErrConfig, n)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	path, tempBin, err := locateDaemon(ctx, cfg.Path)
	if err != nil {
		return nil, err
	}
	c := &Cluster{tempBin: tempBin, dir: cfg.DataDir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "orgstream-bench-cluster-"); err != nil {
			_ = c.Stop()
			return nil, fmt.Errorf("%w: data dir: %w", ErrDaemon, err)
		}
		c.tempDir = true
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	c.Secret = []byte(hex.EncodeToString(key[:]))
	_, _ = rand.Read(key[:])
	c.routeSecret = hex.EncodeToString(key[:])
	for attempt := range clusterStartAttempts {
		if err = c.startNodes(ctx, path, n, cfg, attempt > 0); err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
	}
	_ = c.Stop()
	return nil, err
}

// startNodes starts the n processes, waits for them and warms them up; on
// failure it stops those it started.
func (c *Cluster) startNodes(ctx context.Context, path string, n int, cfg DaemonConfig, fresh bool) error {
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = "nats://127.0.0.1:" + strconv.Itoa(p)
	}
	if cfg.Partitionable {
		if c.links, err = startLinks(ports); err != nil {
			return err
		}
	}
	env := []string{"ORGSTREAM_JWT_SECRET=" + string(c.Secret), "ORGSTREAM_CLUSTER_SECRET=" + c.routeSecret}
	c.Daemons = make([]*Daemon, 0, n)
	for i := range n {
		d := &Daemon{Name: "b" + strconv.Itoa(i+1)}
		d.DataDir = filepath.Join(c.dir, d.Name)
		if fresh {
			_ = os.RemoveAll(d.DataDir) // a failed attempt's leftovers
		}
		if err := os.MkdirAll(d.DataDir, 0o700); err != nil {
			c.stopNodes()
			return fmt.Errorf("%w: data dir: %w", ErrDaemon, err)
		}
		nodeRoutes := others(routes, i)
		if c.links != nil {
			nodeRoutes = c.links.routes(i)
		}
		args := append(serveArgs(d.DataDir, d.Name, "127.0.0.1:0"),
			"--cluster-listen", "127.0.0.1:"+strconv.Itoa(ports[i]),
			"--routes", strings.Join(nodeRoutes, ","),
			"--replicas", strconv.Itoa(min(n, maxReplicas)))
		if c.links != nil {
			args = append(args, "--cluster-advertise", c.links.refused.addr)
		}
		args = append(args, cfg.Args...)
		if err := d.start(path, args, env, cfg.Output); err != nil {
			c.stopNodes()
			return err
		}
		c.Daemons = append(c.Daemons, d)
	}
	if err := c.waitReady(ctx, cfg.StartTimeout); err != nil {
		c.stopNodes()
		return err
	}
	if err := c.warmUp(ctx, cfg.StartTimeout); err != nil {
		err = fmt.Errorf("%w: cluster not ready: %w%s", ErrDaemon, err, c.outputs())
		c.stopNodes()
		return err
	}
	return nil
}

// waitReady waits for every node's /readyz at once; the first failure (a
// node that exits, say) ends the wait for all.
func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(c.Daemons))
	var wg sync.WaitGroup
	for i, d := range c.Daemons {
		wg.Go(func() {
			if errs[i] = d.waitReady(wctx, timeout); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var msgs []string
	taken := false
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) { // not those cut short by another's failure
			msgs = append(msgs, fmt.Sprintf("%s: %v", c.Daemons[i].Name, err))
		}
		if strings.Contains(c.Daemons[i].Output(), "address already in use") {
			taken = true
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	err := fmt.Errorf("%w: cluster not ready: %s%s", ErrDaemon, strings.Join(msgs, "; "), c.outputs())
	if taken {
		err = fmt.Errorf("%w (%w)", err, errPortTaken)
	}
	return err
}

// warmUp publishes one event through every node until it is answered 201
// (or 200), within timeout.
func (c *Cluster) warmUp(ctx context.Context, timeout time.Duration) error {
	tok, err := auth.Issue(c.Secret, auth.Claims{Sub: "bench-warmup", Org: auth.AnyOrg,
		Scope: auth.ScopePublish, Exp: time.Now().Add(time.Hour)})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	body := BatchBody(1, time.Now().UnixNano(), 0)
	for _, d := range c.Daemons {
		for {
			_, err := postEvents(ctx, client, d.URL, tok, warmUpOrg, body)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("no publish through %s answered 201 within %s, last: %w", d.Name, timeout, err)
			case <-d.done:
				return fmt.Errorf("%s exited: %v", d.Name, d.cmd.ProcessState)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// outputs quotes every node's last output, for a start error.
func (c *Cluster) outputs() string {
	var b strings.Builder
	for _, d := range c.Daemons {
		out := d.Output()
		if len(out) > 8<<10 {
			out = "…" + out[len(out)-8<<10:]
		}
		fmt.Fprintf(&b, "\n--- %s output ---\n%s", d.Name, out)
	}
	return b.String()
}

// stopNodes stops every node at once (SIGTERM, SIGKILL after the drain
// timeout) and forgets them; it returns their errors joined.
func (c *Cluster) stopNodes() error {
	errs := make([]error, len(c.Daemons))
	var wg sync.WaitGroup
	for i, d := range c.Daemons {
		wg.Go(func() {
			if err := d.Stop(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", d.Name, err)
			}
		})
	}
	wg.Wait()
	c.Daemons = nil
	if c.links != nil {
		errs = append(errs, c.links.Close())
		c.links = nil
	}
	return errors.Join(errs...)
}

// Stop stops every node at once and removes the temporary data dirs and
// binary. Safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = c.stopNodes()
		if c.tempDir && c.dir != "" {
			_ = os.RemoveAll(c.dir)
		}
		if c.tempBin != "" {
			_ = os.RemoveAll(filepath.Dir(c.tempBin))
		}
	})
	return c.stopErr
}

// others is list without its element i.
func others(list []string, i int) []string {
	out := make([]string, 0, len(list)-1)
	out = append(out, list[:i]...)
	return append(out, list[i+1:]...)
}

// freePorts reserves n distinct free ports of 127.0.0.1: all are listened
// on at once, noted, and released.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			return nil, fmt.Errorf("%w: free port: none found below the ephemeral range", ErrDaemon)
		}
		p := fixedPortMin + mrand.IntN(fixedPortMax-fixedPortMin)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // taken: another one
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports, nil
}

// fixedPortMin and fixedPortMax bound the ports freePorts picks: below
// Linux's default ephemeral range (32768-60999), from which the kernel
// picks ":0" listeners and outgoing connections' local ports. A node keeps
// its route port across restarts; picked from the ephemeral range, the port
// could be taken by any connection while the node was down (seen: a
// restarted node exiting with "address already in use").
const (
	fixedPortMin = 20000
	fixedPortMax = 32000
)
