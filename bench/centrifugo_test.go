package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCentrifugoToken(t *testing.T) {
	secret := []byte("s3cret")
	exp := time.Unix(2000000000, 0)
	tok, err := centrifugoToken(secret, "u7", "org3", exp)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q: %d parts", tok, len(parts))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if got := base64.RawURLEncoding.EncodeToString(m.Sum(nil)); got != parts[2] {
		t.Errorf("signature %s, want %s", parts[2], got)
	}
	var hdr struct{ Alg, Typ string }
	var claims struct {
		Sub      string   `json:"sub"`
		Exp      int64    `json:"exp"`
		Channels []string `json:"channels"`
	}
	for i, v := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	if hdr.Alg != "HS256" || claims.Sub != "u7" || claims.Exp != exp.Unix() || len(claims.Channels) != 1 || claims.Channels[0] != "org3" {
		t.Errorf("header %+v claims %+v", hdr, claims)
	}
}

func TestAppendCentrifugoBatch(t *testing.T) {
	for _, n := range []int{1, 3} {
		b := appendCentrifugoBatch(nil, `org"1`, n, 1733600000123456789, padFor(256))
		var body struct {
			Commands []struct {
				Publish struct {
					Channel string          `json:"channel"`
					Data    json.RawMessage `json:"data"`
				} `json:"publish"`
			} `json:"commands"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("n=%d: %v in %s", n, err, b)
		}
		if len(body.Commands) != n {
			t.Fatalf("n=%d: %d commands", n, len(body.Commands))
		}
		for _, c := range body.Commands {
			if c.Publish.Channel != `org"1` || string(c.Publish.Data) != string(EventData(1733600000123456789, 256)) {
				t.Errorf("n=%d: command %+v", n, c.Publish)
			}
		}
	}
}

func TestCentrifugoConfigKeys(t *testing.T) {
	b, err := json.Marshal(newCentrifugoConfig(8123, "sec", "key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"http_server":{"address":"127.0.0.1","port":8123}`, `"hmac_secret_key":"sec"`,
		`"allowed_origins":["*"]`, `"http_api":{"key":"key"}`, `"health":{"enabled":true}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config %s lacks %s", b, want)
		}
	}
}

// TestCentrifugoFanout runs the fanout against a real Centrifugo (skipped
// when none is installed): every client receives every publication, with
// its send time, through the same pacer as the orgstream path. It checks
// the config keys, the token, the batch API and the push layout together.
func TestCentrifugoFanout(t *testing.T) {
	if _, err := locateCentrifugo(""); err != nil {
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("starts centrifugo")
	}
	for _, noPoll := range []bool{false, true} {
		t.Run(map[bool]string{false: "pollers", true: "goroutine per client"}[noPoll], func(t *testing.T) {
			testCentrifugoFanout(t, noPoll)
		})
	}
}

func testCentrifugoFanout(t *testing.T, noPoll bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := RunCentrifugoFanout(ctx, CentrifugoConfig{}, 2,
		FanoutConfig{Conns: 20, Orgs: 2, Rate: 40, Duration: time.Second, Drain: 10 * time.Second, NoPoll: noPoll})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("failures: %v; notes %v", r.Failures, r.Notes)
	}
	pub, _ := r.Metric("events published")
	del, _ := r.Metric(MetricDeliveries)
	if pub.Value < 20 || del.Value != pub.Value*10 {
		t.Errorf("published %v, delivered %v: want 10 deliveries per publication", pub.Value, del.Value)
	}
	if p50, _ := r.Metric(MetricP50); p50.Value <= 0 {
		t.Errorf("p50 %v ms: the send time was not read", p50.Value)
	}
	if cpu, ok := r.Metric(MetricDaemonCPUPerDelivery); !ok || cpu.Value < 0 {
		t.Errorf("daemon CPU per delivery %v (%v)", cpu.Value, ok)
	}
}
