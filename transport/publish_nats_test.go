package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/metrics"
)

// startNATS runs an embedded nats-server without a listener and connects to
// it in-process.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	ns, err := server.NewServer(&server.Options{DontListen: true, JetStream: false, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return nc
}

func natsRequest(t *testing.T, nc *nats.Conn, subject, body string) (int, string) {
	t.Helper()
	m, err := nc.RequestMsg(&nats.Msg{Subject: subject, Data: []byte(body)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var status int
	if err := json.Unmarshal([]byte(m.Header.Get(NATSStatusHeader)), &status); err != nil {
		t.Fatalf("status header %q: %v", m.Header.Get(NATSStatusHeader), err)
	}
	return status, string(m.Data)
}

func TestNATSPublish(t *testing.T) {
	nc := startNATS(t)
	env := newTestEnv(t, func(c *Config) { c.NATS = nc })

	tests := []struct {
		name    string
		subject string
		body    string
		ready   error
		pubErr  error
		status  int
		want    string // exact body, or "" to check the code only
		code    string
	}{
		{
			name:    "single event",
			subject: "orgstream.publish.acme",
			body:    oneEvent,
			status:  201,
			want:    `{"seq":1}`,
		},
		{
			name:    "batch",
			subject: "orgstream.publish.acme",
			body:    `{"events":[{"topic":"a","data":1},{"topic":"b","data":2}]}`,
			status:  201,
			want:    `{"seqs":[2,3]}`,
		},
		{
			name:    "invalid org",
			subject: "orgstream.publish.bad$org",
			body:    oneEvent,
			status:  400,
			code:    CodeInvalidOrg,
		},
		{
			name:    "malformed body",
			subject: "orgstream.publish.acme",
			body:    `{"topic":"t"`,
			status:  400,
			code:    messages.CodeInvalidJSON,
		},
		{
			name:    "not ready",
			subject: "orgstream.publish.acme",
			body:    oneEvent,
			ready:   errors.New("store down"),
			status:  503,
			code:    CodeNotReady,
		},
		{
			name:    "outcome unknown",
			subject: "orgstream.publish.acme",
			body:    oneEvent,
			pubErr:  fmt.Errorf("%w: append timed out", ErrOutcomeUnknown),
			status:  503,
			code:    CodeOutcomeUnknown,
		},
		{
			name:    "log unavailable",
			subject: "orgstream.publish.acme",
			body:    oneEvent,
			pubErr:  errors.New("persistence: log unavailable"),
			status:  503,
			code:    CodeLogUnavailable,
		},
		{
			name:    "event over the log's size limit",
			subject: "orgstream.publish.acme",
			body:    oneEvent,
			pubErr:  fmt.Errorf("%w: over the max payload", ErrPublishTooLarge),
			status:  413,
			code:    CodePayloadTooLarge,
		},
	}
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
			status, body := natsRequest(t, nc, tt.subject, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.want != "" && body != tt.want {
				t.Fatalf("body %s, want %s", body, tt.want)
			}
			if tt.code != "" {
				var eb errorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Code != tt.code || eb.Error == "" {
					t.Fatalf("body %s, want code %s", body, tt.code)
				}
			}
		})
	}

	env.pub.mu.Lock()
	env.pub.fn = nil
	env.pub.mu.Unlock()

	// Same answer as HTTP for the same body.
	pub := issue(t, "acme", "svc", "publish", time.Hour)
	resp, httpBody := postEvents(t, env, "acme", pub, `{"topic":"t"`, nil)
	_, natsBody := natsRequest(t, nc, "orgstream.publish.acme", `{"topic":"t"`)
	if resp.StatusCode != 400 || string(httpBody) != natsBody {
		t.Fatalf("HTTP %d %s vs NATS %s", resp.StatusCode, httpBody, natsBody)
	}
}

func TestNATSResponderStopsAtShutdown(t *testing.T) {
	nc := startNATS(t)
	env := newTestEnv(t, func(c *Config) { c.NATS = nc })
	if status, _ := natsRequest(t, nc, "orgstream.publish.acme", oneEvent); status != 201 {
		t.Fatalf("status %d", status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := nc.Request("orgstream.publish.acme", []byte(oneEvent), time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request after Shutdown: %v, want no responders", err)
	}
}

// The responder is in the queue group only between StartNATS and StopNATS:
// a node that cannot publish yet, or drains, leaves the requests to the
// other members instead of answering them 503.
func TestNATSResponderMembership(t *testing.T) {
	nc := startNATS(t)

	// New + Start without StartNATS: serving HTTP, not yet in the queue group.
	early, err := New(Config{
		Listen: "127.0.0.1:0", Verifier: testVerifier, Publisher: &testPublisher{},
		Streams: newTestStreams(), Readiness: &testReadiness{}, Metrics: metrics.New(),
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)), NATS: nc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := early.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := early.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	if _, err := nc.Request("orgstream.publish.acme", []byte(oneEvent), time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request after Start without StartNATS: %v, want no responders", err)
	}
	if err := early.StartNATS(); err != nil {
		t.Fatal(err)
	}
	if status, body := natsRequest(t, nc, "orgstream.publish.acme", oneEvent); status != 201 {
		t.Fatalf("status %d %s after StartNATS", status, body)
	}
	if err := early.StopNATS(); err != nil {
		t.Fatal(err)
	}

	env := newTestEnv(t, func(c *Config) { c.NATS = nc })
	if status, _ := natsRequest(t, nc, "orgstream.publish.acme", oneEvent); status != 201 {
		t.Fatalf("status %d after StartNATS", status)
	}
	if err := env.srv.StopNATS(); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Request("orgstream.publish.acme", []byte(oneEvent), time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request after StopNATS: %v, want no responders", err)
	}
	if err := env.srv.StartNATS(); err != nil { // stopped for good
		t.Fatal(err)
	}
	if _, err := nc.Request("orgstream.publish.acme", []byte(oneEvent), time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request after StartNATS following StopNATS: %v, want no responders", err)
	}
}

func TestNATSShutdownWaitsForInflight(t *testing.T) {
	nc := startNATS(t)
	release := make(chan struct{})
	entered := make(chan struct{})
	env := newTestEnv(t, func(c *Config) { c.NATS = nc })
	env.pub.fn = func(ctx context.Context, _ string, d []messages.Draft) ([]uint64, bool, error) {
		close(entered)
		<-release
		return []uint64{1}, false, nil
	}
	inbox := nats.NewInbox()
	replies, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("orgstream.publish.acme", inbox, []byte(oneEvent)); err != nil {
		t.Fatal(err)
	}
	<-entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- env.srv.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a publish in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m, err := replies.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != `{"seq":1}` {
		t.Fatalf("reply %v %v", m, err)
	}
}
