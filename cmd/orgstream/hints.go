package main

import (
	"fmt"
	"net"
	"strings"
)

// printHints tells a person who just started the daemon how to use it. It
// never prints the secret: tokens are minted by a separate command.
func (c *cli) printHints(o *serveOptions, addr, natsURL string) {
	host := hintAddr(addr)
	httpURL := "http://" + host
	// How the token and publish commands find the same secret.
	secretArgs := " --data-dir " + shellQuote(o.secret.dataDir)
	if !o.secret.fromDataDir() {
		secretArgs = " --jwt-secret \"$ORGSTREAM_JWT_SECRET\""
	}
	// Tokens must carry the issuer and audience serve checks.
	if o.secret.issuer != "" {
		secretArgs += " --jwt-issuer " + shellQuote(o.secret.issuer)
	}
	if o.secret.audience != "" {
		secretArgs += " --jwt-audience " + shellQuote(o.secret.audience)
	}
	urlArg := ""
	if httpURL != "http://127.0.0.1:8080" {
		urlArg = " --url " + httpURL
	}
	natsLine := natsURL + "  (authenticated: user publisher, password from nats-creds below)"
	switch {
	case natsURL == "" && o.natsURL == "":
		natsLine = "embedded, no client port (--nats-listen off)"
	case natsURL == "":
		natsLine = "external (--nats-url)"
	}
	p := c.prog
	var b strings.Builder
	fmt.Fprintf(&b, "\norgstream %s is running (node %s)\n", versionString(), o.nodeName)
	fmt.Fprintf(&b, "  Console:   %s/  (live events, publish form; %s)\n", httpURL, consoleNote(o.dev))
	if o.metricsListen == "" {
		fmt.Fprintf(&b, "  HTTP:      %s  (/healthz, /readyz, /metrics, /v2/realtime/metrics)\n", httpURL)
	} else {
		fmt.Fprintf(&b, "  HTTP:      %s  (/healthz, /readyz)\n", httpURL)
		fmt.Fprintf(&b, "  Metrics:   http://%s  (/metrics, /v2/realtime/metrics; not on HTTP)\n", hintAddr(o.metricsListen))
	}
	fmt.Fprintf(&b, "  WebSocket: ws://%s/v2/realtime/stream?access_token=TOKEN\n", host)
	fmt.Fprintf(&b, "  NATS:      %s\n", natsLine)
	fmt.Fprintf(&b, "  Data dir:  %s\n", o.secret.dataDir)
	fmt.Fprintf(&b, "\nTry it, in another terminal:\n")
	fmt.Fprintf(&b, "  1. mint a token for alice of org acme:\n")
	fmt.Fprintf(&b, "       TOKEN=$(%s token --org acme --sub alice%s)\n", p, secretArgs)
	fmt.Fprintf(&b, "  2. connect with any WebSocket client, e.g. websocat:\n")
	fmt.Fprintf(&b, "       websocat \"ws://%s/v2/realtime/stream?access_token=$TOKEN\"\n", host)
	fmt.Fprintf(&b, "  3. publish an event to acme:\n")
	fmt.Fprintf(&b, "       %s publish%s --org acme --topic demo --data '{\"hello\":\"world\"}'%s\n", p, urlArg, secretArgs)
	fmt.Fprintf(&b, "     or with curl:\n")
	fmt.Fprintf(&b, "       PUB=$(%s token --org acme --sub backend --publish%s)\n", p, secretArgs)
	fmt.Fprintf(&b, "       curl -X POST %s/v2/realtime/orgs/acme/events -H \"Authorization: Bearer $PUB\" \\\n", httpURL)
	fmt.Fprintf(&b, "         -H 'Content-Type: application/json' -d '{\"topic\":\"demo\",\"data\":{\"hello\":\"world\"}}'\n")
	if natsURL != "" {
		credsArgs := " --data-dir " + shellQuote(o.secret.dataDir)
		if o.nats.publisherPassword != "" {
			credsArgs = " --nats-publisher-password \"$ORGSTREAM_NATS_PUBLISHER_PASSWORD\""
		}
		fmt.Fprintf(&b, "  4. or publish over NATS as the publisher role (nats.go: nats.UserInfo(user, password)):\n")
		fmt.Fprintf(&b, "       CREDS=$(%s nats-creds%s)\n", p, credsArgs)
		fmt.Fprintf(&b, "       nats --server %s --user \"${CREDS%%%%:*}\" --password \"${CREDS#*:}\" \\\n", natsURL)
		fmt.Fprintf(&b, "         req orgstream.publish.acme '{\"topic\":\"demo\",\"data\":{\"hello\":\"nats\"}}'\n")
	}
	fmt.Fprintf(&b, "\nCtrl-C drains the clients (close 1001 over %s) and stops.\n\n", formatDuration(o.drainPeriod))
	fmt.Fprint(c.stdout, b.String())
}

// consoleNote says whether the console can mint tokens.
func consoleNote(dev bool) string {
	if dev {
		return "--dev: its Mint token button signs tokens for anyone who can reach this port"
	}
	return "paste a token; the Mint token button appears only with --dev"
}

// hintAddr turns a listen address into one a local client can dial: an
// unspecified host (0.0.0.0, ::, "") becomes 127.0.0.1.
func hintAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
