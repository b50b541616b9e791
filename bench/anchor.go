package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AnchorConfig shapes the raw JetStream anchor: what the engine under
// orgstream does on the same box with nothing on top, measured in the same
// run as orgstream so that the two can be quoted as ratios (issue 13).
// Like `nats bench js pub sync|async` (natscli v0.5.0) against a
// standalone nats-server 2.15.2, R1 file store: each shape publishes Size
// bytes per message for Duration, with nats.go, one connection per
// publisher.
type AnchorConfig struct {
	// Server is the argv of a program that runs ServeAnchor (the store dir
	// flag is appended). Empty means this executable with
	// AnchorServerCommand, which orgstream-bench understands.
	Server []string
	// Publishers is the number of parallel synchronous publishers, each on
	// its own subject. Zero means 16.
	Publishers int
	// Window is the asynchronous shape's batch of publishes whose acks are
	// awaited together (nats bench's --batch). Zero means 500.
	Window int
	// Size is each message's size in bytes. Zero means 256.
	Size int
	// Duration is the length of each shape. Zero means 5s.
	Duration time.Duration
	// Natscli, when set, also runs the real `nats bench js pub` (Natscli
	// is its argv up to "bench", e.g. DefaultNatscli) against the same
	// server, for each shape, as a cross-check of the nats.go figures.
	Natscli []string
}

// DefaultNatscli runs natscli v0.5.0, the anchor the issue names, through
// the module proxy (or the module cache).
var DefaultNatscli = []string{"go", "run", "github.com/nats-io/natscli/nats@v0.5.0"}

// anchorStream is the anchor's stream; its subjects are anchor.<n>.
const anchorStream = "ANCHOR"

func (c *AnchorConfig) validate() error {
	if c.Publishers < 0 || c.Window < 0 || c.Size < 0 || c.Duration < 0 {
		return fmt.Errorf("%w: anchor: negative setting", ErrConfig)
	}
	c.Publishers = cmp0(c.Publishers, 16)
	c.Window = cmp0(c.Window, 500)
	c.Size = cmp0(c.Size, 256)
	c.Duration = cmp0(c.Duration, 5*time.Second)
	if len(c.Server) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("%w: anchor: own executable: %w", ErrConfig, err)
		}
		c.Server = []string{exe, AnchorServerCommand}
	}
	return nil
}

// Anchor shapes, as AnchorShape.Name spells them.
const (
	AnchorSync     = "sync ×1"
	AnchorParallel = "sync ×N" // N = Publishers; named with it in results
	AnchorAsync    = "async"
)

// AnchorShape is one shape's figures.
type AnchorShape struct {
	Name string
	// Publishers is the number of publishers (connections).
	Publishers int
	// Rate is messages acknowledged per second.
	Rate float64
	// AckP50 and AckP99 are the publish-to-ack times (a whole window's for
	// async), ms.
	AckP50, AckP99 float64
	// ServerCPUPerMsg is the server process's CPU (utime + stime) per
	// acknowledged message, µs; -1 when unknown.
	ServerCPUPerMsg float64
	// HarnessCPUPerMsg is this process's CPU per message, µs.
	HarnessCPUPerMsg float64
	// Natscli is natscli's msgs/s for the same shape on the same server (0
	// when not run), and NatscliErr why it has none.
	Natscli    float64
	NatscliErr error
}

// AnchorResult is a RunAnchor's figures.
type AnchorResult struct {
	// ServerPID is the raw server's process id.
	ServerPID int
	// Sync, Parallel and Async are the three shapes.
	Sync, Parallel, Async AnchorShape
}

