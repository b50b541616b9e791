package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Token mints a Centrifugo connection token (HS256) for user sub with a
// server-side subscription to channel (the "channels" claim), so that the
// client receives the channel's publications right after connect without a
// subscribe command of its own.
func (c *Centrifugo) Token(sub, channel string) (string, error) {
	return centrifugoToken(c.secret, sub, channel, time.Now().Add(tokenTTL))
}

// centrifugoToken is an HS256 JWT {"sub","exp","channels":[channel]}.
func centrifugoToken(secret []byte, sub, channel string, exp time.Time) (string, error) {
	claims, err := json.Marshal(struct {
		Sub      string   `json:"sub"`
		Exp      int64    `json:"exp"`
		Channels []string `json:"channels"`
	}{sub, exp.Unix(), []string{channel}})
	if err != nil {
		return "", fmt.Errorf("%w: token: %w", ErrCentrifugo, err)
	}
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil)), nil
}

// centrifugoSink publishes a pacer's batches through Centrifugo's HTTP API:
// one POST /api/batch of n publish commands to the org's channel.
type centrifugoSink struct {
	c        *Centrifugo
	channels []string
}

func (s centrifugoSink) appendBatch(b []byte, i, n int, sent int64, pad string) []byte {
	return appendCentrifugoBatch(b, s.channels[i], n, sent, pad)
}

// appendCentrifugoBatch appends {"commands":[{"publish":{"channel":…,
// "data":EventData}},…]}: n publications to channel, the same data the
// orgstream path publishes.
func appendCentrifugoBatch(b []byte, channel string, n int, sent int64, pad string) []byte {
	b = append(b, `{"commands":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"publish":{"channel":`...)
		b = strconv.AppendQuote(b, channel)
		b = append(b, `,"data":`...)
		b = appendEventData(b, sent, pad)
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}

func (s centrifugoSink) post(ctx context.Context, _ int, body []byte) (uint64, error) {
	return 0, s.c.postAPI(ctx, "/api/batch", body)
}

// postAPI POSTs body to Centrifugo's HTTP API at path; a status other than
// 200 or an error in any reply is an error.
func (c *Centrifugo) postAPI(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	req.Header.Set("X-API-Key", c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%w: read answer: %w", ErrPublish, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: centrifugo status %d: %s", ErrPublish, resp.StatusCode, bytes.TrimSpace(b[:min(len(b), 200)]))
	}
	if i := bytes.Index(b, []byte(`"error":`)); i >= 0 {
		return fmt.Errorf("%w: centrifugo: %s", ErrPublish, b[i:min(len(b), i+200)])
	}
	return nil
}
