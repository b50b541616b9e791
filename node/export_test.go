package node

import (
	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/persistence"
)

// DaemonConn is the node's own NATS connection, for tests that act on the
// store as only the daemon (or an operator) may: delete a message from the
// log, or inject a message on a live subject.
func (n *Node) DaemonConn() *nats.Conn { return n.nc }

// WrapHubLog makes the node built from c hand its actors wrap(log) instead
// of its log: fault injection for tests (crash_test.go). The node itself
// (probe, epoch, shutdown) keeps the real log.
func WrapHubLog(c *Config, wrap func(persistence.Log) persistence.Log) { c.wrapHubLog = wrap }
