package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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
	n := len(l.parts)
	st := make([]StreamStatus, n+1)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range st {
		name := HeadsStreamName
		if i < n {
			name = l.parts[i].stream
		}
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
	resp, err := request(ctx, l.nc, nats.NewMsg("$JS.API.STREAM.INFO."+stream), l.cfg.RequestTimeout)
	if err != nil {
		return "", transportErr("stream info "+stream, err)
	}
	var info struct {
		Cluster *struct {
			Leader string `json:"leader"`
		} `json:"cluster"`
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &info); err != nil {
		return "", fmt.Errorf("%w: stream info %s: bad answer: %w", ErrUnavailable, stream, err)
	}
	switch {
	case info.Error != nil:
		return "", fmt.Errorf("%w: stream info %s: %w", ErrUnavailable, stream, info.Error)
	case info.Cluster != nil && info.Cluster.Leader == "":
		return "", fmt.Errorf("%w (%s)", ErrNoLeader, stream)
	case info.Cluster == nil:
		// Writable, but the answer names no leader (nats-server 2.15
		// always sends the block, with its own name on a single server).
		return "", nil
	}
	return info.Cluster.Leader, nil
}
