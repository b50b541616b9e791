package main

import (
	"context"
	"io"

	"github.com/orgstream/orgstream/bench"
)

// floor is `orgstream-bench floor`: the loopback write floor, with no
// daemon (bench.RunFloor). --conns, --size (event data bytes) and
// --duration shape it; the other flags do not apply.
func (o *options) floor(ctx context.Context, stdout, stderr io.Writer) int {
	cfg := bench.FloorConfig{Conns: o.conns, Size: o.size, Duration: o.duration, SourceAddrs: o.sourceAddrs}
	if o.sourceAddrs == 0 {
		cfg.SourceAddrs = -1
	}
	if !o.quiet {
		cfg.Progress = stderr
	}
	r, err := bench.RunFloor(ctx, cfg)
	return o.report(stdout, stderr, bench.ScenarioFloor, r, err)
}
