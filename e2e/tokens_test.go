package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstream/orgstream/internal/testkit"
)

// The token flags on the built binary, all given through the environment:
// tokens of an identity provider's JWKS are accepted with the right iss and
// aud and refused (401) without; `orgstream token`, with the same
// environment, mints HS256 tokens that pass the same checks; /readyz shows
// the JWKS's state.
func TestIdPTokensOnTheBinary(t *testing.T) {
	closeIdle(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", ALG: jwkset.AlgRS256}})
	if err != nil {
		t.Fatal(err)
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(t.Context(), jwk); err != nil {
		t.Fatal(err)
	}
	set, err := store.JSONPublic(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(set) }))
	t.Cleanup(idp.Close)

	env := []string{
		"ORGSTREAM_JWKS_URL=" + idp.URL + "/jwks",
		"ORGSTREAM_JWT_ISSUER=https://idp.test/",
		"ORGSTREAM_JWT_AUDIENCE=orgstream",
	}
	d := startDaemon(t, spec{Env: env})
	ctx := phase(t)
	sign := func(aud string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"sub": "alice", "org": "acme", "exp": time.Now().Add(time.Hour).Unix(),
			"iss": "https://idp.test/", "aud": aud,
		})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, sign("orgstream"), nil), nil)
	defer c.Close()
	if w := c.ExpectWelcome(ctx); w.User != "alice" || w.Org != "acme" {
		t.Fatalf("welcome %s, want alice of acme", w.Raw)
	}
	_, resp, err := testkit.DialErr(ctx, testkit.StreamURL(d.Base, sign("billing"), nil), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream with another audience: response %v, err %v; want 401", statusOf(resp), err)
	}

	pub := mintCLI(t, env, "--org", "acme", "--sub", "backend", "--publish", "--data-dir", d.DataDir)
	if st, b := testkit.Publish(t, d.Base, "acme", pub, testkit.EventBody("t", `{"via":"hs256"}`, "")); st != http.StatusCreated {
		t.Fatalf("publish with a token of orgstream token: %d %s", st, b)
	}
	if f := c.ExpectFrame(ctx, "event"); !strings.Contains(string(f.Data), "hs256") {
		t.Fatalf("event %s", f.Raw)
	}

	r, err := http.Get(d.Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	var ready map[string]string
	if err := json.Unmarshal(body, &ready); err != nil || r.StatusCode != http.StatusOK || ready["jwks"] != "ok" {
		t.Fatalf("/readyz %d %s, want 200 with jwks ok", r.StatusCode, body)
	}
}
