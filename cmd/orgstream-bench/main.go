// Command orgstream-bench measures an orgstream daemon: idle connections,
// fan-out, resume storms, durable publish, slow consumers and the memory of
// an org taking the largest events.
//
//	orgstream-bench <scenario> [flags]
//	orgstream-bench suite [--short] [flags]
//	orgstream-bench cluster-compare [--nodes 3] [flags]
//	orgstream-bench floor [--conns 1000] [--size 256] [--duration 5s]
//	orgstream-bench fanout --target centrifugo [fanout flags]
//	orgstream-bench knee --rates 25000,50000 [--daemon old=PATH,new=PATH] [--centrifugo PATH|none] [fanout flags]
//	orgstream-bench soak [--duration 10m] [--seed N] (the nemesis campaign, package bench/soak)
//	orgstream-bench publish [--anchor=false] [--natscli] [flags]
//
// Without --url it starts a daemon itself (--daemon, default
// ./bin/orgstream, built from ./cmd/orgstream when missing) on a free port
// of 127.0.0.1 with a temporary data dir, or with --nodes N a cluster of N
// daemons. --url takes one base URL or, for a running cluster, the nodes'
// base URLs comma-separated; clients and publishers are spread over the
// nodes. cluster-compare runs fanout on one daemon and then on a cluster
// of --nodes, with the same sizes, and reports them side by side. Each run
// writes a folder under --out with results.json, results.md and SVG
// charts; the exit status is 1 when a run fails (a gap, a duplicate, a
// client that could not connect…). floor needs no daemon: it writes a
// delivery's frame to --conns loopback sockets in turn and reports the
// writing thread's CPU per write, the denominator of a daemon's CPU per
// delivery. publish first measures raw JetStream on the same box (a
// standalone nats-server in a process of its own: this binary re-executed
// with the hidden subcommand anchor-server) and reports orgstream's
// figures as ratios to it; --anchor=false leaves it out, --natscli adds
// the real `nats bench js pub` (natscli v0.5.0 through `go run`) as a
// cross-check.
//
// This package only binds flags; the harness is package bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/orgstream/orgstream/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == bench.AnchorServerCommand {
		// The publish anchor's raw server, started by the harness itself.
		os.Exit(bench.ServeAnchor(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// options are the command-line flags.
type options struct {
	url, jwtSecret, dataDir, daemon, out string
	target, centrifugo, rates            string
	sourceAddrs, conns, orgs, nodes      int
	size, events, dialConcurrency        int
	total                                int64
	rate                                 float64
	duration                             time.Duration
	batch, pids                          intList
	daemonArgs                           stringList
	short, quiet, noPoll                 bool
	anchor, natscli, client              bool
	cpuProfile                           string
}

func newFlags(o *options, name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("orgstream-bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "base URL of a running orgstream (http://host:port), or of every node of a cluster, comma-separated; empty = start the daemons (--daemon, --nodes)")
	fs.StringVar(&o.jwtSecret, "jwt-secret", "", "the daemon's HS256 secret (or env ORGSTREAM_JWT_SECRET); default <data-dir>/jwt-secret")
	fs.StringVar(&o.dataDir, "data-dir", "", "data dir of the daemon at --url, to read its jwt-secret")
	fs.Var(&o.pids, "pid", "PID of the daemon at --url, for its RSS; for a URL list one PID per URL, comma-separated (known when the harness starts them)")
	fs.IntVar(&o.nodes, "nodes", 0, "daemons started as one cluster when --url is empty (b1…bN, --replicas min(N,3)); 0 = 1, cluster-compare: 3")
	fs.StringVar(&o.daemon, "daemon", bench.DefaultDaemonPath, "orgstream binary started when --url is empty")
	fs.Var(&o.daemonArgs, "daemon-arg", "extra flag for the started daemon's serve (repeatable), e.g. --daemon-arg=--max-queue-bytes=262144")
	fs.IntVar(&o.sourceAddrs, "source-addrs", bench.DefaultSourceAddrs, "spread client connections over N loopback source addresses 127.0.0.2…; 0 = kernel's choice")
	fs.StringVar(&o.out, "out", bench.DefaultOutDir, "parent folder of the result folders")
	fs.IntVar(&o.conns, "conns", 0, "connections (idle, fanout, floor), clients (resume-storm), readers (slow-consumer); 0 = scenario default")
	fs.IntVar(&o.orgs, "orgs", 0, "orgs (idle, fanout, resume-storm), parallel orgs (publish: default 16, and as many raw JetStream publishers in the anchor)")
	fs.Float64Var(&o.rate, "rate", 0, "events/s published in total (fanout, slow-consumer)")
	fs.IntVar(&o.size, "size", 0, "event data size in bytes")
	fs.DurationVar(&o.duration, "duration", 0, "writing time (floor), publishing time (fanout), hold (idle), per run (publish), baseline (slow-consumer)")
	fs.IntVar(&o.events, "events", 0, "missed events per org (resume-storm)")
	fs.Int64Var(&o.total, "total", 0, "bytes of event data published (large-events); 0 = 1 GiB")
	fs.Var(&o.batch, "batch", "batch sizes, comma-separated (publish: default 1,1000); the first is the max batch of fanout and resume-storm")
	fs.IntVar(&o.dialConcurrency, "dial-concurrency", 0, "connects in flight (idle, fanout, resume-storm)")
	fs.StringVar(&o.target, "target", "orgstream", "fanout: orgstream, or centrifugo (started by the harness from --centrifugo, measured the same way)")
	fs.StringVar(&o.centrifugo, "centrifugo", bench.DefaultCentrifugo, "Centrifugo binary (fanout --target centrifugo, knee); default: on PATH, else ~/go/bin/centrifugo; knee: \"none\" to leave it out")
	fs.StringVar(&o.rates, "rates", "", "knee: deliveries/s to try, comma-separated, e.g. 25000,50000,75000")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the harness's own CPU profile (pprof) to this file: what the load generator costs")
	fs.BoolVar(&o.noPoll, "no-poll", false, "fanout: read every stream on its own goroutine instead of the epoll pollers (the harness's old, costlier readers)")
	fs.BoolVar(&o.anchor, "anchor", true, "publish: measure raw JetStream first on this box (a standalone nats-server 2.15.2 process, R1 file store, nats.go: sync ×1, sync ×--orgs, async) and report orgstream's ratios to it")
	fs.BoolVar(&o.client, "client", true, "publish: also publish through client.Publisher (one per org, asynchronous: coalesced into batch requests and pipelined), the way a backend would")
	fs.BoolVar(&o.natscli, "natscli", false, "publish: also run `go run github.com/nats-io/natscli/nats@v0.5.0 bench js pub sync|async` against the anchor's server as a cross-check (needs the module proxy or cache)")
	fs.BoolVar(&o.short, "short", false, "suite: small sizes (the whole suite in under 3 minutes)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line on stderr")
	return fs
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: orgstream-bench <scenario> [flags]\n\nscenarios: %s, suite, %s, %s, %s, soak\nflags: orgstream-bench <scenario> -h\n",
		strings.Join(bench.Scenarios, ", "), bench.ScenarioClusterCompare, bench.ScenarioFloor, bench.ScenarioKnee)
}

// run executes one command line: 0 pass, 1 failed run or error, 2 usage.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "soak" {
		return runSoak(args[1:], stdout, stderr)
	}
	if name != "suite" && name != bench.ScenarioClusterCompare && name != bench.ScenarioFloor && name != bench.ScenarioKnee && !isScenario(name) {
		fmt.Fprintf(stderr, "orgstream-bench: unknown scenario %q\n", name)
		usage(stderr)
		return 2
	}
	var o options
	fs := newFlags(&o, name, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orgstream-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.natscli && (name != bench.ScenarioPublish || !o.anchor) {
		fmt.Fprintf(stderr, "orgstream-bench: --natscli is a cross-check of the publish anchor: publish only, not with --anchor=false\n")
		return 2
	}
	if name == bench.ScenarioClusterCompare && (o.url != "" || o.nodes == 1) {
		fmt.Fprintf(stderr, "orgstream-bench: cluster-compare starts one daemon, then --nodes (≥ 2) as a cluster: no --url, no --nodes 1\n")
		return 2
	}
	if o.jwtSecret == "" {
		o.jwtSecret = env("ORGSTREAM_JWT_SECRET")
	}
	if _, err := bench.RaiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
			return 1
		}
		defer stopProfile()
	}

	if name == bench.ScenarioFloor {
		return o.floor(ctx, stdout, stderr)
	}
	if name == bench.ScenarioFanout && o.target == "centrifugo" {
		if o.url != "" || o.nodes > 1 {
			fmt.Fprintf(stderr, "orgstream-bench: --target centrifugo starts Centrifugo itself: no --url, no --nodes\n")
			return 2
		}
		return o.centrifugoFanout(ctx, stdout, stderr)
	}
	if o.target != "orgstream" {
		fmt.Fprintf(stderr, "orgstream-bench: --target %q: orgstream, or centrifugo for fanout\n", o.target)
		return 2
	}
	if name == bench.ScenarioKnee {
		return o.knee(ctx, stdout, stderr)
	}
	tc := o.targetConfig(stderr)
	if name == bench.ScenarioClusterCompare {
		return o.clusterCompare(ctx, tc, stdout, stderr)
	}
	if name == "suite" {
		sizes := bench.FullSizes()
		if o.short {
			sizes = bench.ShortSizes()
		}
		o.apply(&sizes)
		sr, err := bench.RunSuite(ctx, bench.SuiteConfig{Target: tc, Sizes: &sizes,
			Dir: bench.RunDir(o.out, "suite", time.Now()), Log: stderr})
		if sr != nil && len(sr.Results)+len(sr.Errors) > 0 {
			fmt.Fprintf(stdout, "\norgstream-bench suite: results in %s\n\n", sr.Dir)
			_ = sr.WriteSummary(stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
			return 1
		}
		if !sr.OK() {
			return 1
		}
		return 0
	}

	var sizes bench.Sizes
	o.apply(&sizes)
	o.setAnchor(name, &sizes)
	t, err := bench.Open(ctx, tc)
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
		return 1
	}
	r, err := bench.RunScenario(ctx, t, name, sizes)
	if cerr := t.Close(); cerr != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", cerr)
	}
	return o.report(stdout, stderr, name, r, err)
}

