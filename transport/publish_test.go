package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

func postEvents(t *testing.T, env *testEnv, org, token, body string, mod func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.url("/v2/realtime/orgs/"+org+"/events"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	if mod != nil {
		mod(req)
	}
	return do(t, env, req)
}

const oneEvent = `{"topic":"orders.updated","data":{"n":1},"id":"k1"}`

func TestPublishRefusals(t *testing.T) {
	pub := issue(t, "acme", "svc", "publish", time.Hour)
	sub := issue(t, "acme", "alice", "subscribe", time.Hour)
	other := issue(t, "other", "svc", "publish", time.Hour)
	expired := issue(t, "acme", "svc", "publish", -time.Minute)
	big := `{"topic":"t","data":"` + strings.Repeat("x", MaxPublishBody) + `"}`

	tests := []struct {
		name   string
		org    string
		token  string
		body   string
		ready  error
		pubErr error
		chunk  bool // send without Content-Length
		status int
		code   string
	}{
		{
			name:   "missing token",
			org:    "acme",
			body:   oneEvent,
			status: 401,
			code:   CodeMissingToken,
		},
		{
			name:   "invalid token",
			org:    "acme",
			token:  "abc.def.ghi",
			body:   oneEvent,
			status: 401,
			code:   CodeInvalidToken,
		},
		{
			name:   "expired token",
			org:    "acme",
			token:  expired,
			body:   oneEvent,
			status: 401,
			code:   CodeTokenExpired,
		},
		{
			name:   "invalid org",
			org:    "bad$org",
			token:  pub,
			body:   oneEvent,
			status: 400,
			code:   CodeInvalidOrg,
		},
		{
			name:   "subscribe scope",
			org:    "acme",
			token:  sub,
			body:   oneEvent,
			status: 403,
			code:   CodeForbidden,
		},
		{
			name:   "wrong org",
			org:    "acme",
			token:  other,
			body:   oneEvent,
			status: 403,
			code:   CodeForbidden,
		},
		{
			name:   "body too large by Content-Length",
			org:    "acme",
			token:  pub,
			body:   big,
			status: 413,
			code:   CodeBodyTooLarge,
		},
		{
			name:   "body too large chunked",
			org:    "acme",
			token:  pub,
			body:   big,
			chunk:  true,
			status: 413,
			code:   CodeBodyTooLarge,
		},
		{
			name:   "malformed JSON",
			org:    "acme",
			token:  pub,
			body:   `{"topic":`,
			status: 400,
			code:   messages.CodeInvalidJSON,
		},
		{
			name:   "bad topic",
			org:    "acme",
			token:  pub,
			body:   `{"topic":"no spaces","data":1}`,
			status: 400,
			code:   messages.CodeInvalidTopic,
		},
		{
			name:   "missing data",
			org:    "acme",
			token:  pub,
			body:   `{"topic":"t"}`,
			status: 400,
			code:   messages.CodeMissingData,
		},
		{
			name:   "batch over 1000",
			org:    "acme",
			token:  pub,
			body:   `{"events":[` + strings.TrimSuffix(strings.Repeat(`{"topic":"t","data":1},`, 1001), ",") + `]}`,
			status: 400,
			code:   messages.CodeBatchTooLarge,
		},
		{
			name:   "not ready",
			org:    "acme",
			token:  pub,
			body:   oneEvent,
			ready:  errors.New("store down"),
			status: 503,
			code:   CodeNotReady,
		},
		{
			name:   "draining",
			org:    "acme",
			token:  pub,
			body:   oneEvent,
			ready:  ErrDraining,
			status: 503,
			code:   CodeDraining,
		},
		{
			name:   "log unavailable",
			org:    "acme",
			token:  pub,
			body:   oneEvent,
			pubErr: errors.New("persistence: unavailable"),
			status: 503,
			code:   CodeLogUnavailable,
		},
		{
			name:   "publisher timeout",
			org:    "acme",
			token:  pub,
			body:   oneEvent,
			pubErr: context.DeadlineExceeded,
			status: 503,
			code:   CodeLogUnavailable,
		},
		{
			name:   "outcome unknown",
			org:    "acme",
			token:  pub,
			body:   oneEvent,
			pubErr: fmt.Errorf("%w: append timed out", ErrOutcomeUnknown),
			status: 503,
			code:   CodeOutcomeUnknown,
		},
		{
			name:   "event over the log's size limit",
			org:    "acme",
			token:  pub,
			body:   oneEvent,
			pubErr: fmt.Errorf("%w: 1048600 bytes exceed the NATS max payload", ErrPublishTooLarge),
			status: 413,
			code:   CodePayloadTooLarge,
		},
		{
			name:   "publisher refuses the body",
			org:    "acme",
			token:  pub,
			body:   oneEvent,
			pubErr: &messages.Error{Code: "invalid_id", Message: "bad id"},
			status: 400,
			code:   "invalid_id",
		},
	}
	env := newTestEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.ready.set(tt.ready)
			defer env.ready.set(nil)
			env.pub.mu.Lock()
			env.pub.fn = nil
			if tt.pubErr != nil {
				env.pub.fn = func(context.Context, string, []messages.Draft) ([]uint64, bool, error) {
					return nil, false, tt.pubErr
				}
			}
			env.pub.mu.Unlock()
			before := env.pub.callCount()
			resp, body := postEvents(t, env, tt.org, tt.token, tt.body, func(r *http.Request) {
				if tt.chunk {
					r.ContentLength = -1
					r.Body = io.NopCloser(strings.NewReader(tt.body))
				}
			})
			checkErrorBody(t, resp, body, tt.status, tt.code)
			if tt.pubErr == nil && env.pub.callCount() != before {
				t.Error("the publisher was called for a refused request")
			}
		})
	}
}

