// Package auth issues and verifies orgstream's JWTs and keeps the node's
// signing secret.
//
// A token carries sub (the user), org (an org id, or AnyOrg for a publisher
// allowed on every org), exp (unix seconds), iat, and scope (ScopeSubscribe,
// the default when absent, or ScopePublish; a publish token can also
// subscribe).
//
// A Verifier accepts tokens signed in any of three ways, side by side: HS256
// with the node's secret (at least MinSecretLen bytes), RS256/ES256/EdDSA
// with public keys from a PEM file, and the same algorithms with the keys of
// an identity provider's JWKS, chosen by kid, cached, refreshed every few
// minutes and fetched again (rate-limited) when a token names an unknown
// kid. exp is exact; nbf and iat may be ClockSkew ahead; iss and aud are
// checked when configured. A token's signature is verified once: for up to
// a minute (and while the JWK set stays the same) its claims come from a
// bounded cache, with exp checked on every use (cache.go):
//
//	secret, err := auth.LoadOrCreateSecret(filepath.Join(dataDir, "jwt-secret"))
//	if err != nil {
//		return err
//	}
//	v, err := auth.NewVerifier(auth.VerifierConfig{
//		Secret:   secret,
//		JWKSURL:  "https://idp.example.com/.well-known/jwks.json",
//		Issuer:   "https://idp.example.com/",
//		Audience: "orgstream",
//	})
//	if err != nil {
//		return err
//	}
//	defer v.Close() // stops the JWKS fetcher
//	tok, err := v.Issue(auth.Claims{Sub: "alice", Org: "acme", Exp: time.Now().Add(time.Hour)})
//	...
//	c, err := v.Verify(tok, time.Now())
//	switch {
//	case errors.Is(err, auth.ErrExpired): // 401, or close 4001 on a stream
//	case err != nil: // 401
//	}
//
// The algorithm a key verifies follows from its type, never from the
// token's header: the secret verifies HS256 only, an RSA key RS256 only, a
// P-256 key ES256 only, an Ed25519 key EdDSA only; "none" and every other
// alg are refused before any key is used. Errors never contain the token,
// so they may be logged. Issue is a pure function; a Verifier's methods are
// safe for concurrent use.
package auth