// report writes a scenario's result under --out and its Markdown to
// stdout; the exit code is 1 when the run failed (err) or missed a target.
func (o *options) report(stdout, stderr io.Writer, name string, r *bench.Result, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
		return 1
	}
	dir := bench.RunDir(o.out, name, r.Started)
	if err := r.Write(dir); err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
		return 1
	}
	_ = r.WriteMarkdown(stdout)
	fmt.Fprintf(stdout, "results in %s\n", filepath.Clean(dir))
	if !r.OK() {
		return 1
	}
	return 0
}

// clusterCompare runs cluster-compare: fanout on 1 node, then on --nodes.
func (o *options) clusterCompare(ctx context.Context, tc bench.TargetConfig, stdout, stderr io.Writer) int {
	sizes := bench.Sizes{Fanout: bench.CompareFanout()}
	o.apply(&sizes)
	var nodes []int // empty: RunClusterCompare's 1 then 3
	if o.nodes != 0 {
		nodes = []int{1, o.nodes}
	}
	dir := bench.RunDir(o.out, bench.ScenarioClusterCompare, time.Now())
	r, err := bench.RunClusterCompare(ctx, bench.CompareConfig{Target: tc, Fanout: sizes.Fanout, Nodes: nodes,
		Dir: dir, Log: stderr})
	if r != nil {
		_ = r.WriteMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "results in %s\n", filepath.Clean(dir))
	if !r.OK() {
		return 1
	}
	return 0
}

