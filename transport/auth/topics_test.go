package auth

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestTopicsClaim(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	now := time.Now()
	c := Claims{Sub: "alice", Org: "acme", Exp: now.Add(time.Hour)}
	for _, topics := range [][]string{nil, {"orders.*", "billing.>"}} {
		c.Topics = topics
		tok, err := Issue(testSecret, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(tok, now)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Topics, topics) || (got.Topics == nil) != (topics == nil) {
			t.Fatalf("topics %q, want %q", got.Topics, topics)
		}
	}
	for _, bad := range [][]string{{}, {"a*"}, {"a", ""}} {
		c.Topics = bad
		if _, err := Issue(testSecret, c); !errors.Is(err, ErrClaims) {
			t.Fatalf("Issue with topics %q: %v, want ErrClaims", bad, err)
		}
	}
	for _, raw := range []string{`"a"`, `[]`, `[1]`, `["a.>.b"]`, `{}`} {
		if _, err := topicsOf([]byte(raw)); !errors.Is(err, ErrTopics) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("topicsOf(%s) = %v, want ErrTopics", raw, err)
		}
	}
	if ts, err := topicsOf([]byte(`null`)); ts != nil || err != nil {
		t.Fatalf("null topics = %q, %v", ts, err)
	}
}
