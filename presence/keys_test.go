package presence

import (
	"maps"
	"testing"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		key       string
		kind      keyKind
		org, inst string
	}{
		{key: "o.acme.AbC09", kind: keyOrg, org: "acme", inst: "AbC09"},
		{key: "o.a-b_c.x", kind: keyOrg, org: "a-b_c", inst: "x"},
		{key: "n.AbC09", kind: keyHeartbeat, inst: "AbC09"},
		{key: "o.acme"},
		{key: "o.acme."},
		{key: "o..x"},
		{key: "o.acme.x.y"},
		{key: "o.ac%me.x"},
		{key: "n."},
		{key: "n.a.b"},
		{key: "n.a-b"},
		{key: "x.acme.y"},
		{key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			kind, org, inst, ok := parseKey(tt.key)
			if ok != (tt.kind != 0) || kind != tt.kind || org != tt.org || inst != tt.inst {
				t.Fatalf("parseKey(%q) = %v %q %q %v, want %v %q %q", tt.key, kind, org, inst, ok, tt.kind, tt.org, tt.inst)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("o.acme.AbC09")
	f.Add("n.x")
	f.Add("o.a.b.c")
	f.Fuzz(func(t *testing.T, key string) {
		kind, org, inst, ok := parseKey(key)
		if !ok {
			return
		}
		// What parses is what the writer builds from the parts.
		var again string
		switch kind {
		case keyOrg:
			again = orgKey(org, inst)
		case keyHeartbeat:
			again = heartbeatKey(inst)
		default:
			t.Fatalf("kind %d for %q", kind, key)
		}
		if again != key {
			t.Fatalf("%q parsed to %v %q %q, which builds %q", key, kind, org, inst, again)
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
