package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/transport/auth"
)

const tokenShort = "print a signed access token"

const tokenExtra = `Prints a JWT (HS256) signed with the daemon's secret, alone on stdout. The
secret comes from --jwt-secret, else ORGSTREAM_JWT_SECRET, else
<data-dir>/jwt-secret (created if absent, as serve does). Example:

  TOKEN=$(orgstream token --org acme --sub alice --data-dir ./data)`

// secretFlags are the flags that locate the signing secret, and the issuer
// and audience of tokens; serve, token and publish share them, so that one
// environment configures all three.
type secretFlags struct {
	dataDir   string
	jwtSecret string
	issuer    string
	audience  string
}

const secretFileName = "jwt-secret"

func (s *secretFlags) define(f *flagSet) {
	f.String(&s.dataDir, "data-dir", node.DefaultDataDir, "DIR", "embedded NATS/JetStream store and local state (the jwt-secret file)", nil)
	f.String(&s.jwtSecret, "jwt-secret", "", "SECRET", "HS256 key for tokens, at least 32 bytes (prefer the env var: flags show in ps)", nil)
	f.setDefaultText("jwt-secret", "<data-dir>/jwt-secret, generated on first start, mode 0600")
	f.String(&s.issuer, "jwt-issuer", "", "ISS", "iss of tokens: serve refuses tokens with another (HS256 ones included); token and publish write it", nil)
	f.setDefaultText("jwt-issuer", "empty = not checked")
	f.String(&s.audience, "jwt-audience", "", "AUD", "aud of tokens: serve refuses tokens without it; token and publish write it", nil)
	f.setDefaultText("jwt-audience", "empty = not checked")
}

// fromDataDir reports whether the secret is the data dir's file.
func (s *secretFlags) fromDataDir() bool { return s.jwtSecret == "" }

// resolve returns the secret: the flag/env value, else the data dir's file,
// created (32 random bytes, mode 0600) when create is true and it is absent.
// A secret under 32 bytes, from wherever, is a usage error (exit 2) that
// does not show it.
func (s *secretFlags) resolve(cmd string, create bool) ([]byte, error) {
	if s.jwtSecret != "" {
		if len(s.jwtSecret) < auth.MinSecretLen {
			return nil, usagef("orgstream %s: the JWT secret (--jwt-secret or ORGSTREAM_JWT_SECRET) has %d bytes, it must have at least %d (make one with: openssl rand -hex 32)",
				cmd, len(s.jwtSecret), auth.MinSecretLen)
		}
		return []byte(s.jwtSecret), nil
	}
	path := filepath.Join(s.dataDir, secretFileName)
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no secret: %s does not exist (pass --jwt-secret or the daemon's --data-dir)", path)
		}
	}
	secret, err := auth.LoadOrCreateSecret(path)
	if errors.Is(err, auth.ErrShortSecret) {
		return nil, usagef("orgstream %s: %v (replace it with: openssl rand -hex 32)", cmd, err)
	}
	if err != nil {
		return nil, fmt.Errorf("jwt secret: %w", err)
	}
	return secret, nil
}

// issue signs c with secret, with the --jwt-issuer and --jwt-audience.
func (s *secretFlags) issue(secret []byte, c auth.Claims) (string, error) {
	c.Issuer, c.Audience = s.issuer, s.audience
	return auth.Issue(secret, c)
}

type tokenOptions struct {
	secret  secretFlags
	org     string
	sub     string
	ttl     time.Duration
	publish bool
	topics  []string
}

func newTokenFlags(o *tokenOptions) *flagSet {
	f := newFlagSet("token", "Print an access token for a user of an org (or a publisher).")
	f.String(&o.org, "org", "", "ORG", `org id ([A-Za-z0-9_-]{1,64}), or "*" for a publisher allowed on every org (required)`, checkTokenOrg)
	f.String(&o.sub, "sub", "", "USER", "user id, the token's sub claim (required)", nil)
	f.Duration(&o.ttl, "ttl", time.Hour, "lifetime of the token")
	f.Bool(&o.publish, "publish", false, `scope "publish": may publish to the org (and subscribe); default scope is "subscribe"`)
	f.List(&o.topics, "topics", nil, fmt.Sprintf("topics claim: comma-separated topic patterns the token's streams receive, e.g. orders.*,billing.> (at most %d; default every topic)", messages.MaxPatterns), checkTopicPattern)
	o.secret.define(f)
	return f
}

func checkTopicPattern(p string) error {
	if err := messages.ParsePattern(p); err != nil {
		return fmt.Errorf("not a topic pattern (%s): %q", strings.TrimPrefix(err.Error(), "messages: "), p)
	}
	return nil
}

func checkTokenOrg(org string) error {
	if org == auth.AnyOrg || messages.ValidOrg(org) {
		return nil
	}
	return fmt.Errorf(`not an org id ([A-Za-z0-9_-]{1,64}) nor "*": %q`, org)
}

func (c *cli) token(_ context.Context, args []string) error {
	var o tokenOptions
	if err := newTokenFlags(&o).parse(args, c.env); err != nil {
		return err
	}
	if o.org == "" {
		return usagef("orgstream token: --org is required (see orgstream token --help)")
	}
	if o.sub == "" {
		return usagef("orgstream token: --sub is required (see orgstream token --help)")
	}
	secret, err := o.secret.resolve("token", true)
	if err != nil {
		return err
	}
	if len(o.topics) > messages.MaxPatterns {
		return usagef("orgstream token: --topics holds %d patterns, at most %d", len(o.topics), messages.MaxPatterns)
	}
	if len(o.topics) == 0 {
		o.topics = nil
	}
	scope := auth.ScopeSubscribe
	if o.publish {
		scope = auth.ScopePublish
	}
	tok, err := o.secret.issue(secret, auth.Claims{
		Sub:    o.sub,
		Org:    o.org,
		Exp:    time.Now().Add(o.ttl),
		Scope:  scope,
		Topics: o.topics,
	})
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	_, err = fmt.Fprintln(c.stdout, tok)
	return err
}
