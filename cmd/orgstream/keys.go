package main

import (
	"errors"
	"net/url"

	"github.com/orgstream/orgstream/transport/auth"
)

// keyFlags are serve's flags for tokens signed by an identity provider,
// accepted beside HS256 tokens of the secret.
type keyFlags struct {
	publicKeyFile string
	jwksURL       string
}

func (k *keyFlags) define(f *flagSet) {
	f.String(&k.publicKeyFile, "jwt-public-key", "", "FILE", "PEM file of public keys whose tokens are accepted: RS256 (RSA), ES256 (P-256) or EdDSA (Ed25519), by key type", nil)
	f.setDefaultText("jwt-public-key", "none")
	f.String(&k.jwksURL, "jwks-url", "", "URL", "JWK set of an identity provider: its keys verify tokens by kid; refetched every 5m, and on an unknown kid at most every 10s", nil)
	f.setDefaultText("jwks-url", "none")
}

// validate checks the flags after parse; its errors never show the URL,
// which may hold credentials.
func (k *keyFlags) validate(cmd string) error {
	if k.publicKeyFile != "" {
		if _, err := auth.LoadPublicKeys(k.publicKeyFile); err != nil {
			return usagef("orgstream %s: --jwt-public-key: %v", cmd, err)
		}
	}
	if k.jwksURL != "" {
		if err := checkJWKSURL(k.jwksURL); err != nil {
			return usagef("orgstream %s: --jwks-url: %v", cmd, err)
		}
	}
	return nil
}

func checkJWKSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http(s) URL such as https://idp.example.com/.well-known/jwks.json")
	}
	return nil
}
