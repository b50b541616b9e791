package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orgstream/orgstream/bench"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func noEnv(string) string { return "" }

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no args", nil, 2, "usage: orgstream-bench"},
		{"unknown scenario", []string{"warp"}, 2, `unknown scenario "warp"`},
		{"unknown flag", []string{"idle", "--nope"}, 2, "flag provided but not defined: -nope"},
		{"bad batch", []string{"publish", "--batch", "1,x"}, 2, `"x" is not a positive integer`},
		{"extra arg", []string{"idle", "more"}, 2, `unexpected argument "more"`},
		{"help", []string{"fanout", "-h"}, 0, "-rate"},
		{"bad url", []string{"idle", "--url", "ftp://x", "--jwt-secret", "s", "--quiet"}, 1, "invalid config"},
		{"url list with one pid", []string{"idle", "--url", "http://127.0.0.1:1,http://127.0.0.1:2", "--pid", "5", "--jwt-secret", "s", "--quiet"}, 1, "1 PIDs for 2 URLs"},
		{"nodes with url", []string{"fanout", "--url", "http://127.0.0.1:1", "--nodes", "3", "--jwt-secret", "s", "--quiet"}, 1, "not with URL"},
		{"bad pid", []string{"idle", "--pid", "1,-2"}, 2, `"-2" is not a positive integer`},
		{"compare with url", []string{"cluster-compare", "--url", "http://127.0.0.1:1"}, 2, "no --url"},
		{"compare with one node", []string{"cluster-compare", "--nodes", "1"}, 2, "no --nodes 1"},
		{"compare help", []string{"cluster-compare", "-h"}, 0, "-nodes"},
		{"usage lists compare", nil, 2, "cluster-compare"},
		{"usage lists knee", nil, 2, "knee"},
		{"knee without rates", []string{"knee", "--quiet"}, 2, "--rates: empty"},
		{"knee bad daemon", []string{"knee", "--rates", "1", "--daemon", "a=/x,a=/y", "--quiet"}, 2, "used twice"},
		{"centrifugo with url", []string{"fanout", "--target", "centrifugo", "--url", "http://127.0.0.1:1", "--quiet"}, 2, "no --url"},
		{"bad target", []string{"idle", "--target", "nats", "--quiet"}, 2, `--target "nats"`},
		{"usage lists floor", nil, 2, ", floor, knee, soak"},
		{"floor help", []string{"floor", "-h"}, 0, "writing time (floor)"},
		{"floor bad size", []string{"floor", "--size", "-1", "--quiet"}, 1, "negative setting"},
		{"natscli not publish", []string{"idle", "--natscli", "--quiet"}, 2, "publish only"},
		{"natscli without anchor", []string{"publish", "--anchor=false", "--natscli", "--quiet"}, 2, "not with --anchor=false"},
		{"publish help", []string{"publish", "-h"}, 0, "-natscli"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb, noEnv); code != tc.code {
				t.Errorf("exit %d, want %d (stderr %s)", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errb.String())
			}
		})
	}
}

