package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/orgstream/orgstream/bench"
)

// knee is `orgstream-bench knee`: the fanout at each of --rates
// (deliveries/s) against each orgstream binary of --daemon (a path, or
// label=path pairs) and Centrifugo (--centrifugo, "none" to leave it out),
// after the floor at the same --conns.
func (o *options) knee(ctx context.Context, stdout, stderr io.Writer) int {
	rates, err := parseRates(o.rates)
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: --rates: %v\n", err)
		return 2
	}
	daemons, err := bench.ParseKneeDaemons(o.daemon)
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: --daemon: %v\n", err)
		return 2
	}
	var sizes bench.Sizes
	o.apply(&sizes)
	fc := sizes.Fanout
	if o.duration == 0 {
		fc.Duration = 10 * time.Second
	}
	cfg := bench.KneeConfig{Fanout: fc, Rates: rates, Target: o.targetConfig(stderr), Daemons: daemons,
		Dir: bench.RunDir(o.out, bench.ScenarioKnee, time.Now()), Log: stderr}
	cfg.Target.SourceAddrs = o.sourceAddrsOrKernel()
	if o.centrifugo != "none" {
		cfg.Centrifugo = &bench.CentrifugoConfig{Path: o.centrifugo}
	}
	r, err := bench.RunKnee(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
		return 1
	}
	if err := r.Write(cfg.Dir); err != nil {
		fmt.Fprintf(stderr, "orgstream-bench: %v\n", err)
		return 1
	}
	_ = r.WriteMarkdown(stdout)
	fmt.Fprintf(stdout, "results in %s\n", filepath.Clean(cfg.Dir))
	if !r.OK() {
		return 1
	}
	return 0
}

// parseRates reads a comma-separated list of positive rates ("25000,50k"
// is not accepted: plain numbers only).
func parseRates(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty: give deliveries/s, comma-separated")
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}