// RunAnchor starts a standalone JetStream server in its own process (cfg.
// Server), creates an R1 file stream on it and measures the three shapes
// in turn: one synchronous publisher (publish, wait for its ack, next),
// cfg.Publishers synchronous publishers in parallel each on its own
// subject, and one asynchronous publisher that sends a window of
// cfg.Window messages and waits for their acks. With cfg.Natscli each
// shape is then run again by natscli. The server is stopped before it
// returns.
func RunAnchor(ctx context.Context, cfg AnchorConfig) (*AnchorResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	srv, err := startAnchorServer(ctx, cfg.Server, DefaultStartTimeout)
	if err != nil {
		return nil, err
	}
	res, err := runAnchorShapes(ctx, srv, cfg)
	if serr := srv.stop(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func runAnchorShapes(ctx context.Context, srv *anchorServer, cfg AnchorConfig) (*AnchorResult, error) {
	if err := createAnchorStream(ctx, srv.URL); err != nil {
		return nil, err
	}
	res := &AnchorResult{ServerPID: srv.PID}
	payload := make([]byte, cfg.Size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	shapes := []struct {
		dst  *AnchorShape
		name string
		pubs int
		run  func(ctx context.Context, js jetstream.JetStream, subj string, ack *Histogram, n *atomic.Int64, d time.Duration) error
	}{
		{&res.Sync, AnchorSync, 1, syncPublisher(payload)},
		{&res.Parallel, AnchorParallel, cfg.Publishers, syncPublisher(payload)},
		{&res.Async, AnchorAsync, 1, asyncPublisher(payload, cfg.Window)},
	}
	for _, s := range shapes {
		sh, err := measureAnchorShape(ctx, srv, s.pubs, cfg.Duration, s.run)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrAnchor, s.name, err)
		}
		sh.Name = s.name
		*s.dst = sh
	}
	if len(cfg.Natscli) > 0 {
		for _, s := range shapes {
			s.dst.Natscli, s.dst.NatscliErr = runNatscli(ctx, cfg.Natscli, srv.URL, s.name, s.pubs, cfg.Window,
				cfg.Size, s.dst.Rate, cfg.Duration)
		}
	}
	return res, nil
}

// createAnchorStream creates the anchor's stream: R1, file store,
// anchor.> (natscli's --create makes the same kind of stream for its
// subject).
func createAnchorStream(ctx context.Context, url string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("%w: connect: %w", ErrAnchor, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAnchor, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(cctx, jetstream.StreamConfig{Name: anchorStream,
		Subjects: []string{"anchor.>"}, Storage: jetstream.FileStorage, Replicas: 1}); err != nil {
		return fmt.Errorf("%w: create stream: %w", ErrAnchor, err)
	}
	return nil
}

// measureAnchorShape runs pubs publishers (run, each on its own connection
// and subject anchor.<i>) for d and reads the server's and the harness's
// CPU over the span.
func measureAnchorShape(ctx context.Context, srv *anchorServer, pubs int, d time.Duration,
	run func(context.Context, jetstream.JetStream, string, *Histogram, *atomic.Int64, time.Duration) error) (AnchorShape, error) {
	sh := AnchorShape{Publishers: pubs, ServerCPUPerMsg: -1}
	conns := make([]*nats.Conn, pubs)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	jss := make([]jetstream.JetStream, pubs)
	for i := range conns {
		nc, err := nats.Connect(srv.URL)
		if err != nil {
			return sh, fmt.Errorf("connect: %w", err)
		}
		conns[i] = nc
		if jss[i], err = jetstream.New(nc); err != nil {
			return sh, err
		}
	}
	var n atomic.Int64
	ack := &Histogram{}
	errs := make([]error, pubs)
	var wg sync.WaitGroup
	cpu := startCPU(srv.PID)
	start := time.Now()
	for i := range pubs {
		wg.Go(func() { errs[i] = run(ctx, jss[i], fmt.Sprintf("anchor.%d", i), ack, &n, d) })
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	usage := cpu.stop()
	for _, err := range errs {
		if err != nil {
			return sh, err
		}
	}
	if err := ctx.Err(); err != nil {
		return sh, err
	}
	msgs := float64(n.Load())
	if msgs == 0 {
		return sh, fmt.Errorf("no message acknowledged in %s", d)
	}
	sh.Rate = msgs / secs
	s := ack.Snapshot()
	sh.AckP50, sh.AckP99 = float64(s.Quantile(0.5))/1e6, float64(s.Quantile(0.99))/1e6
	per := func(cores float64) float64 { return cores * usage.secs / msgs * 1e6 }
	if usage.daemon >= 0 {
		sh.ServerCPUPerMsg = per(usage.daemon)
	}
	sh.HarnessCPUPerMsg = per(usage.harness)
	return sh, nil
}

// syncPublisher publishes one message, waits for its ack, and so on for
// d: nats bench's `js pub sync`.
func syncPublisher(payload []byte) func(context.Context, jetstream.JetStream, string, *Histogram, *atomic.Int64, time.Duration) error {
	return func(ctx context.Context, js jetstream.JetStream, subj string, ack *Histogram, n *atomic.Int64, d time.Duration) error {
		for deadline := time.Now().Add(d); time.Now().Before(deadline) && ctx.Err() == nil; {
			t0 := time.Now()
			if _, err := js.Publish(ctx, subj, payload); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("publish: %w", err)
			}
			ack.RecordDuration(time.Since(t0))
			n.Add(1)
		}
		return nil
	}
}

// asyncPublisher sends window messages without waiting, then waits for all
// their acks, and so on for d: nats bench's `js pub async --batch window`.
func asyncPublisher(payload []byte, window int) func(context.Context, jetstream.JetStream, string, *Histogram, *atomic.Int64, time.Duration) error {
	return func(ctx context.Context, js jetstream.JetStream, subj string, ack *Histogram, n *atomic.Int64, d time.Duration) error {
		futures := make([]jetstream.PubAckFuture, window)
		for deadline := time.Now().Add(d); time.Now().Before(deadline) && ctx.Err() == nil; {
			t0 := time.Now()
			for j := range futures {
				f, err := js.PublishAsync(subj, payload)
				if err != nil {
					return fmt.Errorf("publish async: %w", err)
				}
				futures[j] = f
			}
			if err := awaitAcks(ctx, js, futures); err != nil {
				return err
			}
			ack.RecordDuration(time.Since(t0))
			n.Add(int64(window))
		}
		return nil
	}
}

// awaitAcks waits for every future's ack (30 s at most for the window);
// a cancelled ctx ends it without an error.
func awaitAcks(ctx context.Context, js jetstream.JetStream, futures []jetstream.PubAckFuture) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("async ack: %w", err)
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("async ack: none within 30s (%d pending)", js.PublishAsyncPending())
		}
	}
	return nil
}
