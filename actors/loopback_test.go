package actors

import (
	"net"
	"testing"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// loopbackPairs returns n connected TCP pairs over loopback: the server
// ends (for outboxes) and the client ends (to read what was written).
func loopbackPairs(t testing.TB, n int) (servers, clients []net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
		servers, clients = append(servers, s), append(clients, c)
	}
	return servers, clients
}

// minWelcome is a lower bound of the bytes of one welcome from log's
// org "bench" (no conn id, the shortest user): a benchmark waits for
// conns of them before it publishes, so that no connection subscribes
// after an event it must receive (it would start after it).
func minWelcome(log persistence.Log) int64 {
	f := messages.EncodeWelcome(messages.Welcome{Org: "bench", User: "u", Epoch: log.Epoch()})
	return int64(len(f.Plain))
}
