package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// PublishURL is the publish endpoint of org on the node at baseURL.
func PublishURL(baseURL, org string) string {
	return baseURL + "/v2/realtime/orgs/" + url.PathEscape(org) + "/events"
}

// Post publishes body to org with token (omitted when empty) and returns the
// status and response body. Safe from any goroutine.
func Post(ctx context.Context, baseURL, org, token, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, PublishURL(baseURL, org), bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Publish is Post with a 30s deadline that fails t on a transport error.
func Publish(t testing.TB, baseURL, org, token, body string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, b, err := Post(ctx, baseURL, org, token, body)
	if err != nil {
		t.Fatalf("testkit: publish to %s: %v", org, err)
	}
	return st, b
}

// SeqAnswer is the JSON answer of a successful publish.
type SeqAnswer struct {
	Seq  uint64   `json:"seq"`
	Seqs []uint64 `json:"seqs"`
}

// EventBody is the publish body of one event; id is left out when empty.
func EventBody(topic, data, id string) string {
	t, _ := json.Marshal(topic)
	s := `{"topic":` + string(t) + `,"data":` + data
	if id != "" {
		i, _ := json.Marshal(id)
		s += `,"id":` + string(i)
	}
	return s + "}"
}

// BatchBody is the publish body of n events on topic with data {"i":k}.
func BatchBody(topic string, n int) string {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(EventBody(topic, fmt.Sprintf(`{"i":%d}`, i), ""))
	}
	b.WriteString(`]}`)
	return b.String()
}

// PublishEvent publishes one event and returns its seq; anything but 201
// fails t.
func PublishEvent(t testing.TB, baseURL, org, token, topic, data string) uint64 {
	t.Helper()
	st, b := Publish(t, baseURL, org, token, EventBody(topic, data, ""))
	if st != http.StatusCreated {
		t.Fatalf("testkit: publish to %s: status %d, body %s", org, st, b)
	}
	var a SeqAnswer
	if err := json.Unmarshal(b, &a); err != nil || a.Seq == 0 {
		t.Fatalf("testkit: publish to %s: bad answer %s (%v)", org, b, err)
	}
	return a.Seq
}

// PublishBatch publishes n events in one batch and returns their seqs;
// anything but 201 fails t.
func PublishBatch(t testing.TB, baseURL, org, token, topic string, n int) []uint64 {
	t.Helper()
	st, b := Publish(t, baseURL, org, token, BatchBody(topic, n))
	if st != http.StatusCreated {
		t.Fatalf("testkit: publish batch to %s: status %d, body %s", org, st, b)
	}
	var a SeqAnswer
	if err := json.Unmarshal(b, &a); err != nil || len(a.Seqs) != n {
		t.Fatalf("testkit: publish batch to %s: bad answer %s (%v)", org, b, err)
	}
	return a.Seqs
}
