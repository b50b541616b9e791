package node_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// An event the log can never take is refused as such: on a nats-server
// with the default 1 MB max payload, an event of almost 1 MiB (a body
// within the 1 MiB publish limit) gets 413 payload_too_large, not a 503
// that invites retries, and nothing is stored.
func TestPublishOverNATSMaxPayload(t *testing.T) {
	t.Parallel()
	ns := startNATS(t) // default max payload: 1 MB
	n := testkit.StartNode(t, func(c *node.Config) { c.NATSURL = ns.ClientURL() })
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	prefix, suffix := `{"topic":"t","data":"`, `"}`
	big := prefix + strings.Repeat("x", 1<<20-len(prefix)-len(suffix)) + suffix

	st, body := testkit.Publish(t, n.BaseURL(), "acme", pub, big)
	var e struct{ Error, Code string }
	if err := json.Unmarshal(body, &e); err != nil || st != http.StatusRequestEntityTooLarge || e.Code != "payload_too_large" {
		t.Fatalf("publish of %d bytes: %d %s, want 413 payload_too_large", len(big), st, body)
	}
	if head, _ := n.Head(t, "acme"); head != 0 {
		t.Fatalf("head %d after the refusal, want 0", head)
	}
	st, body = testkit.Publish(t, n.BaseURL(), "acme", pub, testkit.EventBody("t", `{}`, ""))
	if st != http.StatusCreated || string(body) != `{"seq":1}` {
		t.Fatalf("next publish: %d %s, want 201 seq 1", st, body)
	}
}
