package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/orgstream/orgstream/client"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

const publishShort = "publish one event over HTTP"

const publishExtra = `POSTs {"topic":…,"data":…,"id":…} to <url>/v2/realtime/orgs/<org>/events and
prints {"seq":N,"id":KEY} (and "duplicate":true when the id was already
stored). Without --id it assigns a random one, so that its retries (503,
network errors, timeouts: for up to 30 s, with backoff, never a 4xx) cannot
store the event twice. Without --token it signs a one-minute publish token
with the daemon's secret (--jwt-secret, or the existing
<data-dir>/jwt-secret), a fresh one per attempt. Exit 0 once stored, 1
otherwise. Example:

  orgstream publish --org acme --topic demo --data '{"hello":"world"}' --data-dir ./data`

// publishRetryFor bounds the retries of a failed attempt (503, network
// errors, timeouts); the id makes them safe.
const publishRetryFor = 30 * time.Second

// mintedTokenTTL is the lifetime of a token publish signs for itself.
const mintedTokenTTL = time.Minute

type publishOptions struct {
	secret secretFlags
	url    string
	org    string
	topic  string
	data   string
	id     string
	token  string
}

func newPublishFlags(o *publishOptions) *flagSet {
	f := newFlagSet("publish", "Publish one event to an org through the daemon's HTTP API.")
	f.String(&o.url, "url", "http://127.0.0.1:8080", "URL", "base URL of the daemon", checkHTTPURL)
	f.String(&o.org, "org", "", "ORG", "org id to publish to (required)", checkOrg)
	f.String(&o.topic, "topic", "", "TOPIC", "topic of the event, e.g. orders.updated (required)", checkTopic)
	f.String(&o.data, "data", "", "JSON", `the event's data, any JSON value; "-" reads it from stdin (required)`, nil)
	f.String(&o.id, "id", "", "KEY", "idempotency key: the same id within 2 minutes returns the first seq; empty means a random one", nil)
	f.String(&o.token, "token", "", "JWT", "publish token; empty means sign one with the secret below", nil)
	o.secret.define(f)
	return f
}

func checkOrg(org string) error {
	if !messages.ValidOrg(org) {
		return fmt.Errorf("not an org id ([A-Za-z0-9_-]{1,64}): %q", org)
	}
	return nil
}

func checkTopic(topic string) error {
	if !messages.ValidTopic(topic) {
		return fmt.Errorf("not a topic ([A-Za-z0-9_.-]{1,256}): %q", topic)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want http://host:port, got %q", s)
	}
	return nil
}

func (c *cli) publish(ctx context.Context, args []string) error {
	var o publishOptions
	if err := newPublishFlags(&o).parse(args, c.env); err != nil {
		return err
	}
	for _, req := range []struct{ name, v string }{{"org", o.org}, {"topic", o.topic}, {"data", o.data}} {
		if req.v == "" {
			return usagef("orgstream publish: --%s is required (see orgstream publish --help)", req.name)
		}
	}
	data := []byte(o.data)
	if o.data == "-" {
		var err error
		if data, err = io.ReadAll(c.stdin); err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		data = bytes.TrimSpace(data)
	}
	if !json.Valid(data) {
		return usagef("orgstream publish: --data is not valid JSON")
	}
	token := func(context.Context) (string, error) { return o.token, nil }
	if o.token == "" {
		secret, err := o.secret.resolve("publish", false)
		if err != nil {
			return err
		}
		// A fresh token per attempt: retries may outlast one.
		token = func(context.Context) (string, error) {
			t, err := o.secret.issue(secret, auth.Claims{
				Sub:   "orgstream-cli",
				Org:   o.org,
				Exp:   time.Now().Add(mintedTokenTTL),
				Scope: auth.ScopePublish,
			})
			if err != nil {
				return "", fmt.Errorf("sign: %w", err)
			}
			return t, nil
		}
	}
	p, err := client.NewPublisher(client.PublisherConfig{
		URL: o.url, Org: o.org, TokenFunc: token, RetryFor: publishRetryFor,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	ack, err := p.Publish(ctx, client.Message{Topic: o.topic, Data: data, ID: o.id})
	if err != nil {
		return err // neither the URL nor the token is in it
	}
	answer, err := json.Marshal(struct {
		Seq       uint64 `json:"seq"`
		ID        string `json:"id"`
		Duplicate bool   `json:"duplicate,omitempty"`
	}{ack.Seq, ack.ID, ack.Duplicate})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", answer)
	return err
}
