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
	"strings"
	"syscall"

	"github.com/orgstream/orgstream/bench"
	"github.com/orgstream/orgstream/bench/soak"
)

// runSoak is `orgstream-bench soak`: the nemesis campaign (package
// bench/soak) on a 3-node cluster it starts. 0 pass, 1 a broken contract or
// an error, 2 usage.
func runSoak(args []string, stdout, stderr io.Writer) int {
	var cfg soak.Config
	fs := flag.NewFlagSet("orgstream-bench soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.Duration, "duration", soak.DefaultDuration, "time of publishing and faults (at least 30s)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the fault draw (printed); 0 = from the clock")
	fs.Func("faults", "only these faults, comma-separated: "+strings.Join([]string{soak.KindKill, soak.KindKillLeader, soak.KindPause, soak.KindClusterRestart, soak.KindPartition, soak.KindDiskFull}, ","), func(v string) error {
		cfg.Faults = strings.Split(v, ",")
		return nil
	})
	fs.IntVar(&cfg.Orgs, "orgs", soak.DefaultOrgs, "orgs")
	fs.IntVar(&cfg.SubscribersPerOrg, "subscribers", soak.DefaultSubscribersPerOrg, "subscribers per org")
	fs.StringVar(&cfg.Daemon, "daemon", bench.DefaultDaemonPath, "orgstream binary")
	fs.Func("daemon-args", "extra flags of every node's `orgstream serve`, space-separated (e.g. \"--partitions 6\")", func(v string) error {
		cfg.DaemonArgs = append(cfg.DaemonArgs, strings.Fields(v)...)
		return nil
	})
	fs.StringVar(&cfg.DataDir, "data-dir", "", "parent of the nodes' data dirs; empty = a temporary one")
	fs.StringVar(&cfg.Out, "out", bench.DefaultOutDir, "parent folder of the report folder")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orgstream-bench soak: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg.Log = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := soak.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orgstream-bench soak: %v\n", err)
		if r == nil {
			return 1
		}
	}
	md, _ := os.ReadFile(filepath.Join(r.Dir, bench.ResultsMD))
	_, _ = stdout.Write(md)
	fmt.Fprintf(stdout, "report in %s\n", filepath.Clean(r.Dir))
	if !r.OK() {
		fmt.Fprintf(stderr, "orgstream-bench soak: FAIL, seed %d, report %s\n", r.Seed, filepath.Clean(r.Dir))
		return 1
	}
	return 0
}
