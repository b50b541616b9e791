package persistence

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// ListenOff as EmbeddedConfig.Listen opens no client listener.
const ListenOff = "off"

// ClusterName is the NATS cluster name embedded nodes join.
const ClusterName = "orgstream"

// embeddedMaxPayload leaves room for a 1 MiB event body plus its headers
// (the NATS default, 1 MB, does not).
const embeddedMaxPayload = 2 << 20

// EmbeddedConfig configures an in-process nats-server with JetStream.
type EmbeddedConfig struct {
	// DataDir holds the JetStream store (in DataDir/jetstream). Required.
	DataDir string
	// Listen is the client address "host:port"; port 0 picks a free port,
	// ListenOff ("off") opens none (in-process connections only). Zero value
	// means DefaultNATSListen.
	Listen string
	// ListenFallback makes the server listen on a free port when Listen's
	// port is taken, with a warning, instead of failing: for the default
	// address, so that a second node on the same host (a local cluster
	// started without --nats-listen) still starts. Its URL is ClientURL.
	ListenFallback bool
	// NodeName is the server name, unique in a cluster and stable across
	// restarts (JetStream identifies peers by it). Zero value means the host
	// name.
	NodeName string
	// ClusterListen is the route address "host:port" (port 0 picks a free
	// one); empty means not clustered. A clustered node needs a client
	// listener (nats-server issue 5174), so Listen must not be "off", and
	// Routes (JetStream clustering refuses to start without them).
	ClusterListen string
	// ClusterAdvertise is the route address "host:port" this server tells
	// the others about (nats-server's cluster.advertise); empty means
	// ClusterListen's. The others dial it when they learn of this server
	// through the gossip of a third one and have no configured route to it
	// (an implicit route): behind NAT or in a container the listen address
	// is not the one they can reach. Only with ClusterListen.
	ClusterAdvertise string
	// Routes are the route URLs of the other nodes, e.g.
	// "nats://127.0.0.1:6223".
	Routes []string
	// PublisherPassword is the password of the publisher role
	// (PublisherUser) on the client port. Required unless Listen is "off".
	PublisherPassword string
	// ClusterSecret authenticates the routes: a node with another secret is
	// refused by the others, and refuses them. Required with ClusterListen.
	ClusterSecret string
	// TLS, optional: with TLSCert and TLSKey (PEM files) the client port and
	// the routes require TLS. Routes verify each other's certificates
	// against TLSCA (mutual TLS), or against the system's roots without it;
	// clients are not asked for a certificate (publishers authenticate with
	// their password). The in-process connection needs none.
	TLSCert, TLSKey, TLSCA string
	// SyncAlways makes JetStream fsync every write (survives power loss, not
	// only process crashes) at a throughput cost.
	SyncAlways bool
	// ReadyTimeout bounds the wait for the server to accept connections.
	// Zero value means 10s.
	ReadyTimeout time.Duration
	// Logger receives the server's notices, warnings and errors (debug and
	// trace stay off). Nil means zap.NewNop().
	Logger *zap.Logger
}

// Embedded is a running in-process nats-server with JetStream. Its methods
// are safe for concurrent use.
type Embedded struct {
	srv       *server.Server
	clientURL string
	// daemonPass is the daemon user's password: random per start, never
	// stored or printed, used only by Connect.
	daemonPass string
	once       sync.Once
}

// StartEmbedded starts the server and returns once it accepts connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	daemonPass, err := randomPassword()
	if err != nil {
		return nil, err
	}
	opts, err := cfg.serverOptions(daemonPass)
	if err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	srv, err := startServer(opts, lg, timeout)
	if errors.Is(err, errPortTaken) && cfg.ListenFallback {
		lg.Warn("embedded NATS client port taken, listening on a free one instead (set --nats-listen to choose)",
			zap.String("wanted", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))))
		opts.Port = server.RANDOM_PORT
		srv, err = startServer(opts, lg, timeout)
	}
	if err != nil {
		return nil, err
	}
	e := &Embedded{srv: srv, daemonPass: daemonPass}
	if !opts.DontListen {
		if addr, ok := srv.Addr().(*net.TCPAddr); ok {
			host := "127.0.0.1"
			if ip := addr.IP; ip != nil && !ip.IsUnspecified() {
				host = ip.String()
			}
			e.clientURL = "nats://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
		}
	}
	return e, nil
}

