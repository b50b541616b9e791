package transport

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

func issueTopics(t testing.TB, sub string, topics []string) string {
	t.Helper()
	tok, err := auth.Issue(testSecret, auth.Claims{Sub: sub, Org: "acme", Exp: time.Now().Add(time.Hour), Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawTopicsToken signs a token whose topics claim is whatever raw is,
// bypassing Issue's checks.
func rawTopicsToken(t testing.TB, topics any) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "org": "acme", "exp": time.Now().Add(time.Hour).Unix(), "topics": topics,
	}).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestStreamScope: the stream carries its scope, the token's topics narrowed
// by the topics query.
func TestStreamScope(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, tc := range []struct {
		name   string
		token  string
		query  string
		topics []string
	}{
		{"unscoped", issue(t, "acme", "alice", "", time.Hour), "", nil},
		{"token topics", issueTopics(t, "alice", []string{"orders.*", "billing.>"}), "", []string{"orders.*", "billing.>"}},
		{"query narrows token", issueTopics(t, "alice", []string{"orders.*", "billing.>"}), "&topics=billing.eu.%3E,orders.new", []string{"billing.eu.>", "orders.new"}},
		{"query on unscoped token", issue(t, "acme", "alice", "", time.Hour), "&topics=x.*", []string{"x.*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := dialStream(t, env, "?access_token="+tc.token+tc.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			o := env.streams.expectOpened(t)
			readHello(t, c, "hello acme alice")
			want := messages.Scope{User: "alice", Topics: tc.topics}
			if !reflect.DeepEqual(o.st.Scope, want) {
				t.Fatalf("scope %+v, want %+v", o.st.Scope, want)
			}
		})
	}
}

func TestStreamScopeRefusals(t *testing.T) {
	env := newTestEnv(t, nil)
	scoped := issueTopics(t, "alice", []string{"orders.*", "billing.>"})
	for _, tc := range []struct {
		name   string
		path   string
		status int
		code   string
		msg    string
	}{
		{"bad query pattern", "?access_token=" + scoped + "&topics=orders.x*", 400, CodeInvalidQuery, "topics"},
		{"empty query item", "?access_token=" + scoped + "&topics=a,", 400, CodeInvalidQuery, "topics"},
		{"query wider than token", "?access_token=" + scoped + "&topics=orders.%3E", 403, CodeTopicForbidden, "pattern 1"},
		{"query outside token", "?access_token=" + scoped + "&topics=billing.x,users.*", 403, CodeTopicForbidden, "pattern 2"},
		{"claim not an array", "?access_token=" + rawTopicsToken(t, "orders.*"), 401, CodeInvalidToken, "topics"},
		{"claim empty", "?access_token=" + rawTopicsToken(t, []string{}), 401, CodeInvalidToken, "topics"},
		{"claim bad pattern", "?access_token=" + rawTopicsToken(t, []string{"a", "b.>.c"}), 401, CodeInvalidToken, "pattern 2"},
		{"claim with a number", "?access_token=" + rawTopicsToken(t, []any{"a", 1}), 401, CodeInvalidToken, "topics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawExchange(t, env.addr, upgradeRequest(StreamPath+tc.path))
			checkErrorBody(t, resp, body, tc.status, tc.code)
			if !strings.Contains(string(body), tc.msg) {
				t.Fatalf("body %s does not say %q", body, tc.msg)
			}
			env.streams.expectNone(t)
		})
	}
}
