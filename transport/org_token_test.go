package transport

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// pageHistory is an in-test History that answers an empty page.
type pageHistory struct{}

func (pageHistory) History(context.Context, string, uint64, int, messages.Scope) (messages.HistoryPage, error) {
	return messages.HistoryPage{Epoch: "e", First: 1}, nil
}

// userPresence is an in-test Presence of nobody.
type userPresence struct{}

func (userPresence) Presence(org string) (messages.Presence, error) {
	return messages.Presence{Org: org}, nil
}

// Publish, history and presence check an org's token the same way
// (orgToken): token (401), org id (400), then the token's org and scope
// (403), each with its exact body. Publish needs a publish token and takes
// none from the query; history and presence take any token of the org, a
// publish token of "*", and an access_token query parameter.
func TestOrgTokenRefusals(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.History = pageHistory{}
		c.Presence = userPresence{}
	})
	const (
		missing   = `401 {"error":"missing token","code":"missing_token"}`
		invalid   = `401 {"error":"invalid token","code":"invalid_token"}`
		badOrg    = `400 {"error":"invalid org id","code":"invalid_org"}`
		notOrg    = `403 {"error":"the token is not for this org","code":"forbidden"}`
		noPublish = `403 {"error":"the token may not publish to this org","code":"forbidden"}`
	)
	sub := issue(t, "acme", "alice", "subscribe", time.Hour)
	tests := []struct {
		name  string
		org   string
		token string
		query bool // the token as access_token rather than a bearer
		// want is each route's "STATUS" or "STATUS BODY": publish,
		// history, presence.
		want [3]string
	}{
		{name: "no token", org: "acme", want: [3]string{missing, missing, missing}},
		{name: "invalid token", org: "acme", token: "abc.def.ghi", want: [3]string{invalid, invalid, invalid}},
		{name: "token before org", org: "bad$org", token: "abc.def.ghi", want: [3]string{invalid, invalid, invalid}},
		{name: "invalid org", org: "bad$org", token: sub, want: [3]string{badOrg, badOrg, badOrg}},
		{name: "subscriber of the org", org: "acme", token: sub, want: [3]string{noPublish, "200", "200"}},
		{name: "subscriber of another org", org: "other", token: sub, want: [3]string{noPublish, notOrg, notOrg}},
		{name: "subscriber of every org", org: "acme", token: issue(t, "*", "alice", "subscribe", time.Hour),
			want: [3]string{noPublish, notOrg, notOrg}},
		{name: "publisher of the org", org: "acme", token: issue(t, "acme", "svc", "publish", time.Hour),
			want: [3]string{"201", "200", "200"}},
		{name: "publisher of another org", org: "other", token: issue(t, "acme", "svc", "publish", time.Hour),
			want: [3]string{noPublish, notOrg, notOrg}},
		{name: "publisher of every org", org: "acme", token: issue(t, "*", "svc", "publish", time.Hour),
			want: [3]string{"201", "200", "200"}},
		{name: "query token", org: "acme", token: sub, query: true, want: [3]string{missing, "200", "200"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, route := range [3]struct{ method, path, query string }{
				{http.MethodPost, "/events", ""},
				{http.MethodGet, "/events", "after=0"},
				{http.MethodGet, "/presence", ""},
			} {
				q := url.Values{}
				if tc.query {
					q.Set("access_token", tc.token)
				}
				u := env.url("/v2/realtime/orgs/" + tc.org + route.path + "?" + strings.Trim(route.query+"&"+q.Encode(), "&"))
				req, err := http.NewRequest(route.method, u, strings.NewReader(oneEvent))
				if err != nil {
					t.Fatal(err)
				}
				if tc.token != "" && !tc.query {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				resp, body := do(t, env, req)
				want, wantBody, _ := strings.Cut(tc.want[i], " ")
				if got := resp.Status[:3]; got != want || (wantBody != "" && string(body) != wantBody) {
					t.Errorf("%s %s: %s %s, want %s", route.method, route.path, got, body, tc.want[i])
				}
			}
		})
	}
}

// A presence request whose query is not a valid stream query takes no
// token from it: the token is missing.
func TestPresenceQueryTokenNeedsValidQuery(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Presence = userPresence{} })
	tok := issue(t, "acme", "alice", "subscribe", time.Hour)
	for q, want := range map[string]int{
		"access_token=" + tok:                 http.StatusOK,
		"access_token=" + tok + "&last_seq=x": http.StatusUnauthorized,
	} {
		resp, body := get(t, env, "/v2/realtime/orgs/acme/presence?"+q)
		if resp.StatusCode != want {
			t.Errorf("last_seq=x %v: %d %s, want %d", strings.Contains(q, "last_seq"), resp.StatusCode, body, want)
		}
	}
}
