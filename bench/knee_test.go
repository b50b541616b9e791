package bench

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestParseKneeDaemons(t *testing.T) {
	cases := []struct {
		in   string
		want []KneeDaemon
		err  bool
	}{
		{"./bin/orgstream", []KneeDaemon{{"orgstream", "./bin/orgstream"}}, false},
		{"old=/a/orgstream,new=/b/orgstream", []KneeDaemon{{"old", "/a/orgstream"}, {"new", "/b/orgstream"}}, false},
		{" old = /a , new=/b ", []KneeDaemon{{"old", "/a"}, {"new", "/b"}}, false},
		{"old=/a,old=/b", nil, true},
		{"centrifugo=/a", nil, true},
		{"/a,/b", nil, true}, // two unlabelled: both "orgstream"
		{"old=", nil, true},
		{"=/a", nil, true},
		{"a,", nil, true},
		{"", nil, true},
	}
	for _, c := range cases {
		got, err := ParseKneeDaemons(c.in)
		if (err != nil) != c.err || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%q: err %v, want error %v", c.in, err, c.err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestKnee(t *testing.T) {
	run := func(rate, p99, lost float64, ok bool) KneeRun {
		return KneeRun{Rate: rate, P99: p99, Lost: lost, OK: ok}
	}
	cases := []struct {
		name string
		runs []KneeRun
		want float64
	}{
		{"all under", []KneeRun{run(1, 5, 0, true), run(2, 20, 0, true)}, 2},
		{"p99 over", []KneeRun{run(1, 5, 0, true), run(2, 30, 0, true), run(3, 10, 0, true)}, 1},
		{"bound inclusive", []KneeRun{run(1, 25, 0, true)}, 1},
		{"lost", []KneeRun{run(1, 5, 0, true), run(2, 5, 3, true)}, 1},
		{"failed run", []KneeRun{run(1, 5, 0, false)}, 0},
		{"run error", []KneeRun{{Rate: 1, Err: "no daemon"}}, 0},
		{"NaN p99", []KneeRun{run(1, math.NaN(), 0, true)}, 0},
		{"none", nil, 0},
	}
	for _, c := range cases {
		if got := Knee(c.runs, 25*time.Millisecond); got != c.want {
			t.Errorf("%s: knee %v, want %v", c.name, got, c.want)
		}
	}
}

func TestKneeConfigValidate(t *testing.T) {
	bad := []KneeConfig{
		{},
		{Rates: []float64{2, 1}},
		{Rates: []float64{1, 1}},
		{Rates: []float64{-1}},
		{Rates: []float64{1}, Target: TargetConfig{URL: "http://127.0.0.1:1"}},
	}
	for i, c := range bad {
		if err := c.validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("case %d: err %v, want ErrConfig", i, err)
		}
	}
	c := KneeConfig{Rates: []float64{1, 2}, Target: TargetConfig{Daemon: DaemonConfig{Path: "/x"}}}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Daemons) != 1 || c.Daemons[0].Path != "/x" || c.P99 != DefaultKneeP99 {
		t.Errorf("defaults: %+v", c)
	}
}
