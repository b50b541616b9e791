package messages

import (
	"errors"
	"strings"
	"testing"
)

var patternCases = []struct {
	p   string
	err error
}{
	{"orders.updated", nil},
	{"orders.*", nil},
	{"billing.>", nil},
	{">", nil},
	{"*", nil},
	{"*.*.>", nil},
	{"a..b", nil},
	{"a.*.c", nil},
	{strings.Repeat("a", MaxPatternLen), nil},
	{"", ErrPatternEmpty},
	{strings.Repeat("a", MaxPatternLen+1), ErrPatternTooLong},
	{"a b", ErrPatternChar},
	{"a/b", ErrPatternChar},
	{"é", ErrPatternChar},
	{"a.b*", ErrPatternWildcard},
	{"a.**", ErrPatternWildcard},
	{"a.>.b", ErrPatternWildcard},
	{">.a", ErrPatternWildcard},
	{"a>", ErrPatternWildcard},
	{"a.>>", ErrPatternWildcard},
}

func TestParsePattern(t *testing.T) {
	for _, tc := range patternCases {
		if err := ParsePattern(tc.p); !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("ParsePattern(%q) = %v, want %v", tc.p, err, tc.err)
		}
	}
}

func TestParsePatterns(t *testing.T) {
	many := make([]string, MaxPatterns+1)
	for i := range many {
		many[i] = "a"
	}
	for _, tc := range []struct {
		name string
		ps   []string
		err  error
	}{
		{"one", []string{"a.*"}, nil},
		{"max", many[:MaxPatterns], nil},
		{"none", nil, ErrPatternsNone},
		{"empty", []string{}, ErrPatternsNone},
		{"too many", many, ErrPatternsMany},
		{"one bad", []string{"a", "b*"}, ErrPatternWildcard},
	} {
		if err := ParsePatterns(tc.ps); !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("%s: ParsePatterns = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, topic string
		want     bool
	}{
		{"orders.updated", "orders.updated", true},
		{"orders.updated", "orders.updated.x", false},
		{"orders.updated", "orders", false},
		{"orders.updated", "orders.update", false},
		{"orders.*", "orders.updated", true},
		{"orders.*", "orders", false},
		{"orders.*", "orders.a.b", false},
		{"orders.*", "orders.", true}, // an empty segment is a segment
		{"orders.>", "orders.a", true},
		{"orders.>", "orders.a.b.c", true},
		{"orders.>", "orders", false},
		{"orders.>", "ordersx.a", false},
		{">", "a", true},
		{">", "a.b", true},
		{"*", "a", true},
		{"*", "a.b", false},
		{"*.b", "a.b", true},
		{"*.b", "a.c", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
		{"a..b", "a..b", true},
		{"a.*.b", "a..b", true},
		{"a", "a.", false},
		{"a.", "a", false},
		{"*.>", "a", false},
		{"*.>", "a.b", true},
	} {
		if got := Match(tc.p, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.p, tc.topic, got, tc.want)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		token []string
		q     string
		want  bool
	}{
		{[]string{"a.b"}, "a.b", true},
		{[]string{"a.b"}, "a.c", false},
		{[]string{"a.b"}, "a.*", false},
		{[]string{"a.*"}, "a.b", true},
		{[]string{"a.*"}, "a.*", true},
		{[]string{"a.*"}, "a.>", false},
		{[]string{"a.*"}, "a.b.c", false},
		{[]string{"a.>"}, "a.b", true},
		{[]string{"a.>"}, "a.*.c", true},
		{[]string{"a.>"}, "a.>", true},
		{[]string{"a.>"}, "a", false},
		{[]string{"a.>"}, ">", false},
		{[]string{">"}, ">", true},
		{[]string{">"}, "x.*.>", true},
		{[]string{"*.b"}, "*.b", true},
		{[]string{"*.b"}, "a.*", false},
		{[]string{"x", "a.*"}, "a.q", true},
		// Conservative: together they cover a.>, no one of them does.
		{[]string{"a.*", "a.*.>"}, "a.>", false},
		{nil, "a", false},
	} {
		if got := Covers(tc.token, tc.q); got != tc.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.token, tc.q, got, tc.want)
		}
	}
}

