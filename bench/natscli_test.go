package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Reports as natscli v0.5.0 prints them (internal/bench/stats.go), one
// client and several.
const (
	natscliSingle = `13:02:11 Starting JetStream synchronous publisher benchmark [subject=natscli, multisubject=false, multisubjectmax=100000, js=true, msgs=40,000, msgsize=256 B, pubbatch=100, clients=1, dedup=false, dedupwindow=2m0s]
13:02:11 Using stream: NATSCLI
13:02:16 Finished

NATS JetStream synchronous publisher stats: 7,797 msgs/sec ~ 1.9 MiB/sec ~ min: 85.2us ~ avg: 127.33us ~ max: 3,120.5us ~ P50: 119us ~ P90: 150.1us ~ P99: 300us ~ P99.9: 1,200us

`
	natscliMulti = ` [1] 2,761 msgs/sec ~ 690 KiB/sec ~ min: 120us ~ avg: 360us ~ max: 9,001us ~ P50: 340us ~ P90: 500us ~ P99: 900us ~ P99.9: 2,000us (13,750 msgs)
 [2] 2,755 msgs/sec ~ 689 KiB/sec ~ min: 121us ~ avg: 361us ~ max: 9,002us ~ P50: 341us ~ P90: 501us ~ P99: 901us ~ P99.9: 2,001us (13,750 msgs)

 NATS JetStream synchronous publisher aggregated stats: 44,012 msgs/sec ~ 10.7 MiB/sec
 message rates min 2,755 | avg 2,758 | max 2,761 | stddev 3 msgs
 latencies per operation min 120us | avg 360us | max 9,002us | stddev 20us
`
	natscliAsync = "NATS JetStream asynchronous publisher stats: 151,204 msgs/sec ~ 36.9 MiB/sec ~ min: 2,900us ~ avg: 3,300us ~ max: 9,000us ~ P50: 3,200us ~ P90: 3,500us ~ P99: 5,000us ~ P99.9: 9,000us\n"
)

func TestParseNatscliRate(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want float64
		ok   bool
	}{
		{"one client", natscliSingle, 7797, true},
		{"aggregated wins", natscliMulti, 44012, true},
		{"async", natscliAsync, 151204, true},
		{"below a thousand", "NATS JetStream synchronous publisher stats: 812 msgs/sec ~ 203 KiB/sec\n", 812, true},
		{"no stats", "13:02:11 Starting JetStream synchronous publisher benchmark\nerror: nats: no servers available\n", 0, false},
		{"empty", "", 0, false},
		{"clients without aggregate", " [1] stats: 5 msgs/sec\n [2] stats: 6 msgs/sec\n", 0, false},
		{"bad grouping", "NATS stats: 7,79 msgs/sec ~\n", 0, false},
		{"bad leading group", "NATS stats: 1234,567 msgs/sec ~\n", 0, false},
		{"negative", "NATS stats: -5 msgs/sec ~\n", 0, false},
		{"not a number", "NATS aggregated stats: lots msgs/sec\n", 0, false},
		{"no unit", "NATS JetStream synchronous publisher stats: 7,797 ~ 1.9 MiB/sec\n", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseNatscliRate([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v (ok %v)", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseNatscliRate(f *testing.F) {
	for _, s := range []string{natscliSingle, natscliMulti, natscliAsync, "x stats: 1,000 msgs/sec", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := ParseNatscliRate(in)
		if err != nil {
			if v != 0 {
				t.Fatalf("error %v with value %v", err, v)
			}
			return
		}
		if v < 0 || !strings.Contains(string(in), " msgs/sec") {
			t.Fatalf("rate %v from %q", v, in)
		}
	})
}

// runNatscli builds natscli first (--version), then runs the shape's
// command line and reads its report. natscli itself is a `go run` of
// minutes when not cached, so a script stands in for it here, printing a
// captured report; the real one is run by `orgstream-bench publish
// --natscli`.
func TestRunNatscliCommandLine(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "nats")
	body := "#!/bin/sh\necho \"$@\" >> " + filepath.Join(dir, "args") + "\n" +
		"[ \"$1\" = --version ] && { echo v0.5.0; exit 0; }\n" +
		"[ \"$NATSCLI_FAIL\" = 1 ] && { echo 'nats: error: no servers available' >&2; exit 1; }\n" +
		"cat <<'END'\n" + natscliAsync + "END\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := runNatscli(testCtx(t), []string{script}, "nats://127.0.0.1:4999", AnchorAsync, 1, 50, 256, 2000, 1500*time.Millisecond)
	if err != nil || got != 151204 {
		t.Fatalf("runNatscli = %v, %v; want 151204", got, err)
	}
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	want := "--version\nbench js pub async natscli --server nats://127.0.0.1:4999 --msgs 3000 --size 256B --clients 1 " +
		"--stream NATSCLI --create --no-progress --batch 50\n"
	if string(args) != want {
		t.Errorf("natscli ran with\n%s\nwant\n%s", args, want)
	}
	t.Setenv("NATSCLI_FAIL", "1")
	if _, err := runNatscli(testCtx(t), []string{script}, "nats://127.0.0.1:4999", AnchorSync, 16, 50, 256, 10, time.Second); err == nil ||
		!strings.Contains(err.Error(), "no servers available") {
		t.Errorf("failing natscli: err = %v, want its stderr quoted", err)
	}
}
