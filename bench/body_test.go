package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/orgstream/orgstream/transport"
)

func TestEventDataSize(t *testing.T) {
	sent := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC).UnixNano()
	cases := []struct {
		size, want int
	}{
		{0, minDataSize},
		{10, minDataSize},
		{minDataSize, minDataSize},
		{256, 256},
		{1024, 1024},
	}
	for _, tc := range cases {
		d := EventData(sent, tc.size)
		if len(d) != tc.want {
			t.Errorf("EventData(size %d) is %d bytes, want %d: %s", tc.size, len(d), tc.want, d)
		}
		var v struct {
			T   int64  `json:"t"`
			Pad string `json:"pad"`
		}
		if err := json.Unmarshal(d, &v); err != nil || v.T != sent {
			t.Errorf("EventData(size %d) = %s: %v", tc.size, d, err)
		}
	}
}

func TestBatchBody(t *testing.T) {
	for _, n := range []int{1, 2, 10, 1000} {
		b := BatchBody(n, 1795867200123456789, 100)
		var body struct {
			Events []struct {
				Topic string          `json:"topic"`
				Data  json.RawMessage `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(body.Events) != n {
			t.Fatalf("n=%d: %d events", n, len(body.Events))
		}
		for _, e := range body.Events {
			if e.Topic != Topic || len(e.Data) != 100 {
				t.Fatalf("n=%d: event %s / %d bytes of data", n, e.Topic, len(e.Data))
			}
		}
	}
}

func TestEventsDue(t *testing.T) {
	s := int64(time.Second)
	cases := []struct {
		name     string
		rate     float64
		elapsed  int64
		sent     int64
		maxBatch int
		want     int
	}{
		{"nothing yet", 100, 0, 0, 0, 0},
		{"first tick", 100, s / 100, 0, 0, 1},
		{"one second", 100, s, 0, 0, 100},
		{"partly sent", 100, s, 60, 0, 40},
		{"ahead", 100, s, 150, 0, 0},
		{"capped", 10000, s, 0, 1000, 1000},
		{"fractional rate", 0.5, 3 * s, 0, 0, 1},
		{"no rate", 0, s, 0, 0, 0},
		{"negative time", 100, -s, 0, 0, 0},
	}
	for _, tc := range cases {
		if got := EventsDue(tc.rate, tc.elapsed, tc.sent, tc.maxBatch); got != tc.want {
			t.Errorf("%s: EventsDue = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func BenchmarkBatchBody100(b *testing.B) {
	bb := batchBuilder{pad: padFor(256)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = bb.append(buf[:0], 100, 1795867200123456789)
	}
	b.SetBytes(int64(len(buf)))
}

func TestEventsPerBody(t *testing.T) {
	// The harness does not link the server's transport; its copy of the
	// limit must stay the server's.
	if MaxBody != transport.MaxPublishBody {
		t.Fatalf("MaxBody = %d, transport.MaxPublishBody = %d", MaxBody, transport.MaxPublishBody)
	}
	for _, size := range []int{0, 34, 256, 1024, 4096, 100_000, 2 << 20} {
		n := EventsPerBody(size)
		if n < 1 {
			t.Fatalf("size %d: %d events", size, n)
		}
		if got := len(BatchBody(n, time.Now().UnixNano(), size)); n > 1 && got > MaxBody {
			t.Errorf("size %d: %d events make %d bytes > %d", size, n, got, MaxBody)
		}
		if got := len(BatchBody(n+1, time.Now().UnixNano(), size)); got <= MaxBody {
			t.Errorf("size %d: %d events would still fit (%d bytes)", size, n+1, got)
		}
	}
}

// The orgs' pacing phases spread one period evenly: org i starts i/orgs of
// the way through it, so the orgs' events interleave instead of bursting.
func TestPhaseSpreadsOrgs(t *testing.T) {
	tests := []struct {
		i, orgs int
		per     float64
		want    time.Duration
	}{
		{0, 10, 2.5, 0},
		{1, 10, 2.5, 40 * time.Millisecond},
		{9, 10, 2.5, 360 * time.Millisecond},
		{3, 4, 100, 7500 * time.Microsecond},
		{5, 1, 100, 0},
		{2, 10, 0, 0},
	}
	for _, tt := range tests {
		if got := phase(tt.i, tt.orgs, tt.per); got != tt.want {
			t.Errorf("phase(%d, %d, %g) = %v, want %v", tt.i, tt.orgs, tt.per, got, tt.want)
		}
	}
}