// TestCoversImpliesMatch checks Covers against Match on every topic of a
// small alphabet: what a covered query pattern matches, a token pattern
// matches too.
func TestCoversImpliesMatch(t *testing.T) {
	pats := []string{"a", "b", "*", ">", "a.b", "a.*", "*.b", "a.>", "*.>", "a.*.b", "a.b.>", "*.*"}
	var topics []string
	segs := []string{"a", "b", ""}
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		for _, s := range segs {
			tp := s
			if prefix != "" || depth > 0 {
				tp = prefix + "." + s
			}
			if tp != "" && depth < 3 {
				topics = append(topics, tp)
			}
			if depth < 3 {
				gen(tp, depth+1)
			}
		}
	}
	gen("", 0)
	for _, tok := range pats {
		for _, q := range pats {
			if !Covers([]string{tok}, q) {
				continue
			}
			for _, tp := range topics {
				if Match(q, tp) && !Match(tok, tp) {
					t.Errorf("Covers(%q, %q) but %q matches only the query", tok, q, tp)
				}
			}
		}
	}
}

func TestScopeAllows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     Scope
		topic string
		to    []string
		want  bool
	}{
		{"unscoped", Scope{User: "al"}, "x", nil, true},
		{"to names user", Scope{User: "al"}, "x", []string{"bo", "al"}, true},
		{"to leaves user out", Scope{User: "al"}, "x", []string{"bo"}, false},
		{"to by prefix is not a name", Scope{User: "al"}, "x", []string{"a", "alx"}, false},
		{"topic matches", Scope{User: "al", Topics: []string{"o.*"}}, "o.x", nil, true},
		{"topic does not match", Scope{User: "al", Topics: []string{"o.*"}}, "p.x", nil, false},
		{"topic matches, to leaves out", Scope{User: "al", Topics: []string{"o.*"}}, "o.x", []string{"bo"}, false},
		{"empty topics allow nothing", Scope{User: "al", Topics: []string{}}, "o.x", nil, false},
	} {
		if got := tc.s.Allows(tc.topic, tc.to); got != tc.want {
			t.Errorf("%s: Allows = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestScopeAllowsFrame(t *testing.T) {
	s := Scope{User: "al", Topics: []string{"o.>"}}
	ev := EncodeEvent(Event{Seq: 1, Topic: "p", To: []string{"al"}})
	if s.AllowsFrame(&ev) {
		t.Fatal("frame of topic p allowed under o.>")
	}
	w := EncodeWelcome(Welcome{})
	if !s.AllowsFrame(&w) {
		t.Fatal("a welcome is not filtered")
	}
	ev = EncodeEvent(Event{Seq: 2, Topic: "o.a", To: []string{"bo", "al"}})
	if !s.AllowsFrame(&ev) {
		t.Fatal("frame of o.a to al refused")
	}
}

func TestScopeAllowsDoesNotAllocate(t *testing.T) {
	s := Scope{User: "u7", Topics: []string{"a.*", "b.>", "c.d.e"}}
	to := []string{"u1", "u2", "u7"}
	if n := testing.AllocsPerRun(100, func() {
		s.Allows("b.x.y", to)
		s.Allows("c.d.f", nil)
	}); n != 0 {
		t.Fatalf("Allows allocates %v times", n)
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, tc := range patternCases {
		f.Add(tc.p, "a.b")
	}
	f.Fuzz(func(t *testing.T, p, topic string) {
		if ParsePattern(p) != nil {
			return
		}
		if len(p) == 0 || len(p) > MaxPatternLen {
			t.Fatalf("accepted %d bytes", len(p))
		}
		// A valid pattern covers itself; a pattern without wildcards is a
		// topic and matches itself only.
		if !Covers([]string{p}, p) {
			t.Fatalf("%q does not cover itself", p)
		}
		if !strings.ContainsAny(p, "*>") {
			if !ValidTopic(p) || !Match(p, p) {
				t.Fatalf("literal %q is not a topic matching itself", p)
			}
			if ValidTopic(topic) && Match(p, topic) != (p == topic) {
				t.Fatalf("literal %q vs %q", p, topic)
			}
		}
		if ValidTopic(topic) && Match(p, topic) && !Match(">", topic) {
			t.Fatalf("%q matched by %q but not by >", topic, p)
		}
	})
}

func BenchmarkScopeAllows(b *testing.B) {
	s := Scope{User: "u7", Topics: []string{"a.*", "b.>", "c.d.e"}}
	b.ReportAllocs()
	for b.Loop() {
		s.Allows("c.d.e", nil)
	}
}
