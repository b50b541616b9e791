package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// send posts body until it gets a 2xx, a 4xx, or RetryFor (or ctx) ends.
// body is the same bytes, ids included, on every attempt: that is what
// makes a retry safe.
func (p *Publisher) send(ctx context.Context, body []byte, ids []string) (int, answer, int, error) {
	deadline := time.Now().Add(p.cfg.RetryFor)
	last := &PublishError{IDs: ids}
	for attempt := 0; ; attempt++ {
		token := p.cfg.Token
		if p.cfg.TokenFunc != nil && p.cfg.NATS == nil {
			var err error
			if token, err = p.cfg.TokenFunc(ctx); err != nil {
				if attempt == 0 {
					return 0, answer{}, 0, fmt.Errorf("client: publish token: %w", err)
				}
				last.Err = errors.Join(last.Err, fmt.Errorf("token: %w", err))
				return 0, answer{}, 0, last
			}
		}
		status, a, err := p.attempt(ctx, body, token)
		if errors.Is(err, errStop) {
			last.Attempts, last.Err = attempt+1, err
			return 0, answer{}, 0, last
		}
		last.Attempts = attempt + 1
		switch {
		case err == nil && status/100 == 2:
			return status, a, attempt + 1, nil
		case err == nil && !retryableStatus(status):
			last.Status, last.Code, last.Message, last.Err, last.refused = status, a.Code, a.Error, nil, true
			return 0, answer{}, 0, last
		case err == nil:
			last.Status, last.Code, last.Message, last.Err = status, a.Code, a.Error, nil
		default:
			last.Status, last.Code, last.Message, last.Err = 0, "", "", err
		}
		if ctx.Err() != nil {
			last.Err = errors.Join(last.Err, context.Cause(ctx))
			return 0, answer{}, 0, last
		}
		wait := fullJitter(p.cfg.BackoffMin, p.cfg.BackoffMax, attempt, p.randN)
		if time.Now().Add(wait).After(deadline) {
			return 0, answer{}, 0, last
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			last.Err = errors.Join(last.Err, context.Cause(ctx))
			return 0, answer{}, 0, last
		case <-t.C:
		}
	}
}

// errStop marks an attempt's error that no retry can mend (the NATS
// connection was closed by its owner): send gives up at once, the outcome
// unknown.
var errStop = errors.New("client: publisher transport closed")

// attempt sends one request, over NATS or HTTP. err means no usable answer:
// a network error, a timeout, a body cut short, or a 2xx without seqs. Any
// other status counts as that status, with or without a JSON body.
func (p *Publisher) attempt(ctx context.Context, body []byte, token string) (int, answer, error) {
	if p.cfg.NATS != nil {
		return p.attemptNATS(ctx, body)
	}
	return p.attemptHTTP(ctx, body, token)
}

// attemptHTTP posts body with token.
func (p *Publisher) attemptHTTP(ctx context.Context, body []byte, token string) (int, answer, error) {
	actx, cancel := context.WithTimeout(ctx, p.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, answer{}, redact(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		// The status came but the body did not: for a 2xx the seqs are
		// lost, so it counts as no answer (the retry gets them, 200).
		return 0, answer{}, fmt.Errorf("read answer: %w", redact(err))
	}
	return decodeAnswer(resp.StatusCode, b)
}

// decodeAnswer reads the JSON answer b that came with status. A refusal
// without a JSON body keeps its status; a 2xx without seqs is no answer.
func decodeAnswer(status int, b []byte) (int, answer, error) {
	var a answer
	_ = json.Unmarshal(b, &a)
	if status/100 == 2 && a.Seq == nil && a.Seqs == nil {
		return 0, answer{}, fmt.Errorf("client: %d answer without seqs: %.200s", status, b)
	}
	return status, a, nil
}

// redact drops the URL from a *url.Error: the endpoint carries no token, but
// the message reads better without the method and address twice.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