func TestFlagsOverrideSizes(t *testing.T) {
	var o options
	fs := newFlags(&o, "suite", &bytes.Buffer{})
	err := fs.Parse([]string{"--conns", "7", "--orgs", "3", "--rate", "99", "--size", "300",
		"--duration", "4s", "--events", "11", "--batch", "5,50", "--dial-concurrency", "9"})
	if err != nil {
		t.Fatal(err)
	}
	s := bench.ShortSizes()
	o.apply(&s)
	checks := []struct {
		name      string
		got, want any
	}{
		{"idle conns", s.Idle.Conns, 7},
		{"fanout conns", s.Fanout.Conns, 7},
		{"resume clients", s.Resume.Clients, 7},
		{"slow readers", s.Slow.Readers, 7},
		{"publish orgs", s.Publish.Orgs, 3},
		{"fanout rate", s.Fanout.Rate, 99.0},
		{"slow size", s.Slow.Size, 300},
		{"fanout duration", s.Fanout.Duration, 4 * time.Second},
		{"idle hold", s.Idle.Hold, 4 * time.Second},
		{"resume events", s.Resume.Events, 11},
		{"publish batches", len(s.Publish.Batches), 2},
		{"fanout max batch", s.Fanout.MaxBatch, 5},
		{"resume dial concurrency", s.Resume.DialConcurrency, 9},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Flags left out keep the suite's sizes.
	var o2 options
	_ = newFlags(&o2, "suite", &bytes.Buffer{}).Parse(nil)
	s2 := bench.ShortSizes()
	o2.apply(&s2)
	if s2.Fanout.Conns != bench.ShortSizes().Fanout.Conns || s2.Publish.Duration != bench.ShortSizes().Publish.Duration {
		t.Errorf("unset flags changed the sizes")
	}
}

func TestClusterFlags(t *testing.T) {
	var o options
	err := newFlags(&o, "fanout", &bytes.Buffer{}).Parse([]string{"--url", "http://a:1,http://b:2", "--pid", "11,12", "--nodes", "3"})
	if err != nil {
		t.Fatal(err)
	}
	tc := o.targetConfig(&bytes.Buffer{})
	if tc.URL != "http://a:1,http://b:2" || len(tc.PIDs) != 2 || tc.PIDs[1] != 12 || tc.Nodes != 3 {
		t.Errorf("target config = %+v", tc)
	}
	// cluster-compare starts from its own sizes; flags override them.
	s := bench.Sizes{Fanout: bench.CompareFanout()}
	var o2 options
	_ = newFlags(&o2, "cluster-compare", &bytes.Buffer{}).Parse([]string{"--conns", "10000"})
	o2.apply(&s)
	if s.Fanout.Conns != 10000 || s.Fanout.Orgs != bench.CompareFanout().Orgs || s.Fanout.Rate != bench.CompareFanout().Rate {
		t.Errorf("fanout sizes %+v", s.Fanout)
	}
}

func TestTargetFromFlags(t *testing.T) {
	var o options
	_ = newFlags(&o, "idle", &bytes.Buffer{}).Parse([]string{"--source-addrs", "0", "--quiet", "--daemon-arg", "--a=1", "--daemon-arg", "--b=2"})
	o.jwtSecret = "s"
	tc := o.targetConfig(&bytes.Buffer{})
	if tc.SourceAddrs != -1 || tc.Progress != nil || string(tc.Secret) != "s" || len(tc.Daemon.Args) != 2 {
		t.Errorf("target config = %+v", tc)
	}
}

// TestFloorCommand runs `floor` small: no daemon, a passing result folder.
func TestFloorCommand(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"floor", "--conns", "10", "--duration", "100ms", "--out", out, "--quiet"}, &stdout, &stderr, noEnv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"# orgstream-bench floor: PASS", "| connections | 10 |", "writer CPU per write"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	dirs, err := filepath.Glob(filepath.Join(out, "*-floor", bench.ResultsJSON))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("result folders %v, %v", dirs, err)
	}
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Error(err)
	}
}

func TestParseRates(t *testing.T) {
	cases := []struct {
		in   string
		want []float64
		ok   bool
	}{
		{"25000,50000", []float64{25000, 50000}, true},
		{" 1.5 , 2 ", []float64{1.5, 2}, true},
		{"", nil, false},
		{"1,,2", nil, false},
		{"0", nil, false},
		{"-5", nil, false},
		{"50k", nil, false},
	}
	for _, c := range cases {
		got, err := parseRates(c.in)
		if (err == nil) != c.ok || (c.ok && !slices.Equal(got, c.want)) {
			t.Errorf("%q: %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestAnchorFlags(t *testing.T) {
	cases := []struct {
		name        string
		scenario    string
		args        []string
		anchor, cli bool
	}{
		{"publish: on by default", "publish", nil, true, false},
		{"publish with natscli", "publish", []string{"--natscli"}, true, true},
		{"publish without", "publish", []string{"--anchor=false"}, false, false},
		{"other scenarios never", "fanout", nil, false, false},
	}
	for _, tc := range cases {
		var o options
		if err := newFlags(&o, tc.scenario, &bytes.Buffer{}).Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		var s bench.Sizes
		o.setAnchor(tc.scenario, &s)
		if got := s.Publish.Anchor != nil; got != tc.anchor {
			t.Errorf("%s: anchor %v, want %v", tc.name, got, tc.anchor)
			continue
		}
		if tc.anchor && (len(s.Publish.Anchor.Natscli) > 0) != tc.cli {
			t.Errorf("%s: natscli %v, want %v", tc.name, s.Publish.Anchor.Natscli, tc.cli)
		}
	}
}
