package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ErrNoLeader is Writable's error while the events stream has no leader;
// it wraps ErrUnavailable.
var ErrNoLeader = fmt.Errorf("%w: the stream has no leader", ErrUnavailable)

// Writable tells whether the log can take writes now: nil when both
// streams answer with a leader. While the events stream has none (a Raft
// election after its leader died, a lost quorum) it is ErrNoLeader: no
// append can succeed. While only the heads stream has none it is
// ErrUnavailable: appends to orgs with retained events still succeed, those
// to orgs with nothing retained (which check the org's head marker) do not.
// A stream that does not answer before ctx ends is ErrUnavailable too. It
// sends two small requests, so it can be called every second; /readyz is
// built on it.
func (l *JetStreamLog) Writable(ctx context.Context) error {
	if err := l.streamWritable(ctx, StreamName); err != nil {
		return err
	}
	if err := l.streamWritable(ctx, HeadsStreamName); err != nil {
		if errors.Is(err, ErrNoLeader) {
			// Not ErrNoLeader: appends to most orgs still succeed.
			return fmt.Errorf("%w: %s has no leader", ErrUnavailable, HeadsStreamName)
		}
		return err
	}
	return nil
}

// streamWritable asks for one stream's info. In a cluster only the stream
// leader answers it, or, while the stream has no leader, a replica with an
// empty leader; nobody answers while JetStream has no quorum.
func (l *JetStreamLog) streamWritable(ctx context.Context, stream string) error {
	resp, err := request(ctx, l.nc, nats.NewMsg("$JS.API.STREAM.INFO."+stream), l.cfg.RequestTimeout)
	if err != nil {
		return transportErr("stream info "+stream, err)
	}
	var info struct {
		Cluster *struct {
			Leader string `json:"leader"`
		} `json:"cluster"`
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &info); err != nil {
		return fmt.Errorf("%w: stream info %s: bad answer: %w", ErrUnavailable, stream, err)
	}
	switch {
	case info.Error != nil:
		return fmt.Errorf("%w: stream info %s: %w", ErrUnavailable, stream, info.Error)
	case info.Cluster != nil && info.Cluster.Leader == "":
		return fmt.Errorf("%w (%s)", ErrNoLeader, stream)
	}
	return nil
}
