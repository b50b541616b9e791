package transport

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

var lastEventIDCases = []struct {
	in    string
	epoch string
	seq   uint64
	ok    bool
}{
	{"e-41a:1042", "e-41a", 1042, true},
	{":7", "", 7, true},
	{"e:1:2", "e:1", 2, true},
	{"e-1:0", "e-1", 0, true},
	{"e-1:18446744073709551615", "e-1", 18446744073709551615, true},
	{"e-1:18446744073709551616", "", 0, false},
	{"e-1:", "", 0, false},
	{"17", "", 0, false},
	{"e-1:-1", "", 0, false},
	{"e-1:+1", "", 0, false},
	{"e-1: 1", "", 0, false},
	{"e 1:1", "", 0, false},
	{"e\x001:1", "", 0, false},
	{strings.Repeat("e", maxEpochLen) + ":1", strings.Repeat("e", maxEpochLen), 1, true},
	{strings.Repeat("e", maxEpochLen+1) + ":1", "", 0, false},
}

func TestParseLastEventID(t *testing.T) {
	for _, tt := range lastEventIDCases {
		epoch, seq, ok := parseLastEventID(tt.in)
		if ok != tt.ok || ok && (epoch != tt.epoch || seq != tt.seq) {
			t.Errorf("parseLastEventID(%q) = %q %d %v, want %q %d %v", tt.in, epoch, seq, ok, tt.epoch, tt.seq, tt.ok)
		}
	}
}

// Whatever it is given, a Last-Event-ID either parses into the position it
// names (which prints back as it came, but for leading zeros) or is
// refused.
func FuzzParseLastEventID(f *testing.F) {
	for _, tt := range lastEventIDCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		epoch, seq, ok := parseLastEventID(in)
		if !ok {
			return
		}
		i := strings.LastIndexByte(in, ':')
		if in[:i] != epoch || strings.TrimLeft(in[i+1:], "0") != strings.TrimLeft(strconv.FormatUint(seq, 10), "0") {
			t.Fatalf("%q parsed as %q %d", in, epoch, seq)
		}
		if len(epoch) > maxEpochLen || strings.ContainsAny(epoch, " \r\n\t") {
			t.Fatalf("%q: epoch %q accepted", in, epoch)
		}
	})
}

var acceptsGzipCases = []struct {
	in   []string
	want bool
}{
	{nil, false},
	{[]string{""}, false},
	{[]string{"gzip"}, true},
	{[]string{"GZIP"}, true},
	{[]string{"x-gzip"}, true},
	{[]string{"deflate, gzip, br"}, true},
	{[]string{"br;q=1.0, gzip;q=0.8, *;q=0.1"}, true},
	{[]string{"gzip;q=0"}, false},
	{[]string{"gzip; q=0.000"}, false},
	{[]string{"gzip;q=0.001"}, true},
	{[]string{"*"}, true},
	{[]string{"*;q=0"}, false},
	{[]string{"gzip;q=0, *"}, false},
	{[]string{"identity"}, false},
	{[]string{"br", "gzip"}, true},
	{[]string{"gzipx"}, false},
}

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range acceptsGzipCases {
		if got := acceptsGzip(tt.in); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// An Accept-Encoding never panics, and one that does not mention gzip,
// x-gzip or * never gets gzip.
func FuzzAcceptsGzip(f *testing.F) {
	for _, tt := range acceptsGzipCases {
		f.Add(strings.Join(tt.in, ","))
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := acceptsGzip([]string{in})
		l := strings.ToLower(in)
		if got && !strings.Contains(l, "gzip") && !strings.Contains(l, "*") {
			t.Fatalf("%q accepted gzip", in)
		}
	})
}

// HEAD, which the GET route also matches, is refused: a stream has no
// head-only form.
func TestSSEHead(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, err := http.Head(env.url(SSEPath))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("HEAD: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
