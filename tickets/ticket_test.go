package tickets

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/transport/auth"
)

func TestParseTicket(t *testing.T) {
	fresh, err := newTicket()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, key string
	}{
		{"fresh", fresh, strings.TrimPrefix(fresh, Prefix)},
		{"all zero", "t-AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAA"},
		{"url alphabet", "t-_-_-_-_-_-_-_-_-_-_-_w", "_-_-_-_-_-_-_-_-_-_-_w"},
		{"empty", "", ""},
		{"prefix only", "t-", ""},
		{"no prefix", "AAAAAAAAAAAAAAAAAAAAAAAA", ""},
		{"other prefix", "x-AAAAAAAAAAAAAAAAAAAAAA", ""},
		{"short", "t-AAAAAAAAAAAAAAAAAAAAA", ""},
		{"long", "t-AAAAAAAAAAAAAAAAAAAAAAA", ""},
		{"std alphabet", "t-+AAAAAAAAAAAAAAAAAAAAA", ""},
		{"padding", "t-AAAAAAAAAAAAAAAAAAAA==", ""},
		{"non-canonical last char", "t-AAAAAAAAAAAAAAAAAAAAAB", ""},
		{"a KV wildcard", "t-AAAAAAAAAAAAAAAAAAAAA*", ""},
		{"a dot", "t-AAAAAAAAAAAAAAAAAAAA.A", ""},
		{"a JWT", "eyJhbGciOiJIUzI1NiJ9.e30.sig", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParseTicket(tc.in)
			if tc.key == "" {
				if !errors.Is(err, ErrInvalid) || key != "" {
					t.Fatalf("ParseTicket(%q) = %q, %v; want ErrInvalid", tc.in, key, err)
				}
				return
			}
			if err != nil || key != tc.key {
				t.Fatalf("ParseTicket(%q) = %q, %v; want %q", tc.in, key, err, tc.key)
			}
		})
	}
}

// Fresh tickets parse and differ.
func TestNewTicket(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tk, err := newTicket()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseTicket(tk); err != nil {
			t.Fatalf("fresh ticket %q does not parse: %v", tk, err)
		}
		if seen[tk] {
			t.Fatalf("ticket %q drawn twice", tk)
		}
		seen[tk] = true
	}
}

// A ParseTicket key is always a valid KV key token (no wildcard, dot or
// space), and the error never carries the input.
func FuzzParseTicket(f *testing.F) {
	f.Add("t-AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("t-_-_-_-_-_-_-_-_-_-_-_w")
	f.Add("t-AAAAAAAAAAAAAAAAAAAA.A")
	f.Fuzz(func(t *testing.T, in string) {
		key, err := ParseTicket(in)
		if err != nil {
			if key != "" || !errors.Is(err, ErrInvalid) || (len(in) > 4 && strings.Contains(err.Error(), in)) {
				t.Fatalf("ParseTicket(%q) = %q, %v", in, key, err)
			}
			return
		}
		if Prefix+key != in || strings.ContainsAny(key, ".*> \t") {
			t.Fatalf("ParseTicket(%q) = %q", in, key)
		}
	})
}

func TestValueRoundTrip(t *testing.T) {
	exp := time.UnixMilli(1_900_000_000_123)
	until := time.UnixMilli(1_800_000_000_456)
	tests := []auth.Claims{
		{Sub: "alice", Org: "acme", Exp: exp},
		{Sub: "bob", Org: "acme", Exp: exp, Scope: auth.ScopePublish, Topics: []string{"orders.*", "billing.>"}},
	}
	for _, c := range tests {
		b, err := encodeValue(c, until)
		if err != nil {
			t.Fatal(err)
		}
		got, gotUntil, err := decodeValue(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Sub != c.Sub || got.Org != c.Org || got.Scope != c.Scope || !got.Exp.Equal(c.Exp) ||
			strings.Join(got.Topics, ",") != strings.Join(c.Topics, ",") || (got.Topics == nil) != (c.Topics == nil) {
			t.Fatalf("claims %+v came back as %+v", c, got)
		}
		if !gotUntil.Equal(until) {
			t.Fatalf("until %v came back as %v", until, gotUntil)
		}
	}
	if _, _, err := decodeValue([]byte("{")); err == nil {
		t.Fatal("a malformed value decoded")
	}
}
