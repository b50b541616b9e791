package messages

import (
	"strings"
	"testing"
)

func TestValidOrgTopic(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		org   bool
		topic bool
	}{
		{
			name:  "simple",
			in:    "acme",
			org:   true,
			topic: true,
		},
		{
			name:  "all classes",
			in:    "Az09_-",
			org:   true,
			topic: true,
		},
		{
			name:  "dot",
			in:    "orders.updated",
			org:   false,
			topic: true,
		},
		{
			name:  "empty",
			in:    "",
			org:   false,
			topic: false,
		},
		{
			name:  "org max",
			in:    strings.Repeat("a", 64),
			org:   true,
			topic: true,
		},
		{
			name:  "org too long",
			in:    strings.Repeat("a", 65),
			org:   false,
			topic: true,
		},
		{
			name:  "topic max",
			in:    strings.Repeat("b", 256),
			org:   false,
			topic: true,
		},
		{
			name:  "topic too long",
			in:    strings.Repeat("b", 257),
			org:   false,
			topic: false,
		},
		{
			name:  "space",
			in:    "a b",
			org:   false,
			topic: false,
		},
		{
			name:  "star",
			in:    "*",
			org:   false,
			topic: false,
		},
		{
			name:  "nats wildcard",
			in:    "a>",
			org:   false,
			topic: false,
		},
		{
			name:  "non-ascii",
			in:    "café",
			org:   false,
			topic: false,
		},
		{
			name:  "nul",
			in:    "a\x00",
			org:   false,
			topic: false,
		},
		{
			name:  "slash",
			in:    "a/b",
			org:   false,
			topic: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidOrg(tc.in); got != tc.org {
				t.Errorf(
					"ValidOrg(%q) = %v, want %v",
					tc.in, got, tc.org,
				)
			}
			if got := ValidTopic(tc.in); got != tc.topic {
				t.Errorf(
					"ValidTopic(%q) = %v, want %v",
					tc.in, got, tc.topic,
				)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want bool
	}{
		{
			name: "uuid",
			in:   "3f1c9a2e-7d4b-4c1a-9e55-0b8f2d6a1c33",
			want: true,
		},
		{
			name: "inner space and punctuation",
			in:   "order 42: v2/#&",
			want: true,
		},
		{
			name: "unicode letters",
			in:   "заказ-42",
			want: true,
		},
		{
			name: "max length",
			in:   strings.Repeat("x", MaxIDLen),
			want: true,
		},
		{
			name: "empty",
			in:   "",
			want: false,
		},
		{
			name: "too long",
			in:   strings.Repeat("x", MaxIDLen+1),
			want: false,
		},
		{
			name: "leading space",
			in:   " a",
			want: false,
		},
		{
			name: "trailing space",
			in:   "a ",
			want: false,
		},
		{
			name: "newline",
			in:   "a\nb",
			want: false,
		},
		{
			name: "del",
			in:   "a\x7fb",
			want: false,
		},
		{
			name: "invalid utf8",
			in:   "a\xffb",
			want: false,
		},
		{
			name: "line separator",
			in:   "a\u2028b",
			want: false,
		},
		{
			name: "no-break space",
			in:   "a\u00a0b",
			want: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidID(tc.in); got != tc.want {
				t.Errorf(
					"ValidID(%q) = %v, want %v",
					tc.in, got, tc.want,
				)
			}
		})
	}
}

func TestValidZeroAlloc(t *testing.T) {
	org, topic := "acme-corp_1", "orders.updated"
	allocs := testing.AllocsPerRun(100, func() {
		_ = ValidOrg(org)
		_ = ValidTopic(topic)
		_ = ValidID("3f1c9a2e-7d4b")
	})
	if allocs != 0 {
		t.Fatalf(
			"allocs = %v, want 0",
			allocs,
		)
	}
}

func BenchmarkValidTopic(b *testing.B) {
	b.ReportAllocs()
	topic := "orders.updated.eu-west-1"
	for b.Loop() {
		if !ValidTopic(topic) {
			b.Fatal("invalid")
		}
	}
}
