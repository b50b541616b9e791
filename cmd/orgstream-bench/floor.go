package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

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
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
		return 1
	}
	dir := bench.RunDir(o.out, bench.ScenarioFloor, r.Started)
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
