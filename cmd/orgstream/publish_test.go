package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// publish gives every event an id (so that its retries are safe): a random
// one without --id, and --id as given, where a repeat gets the first seq.
func TestPublishAssignsID(t *testing.T) {
	n := testkit.StartNode(t, nil)
	token := n.Token(t, "acme", "cli", time.Hour, true)
	type out struct {
		Seq       uint64 `json:"seq"`
		ID        string `json:"id"`
		Duplicate bool   `json:"duplicate"`
	}
	publish := func(extra ...string) out {
		t.Helper()
		args := append([]string{"publish", "--url", n.BaseURL(), "--org", "acme", "--topic", "demo", "--data", `{"a":1}`, "--token", token}, extra...)
		code, stdout, stderr := runCLI(t, nil, args...)
		var o out
		if code != 0 || json.Unmarshal([]byte(stdout), &o) != nil {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		return o
	}
	a, b := publish(), publish()
	if a.Seq != 1 || b.Seq != 2 || len(a.ID) != 26 || len(b.ID) != 26 || a.ID == b.ID || a.Duplicate || b.Duplicate {
		t.Fatalf("without --id: %+v, %+v; want seqs 1 and 2 with two random ids", a, b)
	}
	c, d := publish("--id", "order-7"), publish("--id", "order-7")
	if c != (out{3, "order-7", false}) || d != (out{3, "order-7", true}) {
		t.Fatalf("with --id: %+v, %+v; want seq 3, then the same seq as a duplicate", c, d)
	}
	if head, _ := n.Head(t, "acme"); head != 3 {
		t.Fatalf("head %d, want 3", head)
	}
}
