package persistence

import "time"

// Defaults of the logs' configs (JetStreamConfig, MemoryConfig), in one
// place: the node and the CLI use these, and the actors take the retention
// from the log itself (Log.Retention), so no copy can drift.
const (
	// DefaultRetention is how long events stay readable.
	DefaultRetention = 5 * time.Minute
	// DefaultMaxEventsPerOrg bounds the retained events per org.
	DefaultMaxEventsPerOrg = 100000
	// DefaultDedupWindow is how long a draft ID is remembered.
	DefaultDedupWindow = 2 * time.Minute
	// DefaultReplicas is the stream's replication factor.
	DefaultReplicas = 1
	// DefaultNATSListen is the embedded NATS server's client address.
	DefaultNATSListen = "127.0.0.1:4222"
)
