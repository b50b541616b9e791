package persistence

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// routeUser is the user name routes authenticate with; its password is
// derived from ClusterSecret (routePassword).
const routeUser = "orgstream-route"

// authorize closes the embedded server: every client authenticates as one of
// the two users (no anonymous user), and routes with the cluster secret.
func (cfg EmbeddedConfig) authorize(opts *server.Options, daemonPass string) error {
	opts.Users = []*server.User{{
		Username: DaemonUser, Password: daemonPass, Permissions: DaemonPermissions(),
		// Only the daemon's own in-process connection: even a leaked
		// password is of no use over the network.
		AllowedConnectionTypes: map[string]struct{}{jwt.ConnectionTypeInProcess: {}},
	}}
	switch {
	case cfg.PublisherPassword != "":
		if strings.HasPrefix(cfg.PublisherPassword, "$2") {
			// nats-server reads a password starting with "$2" as a bcrypt
			// hash, which `orgstream nats-creds` would then print.
			return errors.New(`persistence: embedded nats: the publisher password must not start with "$2" (nats-server reads that as a bcrypt hash)`)
		}
		opts.Users = append(opts.Users, &server.User{
			Username: PublisherUser, Password: cfg.PublisherPassword, Permissions: PublisherPermissions(),
		})
	case !opts.DontListen:
		return errors.New("persistence: embedded nats: PublisherPassword is required with a client listener")
	}
	if cfg.ClusterListen == "" {
		return nil
	}
	if cfg.ClusterSecret == "" {
		return errors.New("persistence: embedded nats: ClusterSecret is required with ClusterListen")
	}
	pass := routePassword(cfg.ClusterSecret)
	opts.Cluster.Username, opts.Cluster.Password = routeUser, pass
	for i, u := range opts.Routes {
		// Explicit routes present the credentials of their URL (implicit,
		// gossiped ones those of Cluster), so every route URL carries them.
		withAuth := *u
		withAuth.User = url.UserPassword(routeUser, pass)
		opts.Routes[i] = &withAuth
	}
	return nil
}

// routePassword derives the routes' password from the cluster secret: a
// fixed-length hex string, so that no secret is read by nats-server as a
// bcrypt hash or needs escaping in a URL, and the secret itself is never
// sent.
func routePassword(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("orgstream nats route v1"))
	return hex.EncodeToString(mac.Sum(nil))
}

// randomPassword returns 32 random bytes, hex-encoded.
func randomPassword() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("persistence: embedded nats: generate password: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// setTLS turns on TLS for the client port and the routes when a certificate
// is configured.
func (cfg EmbeddedConfig) setTLS(opts *server.Options) error {
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		if cfg.TLSCA != "" {
			return errors.New("persistence: embedded nats: a TLS CA needs a TLS certificate and key")
		}
		return nil
	}
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		return errors.New("persistence: embedded nats: TLS needs both a certificate and a key")
	}
	const timeout = 2 // seconds, nats-server's default for the handshake
	if !opts.DontListen {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			return fmt.Errorf("persistence: embedded nats: client TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, timeout
	}
	if cfg.ClusterListen != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CaFile: cfg.TLSCA, Verify: cfg.TLSCA != "",
		})
		if err != nil {
			return fmt.Errorf("persistence: embedded nats: route TLS: %w", err)
		}
		if cfg.TLSCA != "" {
			// A node is both the server and the client of its routes, as
			// nats-server's own configuration parser sets it up.
			tc.ClientAuth = tls.RequireAndVerifyClientCert
			tc.RootCAs = tc.ClientCAs
		}
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = tc, timeout
	}
	return nil
}
