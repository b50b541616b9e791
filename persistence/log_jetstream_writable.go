package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrNoLeader is Writable's error while an events stream (a partition) has
// no leader; it wraps ErrUnavailable.
var ErrNoLeader = fmt.Errorf("%w: the stream has no leader", ErrUnavailable)

// StreamStatus is one stream of the log as its latest info answer showed
// it, for operators (GET /v2/realtime/metrics names each stream's leader).
type StreamStatus struct {
	// Name is the stream's name: PartitionStream(i) or HeadsStreamName.
	Name string
	// Leader is the server name of the stream's leader: the node name of
	// an embedded server (a single server leads its own streams). Empty
	// while the stream has no leader or did not answer.
	Leader string
}

// Writable tells whether the log can take writes now: nil when every
// stream answers with a leader. While a partition's stream has none (a Raft
// election after its leader died, a lost quorum) it is ErrNoLeader: no
// append to its orgs can succeed. While only the heads stream has none it is
// ErrUnavailable: appends to orgs with retained events still succeed, those
// to orgs with nothing retained (which check the org's head marker) do not.
// A stream that does not answer before ctx ends is ErrUnavailable too. It
// sends one small request per stream (P+1, at once), so it can be called
// every second; /readyz is built on it (through Status).
func (l *JetStreamLog) Writable(ctx context.Context) error {
	_, err := l.Status(ctx)
	return err
}

// Status is Writable that also returns each stream's leader, from the same
// requests: the partitions' streams in order, then the heads stream (always
// all, so that an operator sees every leader even when one stream is in
// trouble). The error is the first partition's, else the heads stream's.
func (l *JetStreamLog) Status(ctx context.Context) ([]StreamStatus, error) {
	names := l.Streams()
	n := len(l.parts)
	st := make([]StreamStatus, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		st[i].Name = name
		wg.Add(1)
		go func() {
			defer wg.Done()
			st[i].Leader, errs[i] = l.streamLeader(ctx, name)
		}()
	}
	wg.Wait()
	for _, err := range errs[:n] {
		if err != nil {
			return st, err
		}
	}
	errHeads := errs[n]
	switch {
	case errors.Is(errHeads, ErrNoLeader):
		// Not ErrNoLeader: appends to most orgs still succeed.
		return st, fmt.Errorf("%w: %s has no leader", ErrUnavailable, HeadsStreamName)
	}
	return st, errHeads
}

// StreamLeader is the server name leading stream, "" (and ErrNoLeader)
// while it has none: one stream info request.
func (l *JetStreamLog) StreamLeader(ctx context.Context, stream string) (string, error) {
	return l.streamLeader(ctx, stream)
}

// streamLeader asks for one stream's info and returns its leader. In a
// cluster only the stream leader answers it, or, while the stream has no
// leader, a replica with an empty leader (ErrNoLeader); nobody answers while
// JetStream has no quorum.
func (l *JetStreamLog) streamLeader(ctx context.Context, stream string) (string, error) {
	c, err := streamClusterOf(ctx, l.nc, stream, l.cfg.RequestTimeout)
	switch {
	case err != nil:
		return "", err
	case c == nil:
		// Writable, but the answer names no leader (nats-server 2.15
		// always sends the block, with its own name on a single server).
		return "", nil
	case c.Leader == "":
		return "", fmt.Errorf("%w (%s)", ErrNoLeader, stream)
	}
	return c.Leader, nil
}

// streamCluster is the cluster block of a stream's info: its leader and
// its replicas as the answering server sees them.
type streamCluster struct {
	Leader   string `json:"leader"`
	Replicas []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
		Offline bool   `json:"offline"`
	} `json:"replicas"`
}

// streamClusterOf asks for one stream's info over nc and returns its
// cluster block (nil when the answer has none). The log's leader probe and
// the leader balancer both read stream leaders through it.
func streamClusterOf(ctx context.Context, nc *nats.Conn, stream string, timeout time.Duration) (*streamCluster, error) {
	resp, err := request(ctx, nc, nats.NewMsg(streamInfoPrefix+stream), timeout)
	if err != nil {
		return nil, transportErr("stream info "+stream, err)
	}
	var info struct {
		Cluster *streamCluster `json:"cluster"`
		Error   *apiError      `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &info); err != nil {
		return nil, fmt.Errorf("%w: stream info %s: bad answer: %w", ErrUnavailable, stream, err)
	}
	if info.Error != nil {
		return nil, fmt.Errorf("%w: stream info %s: %w", ErrUnavailable, stream, info.Error)
	}
	return info.Cluster, nil
}
