package client

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/orgstream/orgstream/internal/testkit"
)

// The client names itself (query "client"), the daemon counts it in its
// metrics, and the welcome's protocol is one this client speaks.
func TestClientNamesItselfAndReadsProtocol(t *testing.T) {
	n := testkit.StartNode(t, nil)
	r := start(t, nodeConfig(t, n, "acme", "alice"))
	waitFor(t, "the welcome", func() bool { return r.rec.welcomeCount() == 1 })
	r.rec.mu.Lock()
	w := r.rec.welcomes[0]
	r.rec.mu.Unlock()
	if w.Protocol != ProtocolVersion {
		t.Fatalf("welcome protocol %q, want %q", w.Protocol, ProtocolVersion)
	}
	waitFor(t, "the client counted in the metrics", func() bool {
		resp, err := http.Get(n.BaseURL() + "/v2/realtime/metrics")
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		var doc struct {
			Clients map[string]int `json:"clients"`
		}
		b, _ := io.ReadAll(resp.Body)
		return json.Unmarshal(b, &doc) == nil && doc.Clients[Name+"/"+Version] == 1
	})
}

// A server whose welcome names a protocol version this client does not
// speak ends Run with ErrProtocolVersion at once, without retrying. No
// daemon speaks another version, so a minimal WebSocket server stands in
// for a future one.
func TestUnsupportedProtocolStops(t *testing.T) {
	var dials int
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		dials++
		if !strings.HasPrefix(req.URL.Query().Get("client"), Name+"/") {
			http.Error(rw, "no client name", http.StatusBadRequest)
			return
		}
		c, _, _, err := ws.UpgradeHTTP(req, rw)
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		welcome := `{"type":"welcome","conn_id":"c","org":"acme","user":"al","epoch":"e-1","head":0,"resumed":false,"protocol":"3"}`
		_ = wsutil.WriteServerText(c, []byte(welcome))
		_, _, _ = wsutil.ReadClientData(c) // the client's close
	}))
	defer srv.Close()
	r := start(t, Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v2/realtime/stream", Token: "t",
		BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err := r.wait(t); !errors.Is(err, ErrProtocolVersion) {
		t.Fatalf("Run: %v, want ErrProtocolVersion", err)
	}
	if dials != 1 {
		t.Fatalf("%d dials, want 1 (no retry)", dials)
	}
}
