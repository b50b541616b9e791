// Package bench is orgstream's benchmark harness: it measures a running
// daemon (or one it starts) from the outside, over real sockets, the way
// clients and publishers use it.
//
// A Target is the daemon under measurement, or the nodes of a cluster;
// each scenario takes a Target and its own Config and returns a Result:
//
//	t, err := bench.Open(ctx, bench.TargetConfig{}) // starts ./bin/orgstream
//	if err != nil {
//		return err
//	}
//	defer t.Close()
//	r, err := bench.RunFanout(ctx, t, bench.FanoutConfig{Conns: 2000, Orgs: 10, Rate: 2000})
//	if err != nil {
//		return err
//	}
//	if err := r.Write(bench.RunDir("", "fanout", r.Started)); err != nil {
//		return err
//	}
//	if !r.OK() { // a gap, a duplicate, a client that could not connect…
//		fmt.Println(r.Failures)
//	}
//
// Scenarios: RunIdle (RSS, goroutines per connection, connect rate),
// RunFanout (deliveries/s, publish-to-receive latency, gaps and duplicates),
// RunResumeStorm (catch-up time of clients reconnecting at once),
// RunPublish (durable publish throughput and ack latency; with
// PublishConfig.Anchor against raw JetStream on the same box, RunAnchor, in
// the same run) and RunSlowConsumer (the 4008 cut of a reader that stops reading). RunSuite
// runs them one after the other, each on a fresh daemon when the harness
// starts them.
//
// Floor (and RunFloor, `orgstream-bench floor`) needs no daemon: it writes
// a fanout delivery's frame to many loopback sockets in turn and reads the
// writing thread's CPU per write, the least a delivery can cost on the
// machine, so that a daemon's CPU per delivery can be quoted as a ratio to
// it. The suite does not run it.
//
// Clusters: TargetConfig.URL takes the base URLs of a running cluster's
// nodes, comma-separated, and TargetConfig.Nodes (≥ 2) has Open start a
// cluster on loopback (StartCluster: nodes b1 … bN, routes, the log
// replicated min(N, 3) times, one secret). Stream clients are spread over
// the nodes, each org's round-robin (so every org has readers on every
// node), and org i is published through node i mod N, so most deliveries
// cross nodes; Metrics, Runtime and RSS sum the nodes, and fanout reports
// each node's streams and RSS. RunClusterCompare runs the same fanout on
// one daemon and then on a cluster and reports them side by side:
//
//	r, err := bench.RunClusterCompare(ctx, bench.CompareConfig{
//		Fanout: bench.CompareFanout(), Nodes: []int{1, 3}})
//
// Stream clients are a minimal WebSocket reader (gobwas/ws for the
// handshake, an allocation-free frame and event parser), one goroutine per
// connection, spread over several loopback source addresses. Every event
// the harness publishes carries its send time ({"t":unixnano,"pad":"…"}),
// and every client checks its seqs with a SeqTracker. Latencies go into
// log-linear Histograms (about 3% resolution).
//
// Open, the Run functions and RunSuite may be called from any goroutine;
// each run owns the goroutines it starts and stops them before returning.
// Histogram.Record is safe for concurrent use; SeqTracker and Result are
// not.
package bench
