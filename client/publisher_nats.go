package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// NATSCredentials turns the line `orgstream nats-creds` prints
// (USER:PASSWORD) into the option that connects with it:
//
//	opt, err := client.NATSCredentials(os.Getenv("ORGSTREAM_NATS_CREDS"))
//	nc, err := nats.Connect("nats://127.0.0.1:4222", opt)
//	p, err := client.NewPublisher(client.PublisherConfig{NATS: nc, Org: "acme"})
//
// The error never contains the password.
func NATSCredentials(line string) (nats.Option, error) {
	line = strings.TrimSpace(line)
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" || pass == "" {
		return nil, fmt.Errorf("%w: NATS credentials are not USER:PASSWORD", ErrInvalidConfig)
	}
	return nats.UserInfo(user, pass), nil
}
