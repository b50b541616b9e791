package presence

import (
	"maps"
	"testing"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		key       string
		ok        bool
		org, inst string
	}{
		{key: "o.acme.AbC09", ok: true, org: "acme", inst: "AbC09"},
		{key: "o.a-b_c.x", ok: true, org: "a-b_c", inst: "x"},
		{key: "o.acme"},
		{key: "o.acme."},
		{key: "o..x"},
		{key: "o.acme.x.y"},
		{key: "o.ac%me.x"},
		{key: "n.AbC09"},
		{key: "x.acme.y"},
		{key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			org, inst, ok := parseKey(tt.key)
			if ok != tt.ok || org != tt.org || inst != tt.inst {
				t.Fatalf("parseKey(%q) = %q %q %v, want %q %q %v", tt.key, org, inst, ok, tt.org, tt.inst, tt.ok)
			}
		})
	}
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
	tests := []struct {
		subject   string
		inst      string
		leave, ok bool
	}{
		{subject: "orgstream.presence.beat.AbC09", inst: "AbC09", ok: true},
		{subject: "orgstream.presence.leave.AbC09", inst: "AbC09", leave: true, ok: true},
		{subject: "orgstream.presence.beat."},
		{subject: "orgstream.presence.beat.a.b"},
		{subject: "orgstream.presence.beat.a-b"},
		{subject: "orgstream.presence.other.x"},
		{subject: "orgstream.live.acme"},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			inst, leave, ok := parseBeat(tt.subject)
			if inst != tt.inst || leave != tt.leave || ok != tt.ok {
				t.Fatalf("parseBeat(%q) = %q %v %v, want %q %v %v", tt.subject, inst, leave, ok, tt.inst, tt.leave, tt.ok)
			}
		})
	}
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
