package node

import "github.com/nats-io/nats.go"

// DaemonConn is the node's own NATS connection, for tests that act on the
// store as only the daemon (or an operator) may: delete a message from the
// log, or inject a message on a live subject.
func (n *Node) DaemonConn() *nats.Conn { return n.nc }
