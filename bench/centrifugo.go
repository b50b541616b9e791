package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ErrCentrifugo wraps every failure to locate, start or stop Centrifugo.
var ErrCentrifugo = errors.New("bench: centrifugo")

// DefaultCentrifugo is the Centrifugo binary looked for when none is given:
// "centrifugo" on PATH, else where `go install` puts it.
const DefaultCentrifugo = "centrifugo"

// CentrifugoConfig says how to start Centrifugo for a run.
type CentrifugoConfig struct {
	// Path is the centrifugo binary. Empty means DefaultCentrifugo on PATH,
	// else $HOME/go/bin/centrifugo.
	Path string
	// Output receives its stdout and stderr. Nil means they are kept in
	// memory only (quoted in start errors).
	Output io.Writer
	// StartTimeout bounds the start until /health answers 200. Zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
}

// Centrifugo is a `centrifugo` process started by StartCentrifugo on a
// free port of 127.0.0.1, with a temporary config: HS256 connection tokens
// with a random secret, the HTTP API behind a random key, logs at error
// level, every other option at its default (no history, no recovery).
type Centrifugo struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// PID is the process id.
	PID int

	secret []byte
	apiKey string
	dir    string
	cmd    *exec.Cmd
	out    *tailBuffer
	done   chan struct{}
	http   *http.Client
}

// centrifugoConfig is the part of Centrifugo v6's JSON config the harness
// sets (keys checked against v6.9.1).
type centrifugoConfig struct {
	HTTPServer struct {
		Address string `json:"address"`
		Port    int    `json:"port"`
	} `json:"http_server"`
	Log struct {
		Level string `json:"level"`
	} `json:"log"`
	Health struct {
		Enabled bool `json:"enabled"`
	} `json:"health"`
	Client struct {
		Token struct {
			HMACSecretKey string `json:"hmac_secret_key"`
		} `json:"token"`
		AllowedOrigins []string `json:"allowed_origins"`
	} `json:"client"`
	HTTPAPI struct {
		Key string `json:"key"`
	} `json:"http_api"`
}

// newCentrifugoConfig is the config of a Centrifugo on 127.0.0.1:port.
func newCentrifugoConfig(port int, secret, apiKey string) centrifugoConfig {
	var c centrifugoConfig
	c.HTTPServer.Address = "127.0.0.1"
	c.HTTPServer.Port = port
	c.Log.Level = "error"
	c.Health.Enabled = true
	c.Client.Token.HMACSecretKey = secret
	c.Client.AllowedOrigins = []string{"*"}
	c.HTTPAPI.Key = apiKey
	return c
}

// locateCentrifugo returns the binary to run.
func locateCentrifugo(path string) (string, error) {
	if path != "" && path != DefaultCentrifugo {
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			return "", fmt.Errorf("%w: %s not found", ErrCentrifugo, path)
		}
		return path, nil
	}
	if p, err := exec.LookPath(DefaultCentrifugo); err == nil {
		return p, nil
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, "go", "bin", "centrifugo")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p, nil
	}
	return "", fmt.Errorf("%w: no centrifugo on PATH nor at %s (go install github.com/centrifugal/centrifugo/v6@v6.9.1)", ErrCentrifugo, p)
}

// StartCentrifugo writes a temporary config and starts Centrifugo with it,
// waiting until /health answers. The process gets SIGKILL if the harness
// dies first (Linux). Stop releases it.
func StartCentrifugo(ctx context.Context, cfg CentrifugoConfig) (*Centrifugo, error) {
	path, err := locateCentrifugo(cfg.Path)
	if err != nil {
		return nil, err
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCentrifugo, err)
	}
	c := &Centrifugo{URL: "http://127.0.0.1:" + strconv.Itoa(port), secret: randomHex(32), apiKey: string(randomHex(16)),
		out: &tailBuffer{max: 64 << 10}, done: make(chan struct{}),
		http: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: -1}).DialContext,
			MaxIdleConnsPerHost: 1024, DisableCompression: true}}}
	if c.dir, err = os.MkdirTemp("", "orgstream-bench-centrifugo-"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCentrifugo, err)
	}
	b, err := json.MarshalIndent(newCentrifugoConfig(port, string(c.secret), c.apiKey), "", "  ")
	if err != nil {
		c.cleanup()
		return nil, fmt.Errorf("%w: config: %w", ErrCentrifugo, err)
	}
	conf := filepath.Join(c.dir, "config.json")
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		c.cleanup()
		return nil, fmt.Errorf("%w: config: %w", ErrCentrifugo, err)
	}
	c.cmd = exec.Command(path, "--config", conf)
	c.cmd.Dir = c.dir
	var w io.Writer = c.out
	if cfg.Output != nil {
		w = io.MultiWriter(c.out, cfg.Output)
	}
	c.cmd.Stdout, c.cmd.Stderr = w, w
	setPdeathsig(c.cmd)
	if err := c.cmd.Start(); err != nil {
		c.cleanup()
		return nil, fmt.Errorf("%w: start %s: %w", ErrCentrifugo, path, err)
	}
	c.PID = c.cmd.Process.Pid
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	if err := c.waitHealthy(ctx, cfg.StartTimeout); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("%w: not ready: %w\n--- centrifugo output ---\n%s", ErrCentrifugo, err, c.out.String())
	}
	return c, nil
}

func (c *Centrifugo) waitHealthy(ctx context.Context, timeout time.Duration) error {
	return pollChild(ctx, timeout, c.done, c.cmd, func() string { return c.URL + "/health" }, c.http)
}

// Stop sends SIGTERM, waits (SIGKILL after 20 s) and removes the config.
// Safe to call more than once.
func (c *Centrifugo) Stop() error {
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(daemonStopTimeout):
			_ = c.cmd.Process.Kill()
			<-c.done
			err = fmt.Errorf("%w: not stopped %s after SIGTERM, killed", ErrCentrifugo, daemonStopTimeout)
		}
		c.cmd = nil
	}
	c.http.CloseIdleConnections()
	c.cleanup()
	return err
}

func (c *Centrifugo) cleanup() {
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
		c.dir = ""
	}
}

// Output returns the last 64 KiB Centrifugo wrote.
func (c *Centrifugo) Output() string { return c.out.String() }

// freePort asks the kernel for a free TCP port of 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomHex is n random bytes, hex-encoded.
func randomHex(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return []byte(hex.EncodeToString(b))
}