func isScenario(name string) bool {
	for _, s := range bench.Scenarios {
		if s == name {
			return true
		}
	}
	return false
}

func (o *options) targetConfig(stderr io.Writer) bench.TargetConfig {
	tc := bench.TargetConfig{
		URL:         o.url,
		DataDir:     o.dataDir,
		PIDs:        o.pids,
		Nodes:       o.nodes,
		SourceAddrs: o.sourceAddrs,
		Daemon:      bench.DaemonConfig{Path: o.daemon, Args: o.daemonArgs},
	}
	if o.sourceAddrs == 0 {
		tc.SourceAddrs = -1
	}
	if o.jwtSecret != "" {
		tc.Secret = []byte(o.jwtSecret)
	}
	if !o.quiet {
		tc.Progress = stderr
	}
	return tc
}

// apply writes the flags that were set over s.
func (o *options) apply(s *bench.Sizes) {
	set := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	set(&s.Idle.Conns, o.conns)
	set(&s.Fanout.Conns, o.conns)
	set(&s.Resume.Clients, o.conns)
	set(&s.Slow.Readers, o.conns)
	set(&s.Large.Readers, o.conns)
	set(&s.Idle.Orgs, o.orgs)
	set(&s.Fanout.Orgs, o.orgs)
	set(&s.Resume.Orgs, o.orgs)
	set(&s.Publish.Orgs, o.orgs)
	set(&s.Fanout.Size, o.size)
	set(&s.Resume.Size, o.size)
	set(&s.Publish.Size, o.size)
	set(&s.Slow.Size, o.size)
	set(&s.Large.Size, o.size)
	if o.total != 0 {
		s.Large.Total = o.total
	}
	set(&s.Resume.Events, o.events)
	set(&s.Idle.DialConcurrency, o.dialConcurrency)
	set(&s.Fanout.DialConcurrency, o.dialConcurrency)
	s.Fanout.NoPoll = o.noPoll
	set(&s.Resume.DialConcurrency, o.dialConcurrency)
	if o.rate != 0 {
		s.Fanout.Rate, s.Slow.Rate = o.rate, o.rate
	}
	if o.duration != 0 {
		s.Idle.Hold, s.Fanout.Duration, s.Publish.Duration, s.Slow.Baseline = o.duration, o.duration, o.duration, o.duration
	}
	if len(o.batch) > 0 {
		s.Publish.Batches = o.batch
		s.Fanout.MaxBatch, s.Resume.Batch = o.batch[0], o.batch[0]
	}
}

// setAnchor asks for the raw JetStream anchor (and natscli's cross-check)
// when name is publish and --anchor is on, and for the client.Publisher run
// with --client.
func (o *options) setAnchor(name string, s *bench.Sizes) {
	if name != bench.ScenarioPublish {
		return
	}
	s.Publish.Client = o.client
	if !o.anchor {
		return
	}
	s.Publish.Anchor = &bench.AnchorConfig{}
	if o.natscli {
		s.Publish.Anchor.Natscli = bench.DefaultNatscli
	}
}

// intList is a comma-separated list of positive ints.
type intList []int

func (l *intList) String() string {
	return strings.Trim(strings.Join(strings.Fields(fmt.Sprint([]int(*l))), ","), "[]")
}

func (l *intList) Set(s string) error {
	*l = nil
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		*l = append(*l, n)
	}
	return nil
}

// stringList collects a repeated flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
