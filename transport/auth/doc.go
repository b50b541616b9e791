// Package auth issues and verifies orgstream's JWTs (HS256) and keeps the
// node's signing secret.
//
// A token carries sub (the user), org (an org id, or AnyOrg for a publisher
// allowed on every org), exp (unix seconds), iat, and scope (ScopeSubscribe,
// the default when absent, or ScopePublish; a publish token can also
// subscribe):
//
//	secret, err := auth.LoadOrCreateSecret(filepath.Join(dataDir, "jwt-secret"))
//	if err != nil {
//		return err
//	}
//	tok, err := auth.Issue(secret, auth.Claims{
//		Sub: "alice", Org: "acme", Exp: time.Now().Add(time.Hour),
//	})
//	...
//	c, err := auth.Verify(secret, tok, time.Now())
//	switch {
//	case errors.Is(err, auth.ErrExpired): // 401, or close 4001 on a stream
//	case err != nil: // 401
//	}
//
// Only HS256 is accepted: "none", RS256 and every other alg are refused
// before any key is used. Errors never contain the token, so they may be
// logged. Issue and Verify are pure functions, safe for concurrent use.
package auth
