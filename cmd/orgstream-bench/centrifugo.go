package main

import (
	"context"
	"io"

	"github.com/orgstream/orgstream/bench"
)

// centrifugoFanout is `orgstream-bench fanout --target centrifugo`: the
// fanout scenario against a Centrifugo the harness starts (--centrifugo),
// with the fanout flags (--conns, --orgs, --rate, --size, --duration,
// --batch, --dial-concurrency, --source-addrs).
func (o *options) centrifugoFanout(ctx context.Context, stdout, stderr io.Writer) int {
	var sizes bench.Sizes
	o.apply(&sizes)
	r, err := bench.RunCentrifugoFanout(ctx, bench.CentrifugoConfig{Path: o.centrifugo}, o.sourceAddrsOrKernel(), sizes.Fanout)
	return o.report(stdout, stderr, bench.ScenarioFanoutCentrifugo, r, err)
}

// sourceAddrsOrKernel is --source-addrs as the bench configs take it
// (negative: the kernel's choice).
func (o *options) sourceAddrsOrKernel() int {
	if o.sourceAddrs == 0 {
		return -1
	}
	return o.sourceAddrs
}