// errPortTaken: the client port is in use (StartEmbedded may fall back).
var errPortTaken = errors.New("persistence: embedded nats: client port in use")

// startServer starts one server with opts and waits until it accepts
// connections; on failure it is shut down again.
func startServer(opts *server.Options, lg *zap.Logger, timeout time.Duration) (*server.Server, error) {
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("persistence: embedded nats: %w", err)
	}
	nlg := &natsLogger{lg: lg.Named("nats").WithOptions(zap.AddCallerSkip(1)).Sugar()}
	srv.SetLoggerV2(nlg, false, false, false)
	srv.Start()
	fail := func(err error) (*server.Server, error) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	if msg := nlg.fatalError(); msg != "" {
		if strings.Contains(msg, "address already in use") && strings.Contains(msg, net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))) {
			return fail(fmt.Errorf("%w: %s", errPortTaken, msg))
		}
		return fail(fmt.Errorf("persistence: embedded nats: %s", msg))
	}
	if !srv.ReadyForConnections(timeout) {
		return fail(fmt.Errorf("persistence: embedded nats not ready after %v", timeout))
	}
	return srv, nil
}

func (cfg EmbeddedConfig) serverOptions(daemonPass string) (*server.Options, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("persistence: embedded nats: DataDir is required")
	}
	name := cfg.NodeName
	if name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "orgstream"
		}
		name = h
	}
	opts := &server.Options{
		ServerName: name,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		SyncAlways: cfg.SyncAlways,
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultNATSListen
	}
	if listen == ListenOff {
		if cfg.ClusterListen != "" {
			return nil, errors.New(`persistence: embedded nats: a clustered node needs a client listener (Listen "off" with ClusterListen set)`)
		}
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("persistence: embedded nats: Listen %q: %w", listen, err)
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.ClusterListen != "" {
		if len(cfg.Routes) == 0 {
			// nats-server refuses clustered JetStream without configured routes.
			return nil, errors.New("persistence: embedded nats: ClusterListen needs Routes (the other nodes' route URLs)")
		}
		host, port, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("persistence: embedded nats: ClusterListen %q: %w", cfg.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: ClusterName, Host: host, Port: port}
		if cfg.ClusterAdvertise != "" {
			if _, port, err := splitHostPort(cfg.ClusterAdvertise); err != nil || port <= 0 {
				return nil, fmt.Errorf("persistence: embedded nats: ClusterAdvertise %q: want host:port with a port 1–65535", cfg.ClusterAdvertise)
			}
			opts.Cluster.Advertise = cfg.ClusterAdvertise
		}
		for _, r := range cfg.Routes {
			u, err := url.Parse(strings.TrimSpace(r))
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("persistence: embedded nats: bad route %q", r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	} else if len(cfg.Routes) > 0 {
		return nil, errors.New("persistence: embedded nats: Routes need ClusterListen")
	} else if cfg.ClusterAdvertise != "" {
		return nil, errors.New("persistence: embedded nats: ClusterAdvertise needs ClusterListen")
	}
	if err := cfg.authorize(opts, daemonPass); err != nil {
		return nil, err
	}
	if err := cfg.setTLS(opts); err != nil {
		return nil, err
	}
	return opts, nil
}

// splitHostPort parses "host:port"; port 0 becomes nats-server's "random".
func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// ClientURL is the client URL, nats://127.0.0.1:PORT with the actual port
// (the listener's address when it is bound to a specific one), or "" when
// Listen is "off".
func (e *Embedded) ClientURL() string { return e.clientURL }

// Server is the underlying nats-server, for wiring that needs it.
func (e *Embedded) Server() *server.Server { return e.srv }

// Connect opens an in-process client connection as the daemon's user (no
// socket; works with Listen "off"), with DaemonInboxPrefix as its inbox
// prefix, which its permissions require. The caller closes it before
// Shutdown.
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{
		nats.InProcessServer(e.srv),
		nats.UserInfo(DaemonUser, e.daemonPass),
		nats.CustomInboxPrefix(DaemonInboxPrefix),
	}, opts...)
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("persistence: connect to embedded nats: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits until it is down. Safe to call twice.
func (e *Embedded) Shutdown() {
	e.once.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
}
