package messages

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// worstSeq and worstTime give an event frame its longest seq and timestamp,
// worstEpoch its SSE id the longest epoch the log makes ("e-" and a Unix
// time in nanoseconds in base 36).
var (
	worstEpoch = "e-" + strings.Repeat("z", 13)
	worstSeq   = ^uint64(0)
	worstTime  = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// checkFramesBound checks what MaxEventFrameOverhead promises for an
// accepted publish body: its events' frames, in each encoding, together
// take at most len(body) + n*MaxEventFrameOverhead bytes, and within MaxBody
// every frame fits MaxEventFrame and all fit MaxPublishFrames.
func checkFramesBound(t *testing.T, body []byte, drafts []Draft) {
	t.Helper()
	plain, deflated, sse, gz := 0, 0, 0, 0
	gzSize := map[string]int{} // the events of a test batch are alike: compress each kind once
	for _, d := range drafts {
		f := EncodeEventIn(Event{Seq: worstSeq, Topic: d.Topic, ID: d.ID, Time: worstTime, Data: d.Data}, worstEpoch)
		if f.Deflated != nil && len(f.Deflated) >= len(f.Plain) {
			t.Fatalf("deflated frame of %d bytes kept beside a plain one of %d", len(f.Deflated), len(f.Plain))
		}
		if len(body) <= MaxBody && len(f.Plain) > MaxEventFrame {
			t.Fatalf("a frame of %d bytes from a body of %d: over MaxEventFrame %d", len(f.Plain), len(body), MaxEventFrame)
		}
		key := d.Topic + "\x00" + d.ID + "\x00" + string(d.Data)
		g, ok := gzSize[key]
		if !ok {
			g = len(f.For(EncSSEGzip))
			gzSize[key] = g
		}
		if len(body) <= MaxBody && (len(f.For(EncSSE)) > MaxEventFrame || g > MaxEventFrame) {
			t.Fatalf("SSE forms of %d and %d bytes from a body of %d: over MaxEventFrame %d",
				len(f.For(EncSSE)), g, len(body), MaxEventFrame)
		}
		plain += len(f.Plain)
		deflated += len(f.For(EncWSDeflate))
		sse += len(f.For(EncSSE))
		gz += g
	}
	if bound := len(body) + len(drafts)*MaxEventFrameOverhead; plain > bound || deflated > bound || sse > bound || gz > bound {
		t.Fatalf("%d events of a %d-byte body: frames of %d bytes (%d deflated, SSE %d, SSE gzip %d), over the bound %d",
			len(drafts), len(body), plain, deflated, sse, gz, bound)
	}
	if len(body) <= MaxBody && plain > MaxPublishFrames {
		t.Fatalf("frames of %d bytes from a body of %d: over MaxPublishFrames %d", plain, len(body), MaxPublishFrames)
	}
}

// randomString is n characters of random base64: deflate hardly shrinks it.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)[:n]
}

// fill pads a body prefix+X+suffix to exactly MaxBody bytes with a JSON
// string X of random characters.
func fill(prefix, suffix string) string {
	return prefix + `"` + randomString(MaxBody-len(prefix)-len(suffix)-2) + `"` + suffix
}

func TestMaxFramesBound(t *testing.T) {
	topic := strings.Repeat("t", MaxTopicLen)
	// Every byte of the id escaped, in body and frame alike.
	idJSON := `"` + strings.Repeat(`\"`, MaxIDLen) + `"`
	batch := func(event string) string {
		var b strings.Builder
		b.WriteString(`{"events":[`)
		for i := range MaxBatch {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(event)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	cases := []struct {
		name string
		body string
	}{
		{"largest data", fill(`{"topic":"t","data":`, `}`)},
		{"largest data, longest topic and id", fill(`{"topic":"`+topic+`","id":`+idJSON+`,"data":`, `}`)},
		{"largest compressible data", `{"topic":"t","data":"` + strings.Repeat("a", MaxBody-len(`{"topic":"t","data":""}`)) + `"}`},
		{"the smallest event", `{"topic":"t","data":0}`},
		{"a batch of the shortest events with data", batch(`{"topic":"t","data":0}`)},
		{"a batch of the longest topics and ids", batch(`{"topic":"` + topic + `","id":` + idJSON + `,"data":0}`)},
		{"a batch of events with whitespace", batch(` { "topic" : "t" , "data" : 0 } `)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePublish([]byte(tc.body))
			if err != nil {
				t.Fatalf("body of %d bytes refused: %v", len(tc.body), err)
			}
			if len(tc.body) > MaxBody {
				t.Fatalf("body of %d bytes is over MaxBody", len(tc.body))
			}
			checkFramesBound(t, []byte(tc.body), p.Drafts)
		})
	}
}
