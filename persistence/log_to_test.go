package persistence

import (
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/orgstream/orgstream/messages"
)

// toUsers are user ids that a header must carry unchanged.
var toUsers = []string{"alice", `q"uo\\te`, "new\nline", "é日本", "😀", "a,b", " sp ", "\x00nul"}

// testTo: an event's "to" is stored, read back, and followed unchanged; an
// event without one reads back without one.
func testTo(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l := h.log
	d1 := draft("t", "", `1`)
	d1.To = toUsers
	d2 := draft("t", "", `2`)
	d3 := draft("t", "", `3`)
	d3.To = []string{"bob"}
	mustAppend(t, l, "acme", d1)
	mustAppend(t, l, "acme", d2, d3)
	want := [][]string{toUsers, nil, {"bob"}}
	check := func(how string, evs []messages.Event) {
		t.Helper()
		if len(evs) != len(want) {
			t.Fatalf("%s: %d events", how, len(evs))
		}
		for i, ev := range evs {
			if !slices.Equal(ev.To, want[i]) || (ev.To == nil) != (want[i] == nil) {
				t.Fatalf("%s: event %d to = %q, want %q", how, ev.Seq, ev.To, want[i])
			}
		}
	}
	evs, err := l.Read(ctxT(t), "acme", 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	check("read", evs)
	var c collector
	f, err := l.Follow("acme", 0, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	eventually(t, 5*time.Second, "3 events followed", func() bool { return len(c.seqs()) >= 3 })
	c.mu.Lock()
	got := slices.Clone(c.evs)
	c.mu.Unlock()
	check("follow", got)
}

func TestToHeader(t *testing.T) {
	for _, to := range [][]string{toUsers, {"a"}, {"\uffff", "\U0010ffff"}} {
		v := encodeTo(to)
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] >= 0x7f {
				t.Fatalf("header %q has byte %#x", v, v[i])
			}
		}
		if len(v) > toHeaderLen(to) {
			t.Fatalf("header of %d bytes, bound %d", len(v), toHeaderLen(to))
		}
		if got := decodeTo(v); !slices.Equal(got, to) {
			t.Fatalf("decodeTo(encodeTo(%q)) = %q", to, got)
		}
	}
	if encodeTo(nil) != "" || decodeTo("") != nil {
		t.Fatal("no to must be no header")
	}
	for _, bad := range []string{"[", "[]", `"a"`, "[1]", "null"} {
		if got := decodeTo(bad); !slices.Equal(got, []string{""}) {
			t.Fatalf("decodeTo(%q) = %q, want the empty user (no one)", bad, got)
		}
	}
}

func FuzzToHeader(f *testing.F) {
	f.Add("alice", "b\"ob")
	f.Add("é", "\x00")
	f.Fuzz(func(t *testing.T, a, b string) {
		to := []string{a, b}
		for _, u := range to {
			if !utf8.ValidString(u) {
				return // ParsePublish gives valid UTF-8 only
			}
		}
		if got := decodeTo(encodeTo(to)); !slices.Equal(got, to) {
			t.Fatalf("round trip of %q = %q", to, got)
		}
		_ = decodeTo(a) // never panics
	})
}