func TestPublishAccepted(t *testing.T) {
	env := newTestEnv(t, nil)
	pub := issue(t, "acme", "svc", "publish", time.Hour)
	star := issue(t, "*", "svc", "publish", time.Hour)

	resp, body := postEvents(t, env, "acme", pub, oneEvent, nil)
	if resp.StatusCode != 201 || string(body) != `{"seq":1}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}

	batch := `{"events":[{"topic":"a","data":1},{"topic":"b","data":[2],"id":"x"}]}`
	resp, body = postEvents(t, env, "acme", pub, batch, nil)
	if resp.StatusCode != 201 || string(body) != `{"seqs":[2,3]}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}

	resp, body = postEvents(t, env, "other-org", star, oneEvent, nil)
	if resp.StatusCode != 201 || string(body) != `{"seq":1}` {
		t.Fatalf("star token: %d %s", resp.StatusCode, body)
	}

	env.pub.mu.Lock()
	calls := env.pub.calls
	env.pub.mu.Unlock()
	if len(calls) != 3 || calls[1].org != "acme" || len(calls[1].drafts) != 2 ||
		calls[1].drafts[1].ID != "x" || string(calls[1].drafts[1].Data) != "[2]" {
		t.Fatalf("calls %+v", calls)
	}

	// Every draft a duplicate: 200 with the first seqs.
	env.pub.mu.Lock()
	env.pub.fn = func(context.Context, string, []messages.Draft) ([]uint64, bool, error) {
		return []uint64{1}, true, nil
	}
	env.pub.mu.Unlock()
	resp, body = postEvents(t, env, "acme", pub, oneEvent, nil)
	if resp.StatusCode != 200 || string(body) != `{"seq":1}` {
		t.Fatalf("duplicate: %d %s", resp.StatusCode, body)
	}
}

func TestPublishTimeoutApplies(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.PublishTimeout = 50 * time.Millisecond })
	env.pub.fn = func(ctx context.Context, _ string, _ []messages.Draft) ([]uint64, bool, error) {
		<-ctx.Done()
		return nil, false, ctx.Err()
	}
	pub := issue(t, "acme", "svc", "publish", time.Hour)
	resp, body := postEvents(t, env, "acme", pub, oneEvent, nil)
	checkErrorBody(t, resp, body, 503, CodeLogUnavailable)
	if env.metrics.PublishErrors.Load() != 1 {
		t.Fatal("PublishErrors not bumped")
	}
}

func TestAppendSeqs(t *testing.T) {
	if got := string(appendSeqs(nil, []uint64{7}, false)); got != `{"seq":7}` {
		t.Fatal(got)
	}
	if got := string(appendSeqs(nil, []uint64{7}, true)); got != `{"seqs":[7]}` {
		t.Fatal(got)
	}
	var doc struct{ Seqs []uint64 }
	if err := json.Unmarshal(appendSeqs(nil, []uint64{1, 18446744073709551615}, true), &doc); err != nil ||
		len(doc.Seqs) != 2 {
		t.Fatalf("%v %v", doc, err)
	}
}
