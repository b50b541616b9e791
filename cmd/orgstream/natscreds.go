package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
	"github.com/orgstream/orgstream/transport/auth"
)

const natsCredsShort = "print the NATS publisher credentials (USER:PASSWORD)"

const natsCredsExtra = `Prints the credentials of the embedded NATS server's publisher role as one
line USER:PASSWORD on stdout. The role may only send publish requests on
orgstream.publish.<org> and read their replies. The password comes from
--nats-publisher-password, else ORGSTREAM_NATS_PUBLISHER_PASSWORD, else
<data-dir>/nats-publisher-password (created if absent, as serve does).
Example, with the nats CLI:

  CREDS=$(orgstream nats-creds --data-dir ./data)
  nats --server nats://127.0.0.1:4222 --user "${CREDS%%:*}" --password "${CREDS#*:}" \
    req orgstream.publish.acme '{"topic":"demo","data":{"hello":"world"}}'`

// natsAuthFlags are the flags of the NATS backbone's credentials and TLS.
type natsAuthFlags struct {
	publisherPassword string
	credsFile         string
	tlsCert           string
	tlsKey            string
	tlsCA             string
}

func (n *natsAuthFlags) define(f *flagSet) {
	n.definePublisher(f)
	f.String(&n.credsFile, "nats-creds", "", "FILE", "NATS credentials file the daemon authenticates with to --nats-url (user:password in the URL works too)", nil)
	f.String(&n.tlsCert, "nats-tls-cert", "", "FILE", "PEM certificate: TLS on the embedded NATS client port and routes; with --nats-url, the daemon's client certificate", nil)
	f.String(&n.tlsKey, "nats-tls-key", "", "FILE", "PEM private key of --nats-tls-cert", nil)
	f.String(&n.tlsCA, "nats-tls-ca", "", "FILE", "PEM CA: routes verify each other against it (mutual TLS); with --nats-url, the CA of the cluster's certificates", nil)
}

func (n *natsAuthFlags) definePublisher(f *flagSet) {
	f.String(&n.publisherPassword, "nats-publisher-password", "", "PASSWORD",
		`password of the embedded NATS server's "publisher" user (prefer the env var: flags show in ps); every node of a cluster needs the same`, nil)
	f.setDefaultText("nats-publisher-password", "<data-dir>/nats-publisher-password, generated on first start, mode 0600")
}

// check refuses flags that do not apply: credentials for an external
// cluster with the embedded server and the other way round, half a key pair.
func (n *natsAuthFlags) check(external bool) error {
	switch {
	case external && n.publisherPassword != "":
		return usagef("orgstream serve: --nats-publisher-password sets the embedded server's publisher role; with --nats-url the cluster's own accounts apply")
	case !external && n.credsFile != "":
		return usagef("orgstream serve: --nats-creds is for --nats-url; the embedded server needs none")
	case (n.tlsCert == "") != (n.tlsKey == ""):
		return usagef("orgstream serve: --nats-tls-cert and --nats-tls-key go together")
	case !external && n.tlsCA != "" && n.tlsCert == "":
		return usagef("orgstream serve: --nats-tls-ca needs --nats-tls-cert and --nats-tls-key on the embedded server")
	}
	return nil
}

type natsCredsOptions struct {
	dataDir string
	nats    natsAuthFlags
}

func newNATSCredsFlags(o *natsCredsOptions) *flagSet {
	f := newFlagSet("nats-creds", "Print the NATS publisher credentials as USER:PASSWORD.")
	f.String(&o.dataDir, "data-dir", node.DefaultDataDir, "DIR", "the daemon's data dir (the nats-publisher-password file)", nil)
	o.nats.definePublisher(f)
	return f
}

// natsCreds prints publisher:PASSWORD.
func (c *cli) natsCreds(_ context.Context, args []string) error {
	var o natsCredsOptions
	if err := newNATSCredsFlags(&o).parse(args, c.env); err != nil {
		return err
	}
	pass := o.nats.publisherPassword
	if pass == "" {
		b, err := auth.LoadOrCreateSecret(filepath.Join(o.dataDir, node.PublisherPasswordFile))
		if err != nil {
			return fmt.Errorf("publisher password: %w", err)
		}
		pass = string(b)
	}
	_, err := fmt.Fprintf(c.stdout, "%s:%s\n", persistence.PublisherUser, pass)
	return err
}
