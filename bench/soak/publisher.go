package soak

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// Publisher settings.
const (
	// attemptTimeout bounds one publish request: a paused node answers
	// nothing, and its publisher moves on to another node after this.
	attemptTimeout = 6 * time.Second
	// maxBatch is the largest batch a publisher sends.
	maxBatch = 4
)

// publisher posts batches of events with ids to its home node and retries
// every failure with the same ids (same body) on a node drawn at random,
// until an acknowledgement. It never gives up on a batch before its context
// ends: an event answered with an error may still be stored later, and
// only a retry resolves it.
type publisher struct {
	name     string
	home     int
	orgs     []string
	token    string
	nodes    *nodes
	h        *History
	rng      *rand.Rand
	client   *http.Client
	interval time.Duration
	next     int
	// permanent counts 4xx answers (a request that can never succeed: a
	// defect of the campaign or of the daemon).
	permanent atomic.Int64
	lastErr   atomic.Value // string
}

// run publishes until stop is closed, then finishes its last batch (retrying
// until ctx ends).
func (p *publisher) run(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(p.interval):
		}
		org := p.orgs[p.rng.IntN(len(p.orgs))]
		ids := make([]string, 1+p.rng.IntN(maxBatch))
		for i := range ids {
			p.next++
			ids[i] = p.name + "-" + strconv.Itoa(p.next)
		}
		p.publish(ctx, org, ids)
	}
}

// publish sends one batch until it is acknowledged or ctx ends.
func (p *publisher) publish(ctx context.Context, org string, ids []string) {
	body := batchBody(org, ids)
	node := p.home
	for attempt := 0; ; attempt++ {
		seqs, err := p.post(ctx, node, org, body, len(ids))
		now := time.Now()
		as := make([]Attempt, len(ids))
		for i, id := range ids {
			as[i] = Attempt{Org: org, ID: id, Data: dataFor(id), At: now, Node: p.nodes.name(node)}
			if err != nil {
				as[i].Err = err.Error()
			} else {
				as[i].Seq = seqs[i]
			}
		}
		p.h.Record(as...)
		if err == nil {
			return
		}
		p.lastErr.Store(err.Error())
		if errorIsPermanent(err) {
			p.permanent.Add(1)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(50+p.rng.IntN(250)) * time.Millisecond):
		}
		node = p.rng.IntN(p.nodes.count())
	}
}

// statusError is an answer other than 201 and 200.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	if e.status == 0 {
		return e.body
	}
	return fmt.Sprintf("status %d: %s", e.status, e.body)
}

// errorIsPermanent reports a 4xx answer, or a 2xx answer that breaks the
// contract (status 0): a retry cannot help.
func errorIsPermanent(err error) bool {
	se, ok := err.(*statusError)
	return ok && (se.status == 0 || se.status >= 400 && se.status < 500)
}

// post is one attempt through node.
func (p *publisher) post(ctx context.Context, node int, org, body string, n int) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	u := p.nodes.url(node) + "/v2/realtime/orgs/" + url.PathEscape(org) + "/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewBufferString(body))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post to %s: %w", p.nodes.name(node), unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", p.nodes.name(node), err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, &statusError{status: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	seqs, ok := seqsOf(b, n)
	if !ok {
		// An answer that breaks the contract: counted as permanent, the
		// batch is left (the checker then finds it, or not, in the log).
		return nil, &statusError{body: "bad answer to a publish of " + strconv.Itoa(n) + ": " + string(b)}
	}
	return seqs, nil
}

// unwrapURL drops the *url.Error wrapper, whose text quotes the URL.
func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
