package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// TestRunClientPublish: the client.Publisher load acknowledges events
// without errors, over HTTP and over NATS, in fewer requests than events
// (the feeder keeps a window in flight, so the Publisher coalesces), and
// the daemon holds at least every event counted.
func TestRunClientPublish(t *testing.T) {
	n := testkit.StartNode(t, func(c *node.Config) {
		c.NATSListen, c.NATSPublisherPassword = "127.0.0.1:0", "bench-test-password"
	})
	ctx := testCtx(t)
	tg, err := Open(ctx, TargetConfig{URL: n.BaseURL(), Secret: n.Secret, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	nc, err := nats.Connect(n.NATSURL(), nats.UserInfo("publisher", "bench-test-password"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, tc := range []struct {
		name string
		nc   *nats.Conn
	}{{"http", nil}, {"nats", nc}} {
		t.Run(tc.name, func(t *testing.T) {
			orgs := orgNames(tg, "cp-"+tc.name+"-", 3)
			st, err := RunClientPublish(ctx, tg, orgs, ClientPublishConfig{
				Window: 50, Duration: time.Second, NATS: tc.nc})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d events in %.0f requests, %.0f events/s, ack p50 %v", tc.name, st.Events, st.Requests,
				st.Rate, time.Duration(st.Ack.Quantile(0.5)))
			if st.Errors != 0 || st.Events == 0 || st.Requests*2 > float64(st.Events) || st.Ack.N != uint64(st.Events) {
				t.Fatalf("%+v (last error %v)", st, st.LastErr)
			}
			r := newResult(ScenarioPublish, tg)
			st.record(r, "client", "")
			if v := metricValue(t, r, "client: events/s"); v != st.Rate || !r.OK() {
				t.Fatalf("recorded %v events/s, failures %v", v, r.Failures)
			}
			var stored uint64
			for _, org := range orgs {
				head, _ := n.Head(t, org)
				stored += head
			}
			if stored < uint64(st.Events) {
				t.Fatalf("%d events stored, %d counted", stored, st.Events)
			}
		})
	}
	if _, err := RunClientPublish(context.Background(), tg, nil, ClientPublishConfig{}); err == nil {
		t.Fatal("no orgs: no error")
	}
}
