package persistence

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// streamInfoSubject asks for the events stream's info. In a cluster only the
// stream leader answers it, or, while the stream has no leader, a replica
// with an empty leader; nobody answers while JetStream has no quorum.
const streamInfoSubject = "$JS.API.STREAM.INFO." + StreamName

// ErrNoLeader is Writable's error while the events stream has no leader;
// it wraps ErrUnavailable.
var ErrNoLeader = fmt.Errorf("%w: the stream has no leader", ErrUnavailable)

// Writable tells whether the log can take writes now: nil when the events
// stream answers with a leader, ErrUnavailable (wrapped with the reason)
// when it has none (a Raft election after its leader died, a lost quorum)
// or does not answer before ctx ends. It sends one small request, so it can
// be called every second; /readyz is built on it.
func (l *JetStreamLog) Writable(ctx context.Context) error {
	resp, err := request(ctx, l.nc, nats.NewMsg(streamInfoSubject), l.cfg.RequestTimeout)
	if err != nil {
		return transportErr("stream info", err)
	}
	var info struct {
		Cluster *struct {
			Leader string `json:"leader"`
		} `json:"cluster"`
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &info); err != nil {
		return fmt.Errorf("%w: stream info: bad answer: %w", ErrUnavailable, err)
	}
	switch {
	case info.Error != nil:
		return fmt.Errorf("%w: stream info: %w", ErrUnavailable, info.Error)
	case info.Cluster != nil && info.Cluster.Leader == "":
		return fmt.Errorf("%w (%s)", ErrNoLeader, StreamName)
	}
	return nil
}
