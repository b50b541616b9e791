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

func TestKneeReport(t *testing.T) {
	cfg := KneeConfig{Rates: []float64{100, 200, 300}, Centrifugo: &CentrifugoConfig{}, P99: 25 * time.Millisecond}
	ok := func(rate, p99, cpu float64) KneeRun {
		return KneeRun{Rate: rate, Achieved: rate, P50: 1, P99: p99, CPU: cpu, OK: true}
	}
	runs := map[string][]KneeRun{
		"new":        {ok(100, 5, 10), ok(200, 10, 10), ok(300, 20, 10)},
		"old":        {ok(100, 5, 20), ok(200, 40, 20), ok(300, 50, 20)},
		"centrifugo": {ok(100, 8, 16), {Rate: 200, Err: "no start"}, ok(300, 9, 16)},
	}
	r := newResult(ScenarioKnee, nil)
	kneeReport(r, cfg, []string{"new", "old", "centrifugo"}, runs, 5)
	want := map[string]float64{"knee new": 300, "knee old": 100, "knee centrifugo": 100,
		"knee new ÷ centrifugo": 3, "knee old ÷ centrifugo": 1}
	for name, v := range want {
		if got := metricValue(t, r, name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if len(r.Tables) != 2 || len(r.Tables[0].Rows) != 9 {
		t.Fatalf("tables %+v", r.Tables)
	}
	// Rate 100, system new: CPU 10 µs over a 5 µs floor.
	if row := r.Tables[0].Rows[0]; row[1] != "new" || row[6] != "2" || row[9] != "yes" {
		t.Errorf("first row %v", row)
	}
	if row := r.Tables[0].Rows[5]; row[1] != "centrifugo" || row[2] != "error: no start" {
		t.Errorf("error row %v", row)
	}
	if row := r.Tables[1].Rows[0]; row[1] != "≥ 300 (the highest rate tried)" || row[2] != "3" {
		t.Errorf("knee row %v", row)
	}
}
