package presence

import (
	"maps"
	"testing"
)

// parseCase is a row of a parser's table: an input and all it returns.
type parseCase[R comparable] struct {
	in   string
	want R
}

// checkParses runs parse on each row's input, as a subtest.
func checkParses[R comparable](t *testing.T, name string, parse func(string) R, rows []parseCase[R]) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.in, func(t *testing.T) {
			if got := parse(tc.in); got != tc.want {
				t.Fatalf("%s(%q) = %+v, want %+v", name, tc.in, got, tc.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	type parsed struct {
		org, inst string
		ok        bool
	}
	checkParses(t, "parseKey", func(key string) parsed {
		org, inst, ok := parseKey(key)
		return parsed{org, inst, ok}
	}, []parseCase[parsed]{
		{"o.acme.AbC09", parsed{"acme", "AbC09", true}},
		{"o.a-b_c.x", parsed{"a-b_c", "x", true}},
		{"o.acme", parsed{}},
		{"o.acme.", parsed{}},
		{"o..x", parsed{}},
		{"o.acme.x.y", parsed{}},
		{"o.ac%me.x", parsed{}},
		{"n.AbC09", parsed{}},
		{"x.acme.y", parsed{}},
		{"", parsed{}},
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("o.acme.AbC09")
	f.Add("o.a.b.c")
	f.Fuzz(func(t *testing.T, key string) {
		org, inst, ok := parseKey(key)
		// What parses is what the writer builds from the parts.
		if ok && orgKey(org, inst) != key {
			t.Fatalf("%q parsed to %q %q, which builds %q", key, org, inst, orgKey(org, inst))
		}
	})
}

func TestParseBeat(t *testing.T) {
	type parsed struct {
		inst      string
		leave, ok bool
	}
	checkParses(t, "parseBeat", func(subject string) parsed {
		inst, leave, ok := parseBeat(subject)
		return parsed{inst, leave, ok}
	}, []parseCase[parsed]{
		{"orgstream.presence.beat.AbC09", parsed{"AbC09", false, true}},
		{"orgstream.presence.leave.AbC09", parsed{"AbC09", true, true}},
		{"orgstream.presence.beat.", parsed{}},
		{"orgstream.presence.beat.a.b", parsed{}},
		{"orgstream.presence.beat.a-b", parsed{}},
		{"orgstream.presence.other.x", parsed{}},
		{"orgstream.live.acme", parsed{}},
	})
}

func FuzzParseBeat(f *testing.F) {
	f.Add("orgstream.presence.beat.AbC09")
	f.Add("orgstream.presence.leave.x")
	f.Fuzz(func(t *testing.T, subject string) {
		inst, leave, ok := parseBeat(subject)
		if !ok {
			return
		}
		again := beatPrefix + inst
		if leave {
			again = leavePrefix + inst
		}
		if again != subject || !validInstance(inst) {
			t.Fatalf("%q parsed to %q (leave %v)", subject, inst, leave)
		}
	})
}

func TestDecodeUsers(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]int
	}{
		{in: `{"alice":2,"bob":1}`, want: map[string]int{"alice": 2, "bob": 1}},
		{in: `{}`, want: map[string]int{}},
		{in: `null`},
		{in: `[]`},
		{in: `{"alice":0}`},
		{in: `{"alice":-1}`},
		{in: `{"":1}`},
		{in: `{"alice":1.5}`},
		{in: `{"alice":"1"}`},
		{in: ``},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := decodeUsers([]byte(tt.in))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("decodeUsers(%s) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("decodeUsers(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzDecodeUsers(f *testing.F) {
	f.Add([]byte(`{"alice":2,"bob":1}`))
	f.Add([]byte(`{"\u00e9":1}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, err := decodeUsers(b)
		if err != nil {
			return
		}
		for u, n := range users {
			if u == "" || n <= 0 {
				t.Fatalf("%q decoded to %v", b, users)
			}
		}
		// The writer's encoding of it decodes to the same.
		again, err := decodeUsers(encodeUsers(users))
		if err != nil || !maps.Equal(again, users) {
			t.Fatalf("round trip of %v: %v, %v", users, again, err)
		}
	})
}
