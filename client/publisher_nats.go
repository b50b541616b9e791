package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// The daemon's NATS publish responder (transport/publish_nats.go): requests
// on natsPublishPrefix+org, the answer's HTTP-equivalent status in the
// natsStatusHeader header of the reply.
const (
	natsPublishPrefix = "orgstream.publish."
	natsStatusHeader  = "Orgstream-Status"
)

// attemptNATS sends body as a request on the org's publish subject. No
// responder (no daemon is up: between a stop and a restart) and a timeout
// are errors, retried like a network error; a closed connection ends the
// publish (errStop).
func (p *Publisher) attemptNATS(ctx context.Context, body []byte) (int, answer, error) {
	actx, cancel := context.WithTimeout(ctx, p.cfg.AttemptTimeout)
	defer cancel()
	msg := &nats.Msg{Subject: p.subject, Data: body}
	reply, err := p.cfg.NATS.RequestMsgWithContext(actx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return 0, answer{}, fmt.Errorf("nats request: %w: %w", errStop, err)
		}
		return 0, answer{}, fmt.Errorf("nats request: %w", err)
	}
	status, err := strconv.Atoi(reply.Header.Get(natsStatusHeader))
	if err != nil {
		return 0, answer{}, fmt.Errorf("nats reply without a valid %s header: %.200s", natsStatusHeader, reply.Data)
	}
	return decodeAnswer(status, reply.Data)
}
