package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"jwt-secret":           "ORGSTREAM_JWT_SECRET",
		"listen":               "ORGSTREAM_LISTEN",
		"retention-max-events": "ORGSTREAM_RETENTION_MAX_EVENTS",
	} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// TestServeFlags checks flag/env resolution through the node.Config that
// serve builds (without starting a node).
func TestServeFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, o *serveOptions)
	}{
		{name: "defaults", check: func(t *testing.T, o *serveOptions) {
			cfg := o.config(nil, nil)
			eq(t, "Listen", cfg.Listen, "127.0.0.1:8080")
			eq(t, "DataDir", cfg.DataDir, "./data")
			eq(t, "Retention", cfg.Retention, 5*time.Minute)
			eq(t, "RetentionMaxEvents", cfg.RetentionMaxEvents, int64(100000))
			eq(t, "NATSURL", cfg.NATSURL, "")
			eq(t, "NATSListen", cfg.NATSListen, "127.0.0.1:4222")
			eq(t, "AllowedOrigins", cfg.AllowedOrigins, []string{"*"})
			eq(t, "MaxConnsPerUser", cfg.MaxConnsPerUser, 100)
			eq(t, "MaxConnsPerOrg", cfg.MaxConnsPerOrg, 0)
			eq(t, "ClusterListen", cfg.ClusterListen, "")
			eq(t, "Routes", len(cfg.Routes), 0)
			eq(t, "Replicas", cfg.Replicas, 1)
			eq(t, "PingInterval", cfg.PingInterval, 25*time.Second)
			eq(t, "DrainPeriod", cfg.DrainPeriod, 5*time.Second)
			eq(t, "MaxQueueBytes", cfg.MaxQueueBytes, 4<<20)
			eq(t, "WindowBytes", cfg.WindowBytes, 64<<20)
			eq(t, "SyncAlways", cfg.SyncAlways, false)
			eq(t, "Dev", cfg.Dev, false)
			eq(t, "NoPresence", cfg.NoPresence, false)
			eq(t, "logLevel", o.logLevel, "info")
			eq(t, "logFormat", o.logFormat, "auto")
			eq(t, "jwtSecret", o.secret.jwtSecret, "")
			eq(t, "JWTPublicKeyFile", cfg.JWTPublicKeyFile, "")
			eq(t, "JWKSURL", cfg.JWKSURL, "")
			eq(t, "JWTIssuer", cfg.JWTIssuer, "")
			eq(t, "JWTAudience", cfg.JWTAudience, "")
		}},
		{name: "env fallback", env: map[string]string{
			"ORGSTREAM_LISTEN":               "127.0.0.1:0",
			"ORGSTREAM_DATA_DIR":             "/tmp/x",
			"ORGSTREAM_JWT_SECRET":           "s3cret",
			"ORGSTREAM_JWT_PUBLIC_KEY":       "/etc/orgstream/idp.pem",
			"ORGSTREAM_JWKS_URL":             "https://idp.example.com/jwks",
			"ORGSTREAM_JWT_ISSUER":           "https://idp.example.com/",
			"ORGSTREAM_JWT_AUDIENCE":         "orgstream",
			"ORGSTREAM_RETENTION":            "90s",
			"ORGSTREAM_RETENTION_MAX_EVENTS": "42",
			"ORGSTREAM_NATS_URL":             "nats://127.0.0.1:1,nats://127.0.0.1:2",
			"ORGSTREAM_NATS_LISTEN":          "off",
			"ORGSTREAM_ALLOWED_ORIGINS":      "https://a.example, https://b.example,",
			"ORGSTREAM_MAX_CONNS_PER_USER":   "0",
			"ORGSTREAM_MAX_CONNS_PER_ORG":    "7",
			"ORGSTREAM_NODE_NAME":            "n1",
			"ORGSTREAM_CLUSTER_LISTEN":       "127.0.0.1:6222",
			"ORGSTREAM_ROUTES":               "nats://127.0.0.1:6223,nats://127.0.0.1:6224",
			"ORGSTREAM_REPLICAS":             "3",
			"ORGSTREAM_PARTITIONS":           "5",
			"ORGSTREAM_PING_INTERVAL":        "1s",
			"ORGSTREAM_DRAIN_PERIOD":         "250ms",
			"ORGSTREAM_MAX_QUEUE_BYTES":      "2MiB",
			"ORGSTREAM_WINDOW_BYTES":         "8MiB",
			"ORGSTREAM_SYNC_ALWAYS":          "true",
			"ORGSTREAM_DEV":                  "true",
			"ORGSTREAM_LOG_LEVEL":            "debug",
			"ORGSTREAM_LOG_FORMAT":           "json",
		}, check: func(t *testing.T, o *serveOptions) {
			cfg := o.config(nil, nil)
			eq(t, "Listen", cfg.Listen, "127.0.0.1:0")
			eq(t, "DataDir", cfg.DataDir, "/tmp/x")
			eq(t, "jwtSecret", o.secret.jwtSecret, "s3cret")
			eq(t, "JWTPublicKeyFile", cfg.JWTPublicKeyFile, "/etc/orgstream/idp.pem")
			eq(t, "JWKSURL", cfg.JWKSURL, "https://idp.example.com/jwks")
			eq(t, "JWTIssuer", cfg.JWTIssuer, "https://idp.example.com/")
			eq(t, "JWTAudience", cfg.JWTAudience, "orgstream")
			eq(t, "Retention", cfg.Retention, 90*time.Second)
			eq(t, "RetentionMaxEvents", cfg.RetentionMaxEvents, int64(42))
			eq(t, "NATSURL", cfg.NATSURL, "nats://127.0.0.1:1,nats://127.0.0.1:2")
			eq(t, "NATSListen", cfg.NATSListen, "off")
			eq(t, "AllowedOrigins", cfg.AllowedOrigins, []string{"https://a.example", "https://b.example"})
			eq(t, "MaxConnsPerUser", cfg.MaxConnsPerUser, 0)
			eq(t, "MaxConnsPerOrg", cfg.MaxConnsPerOrg, 7)
			eq(t, "NodeName", cfg.NodeName, "n1")
			eq(t, "ClusterListen", cfg.ClusterListen, "127.0.0.1:6222")
			eq(t, "Routes", cfg.Routes, []string{"nats://127.0.0.1:6223", "nats://127.0.0.1:6224"})
			eq(t, "Replicas", cfg.Replicas, 3)
			eq(t, "Partitions", cfg.Partitions, 5)
			eq(t, "PingInterval", cfg.PingInterval, time.Second)
			eq(t, "DrainPeriod", cfg.DrainPeriod, 250*time.Millisecond)
			eq(t, "MaxQueueBytes", cfg.MaxQueueBytes, 2<<20)
			eq(t, "WindowBytes", cfg.WindowBytes, 8<<20)
			eq(t, "SyncAlways", cfg.SyncAlways, true)
			eq(t, "Dev", cfg.Dev, true)
			eq(t, "logLevel", o.logLevel, "debug")
			eq(t, "logFormat", o.logFormat, "json")
		}},
		{name: "flag wins over env",
			args: []string{"--listen", "127.0.0.1:9999", "--retention=1m", "--allowed-origins", "https://c.example", "--sync-always=false", "--max-queue-bytes", "4096"},
			env: map[string]string{
				"ORGSTREAM_LISTEN":          "127.0.0.1:0",
				"ORGSTREAM_RETENTION":       "90s",
				"ORGSTREAM_ALLOWED_ORIGINS": "https://a.example",
				"ORGSTREAM_SYNC_ALWAYS":     "true",
				"ORGSTREAM_MAX_QUEUE_BYTES": "1MiB",
			},
			check: func(t *testing.T, o *serveOptions) {
				eq(t, "listen", o.listen, "127.0.0.1:9999")
				eq(t, "retention", o.retention, time.Minute)
				eq(t, "allowedOrigins", o.allowedOrigins, []string{"https://c.example"})
				eq(t, "syncAlways", o.syncAlways, false)
				eq(t, "maxQueueBytes", o.maxQueueBytes, 4096)
			}},
		{name: "bare bool flag", args: []string{"--sync-always"}, check: func(t *testing.T, o *serveOptions) {
			eq(t, "syncAlways", o.syncAlways, true)
		}},
		{name: "presence off by env", env: map[string]string{"ORGSTREAM_PRESENCE": "false"}, check: func(t *testing.T, o *serveOptions) {
			eq(t, "NoPresence", o.config(nil, nil).NoPresence, true)
		}},
		{name: "presence flag wins", args: []string{"--presence=true"}, env: map[string]string{"ORGSTREAM_PRESENCE": "false"}, check: func(t *testing.T, o *serveOptions) {
			eq(t, "NoPresence", o.config(nil, nil).NoPresence, false)
		}},
		{name: "dev flag", args: []string{"--dev"}, env: map[string]string{"ORGSTREAM_DEV": "false"}, check: func(t *testing.T, o *serveOptions) {
			eq(t, "Dev", o.config(nil, nil).Dev, true)
		}},
		{name: "single dash and equals", args: []string{"-replicas=3", "-nats-listen", "127.0.0.1:0"}, check: func(t *testing.T, o *serveOptions) {
			eq(t, "replicas", o.replicas, 3)
			eq(t, "natsListen", o.natsListen, "127.0.0.1:0")
		}},
		{name: "empty env is unset", env: map[string]string{"ORGSTREAM_LISTEN": ""}, check: func(t *testing.T, o *serveOptions) {
			eq(t, "listen", o.listen, "127.0.0.1:8080")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o serveOptions
			if err := newServeFlags(&o).parse(tt.args, envOf(tt.env)); err != nil {
				t.Fatal(err)
			}
			tt.check(t, &o)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--nope"}, nil, "orgstream serve: unknown flag --nope (see orgstream serve --help)"},
		{"bad env names the variable", nil, map[string]string{"ORGSTREAM_PING_INTERVAL": "often"},
			`orgstream serve: invalid value "often" in ORGSTREAM_PING_INTERVAL: time: invalid duration "often"`},
		{"bad env nats-listen", nil, map[string]string{"ORGSTREAM_NATS_LISTEN": "4222"},
			`orgstream serve: invalid value "4222" in ORGSTREAM_NATS_LISTEN: want host:port: address 4222: missing port in address`},
		{"bad route", []string{"--routes", "nats://127.0.0.1:1,127.0.0.1"}, nil, "--routes"},
		{"bad log format", []string{"--log-format", "xml"}, nil, `want json, console or auto, got "xml"`},
		{"partitions 0", []string{"--partitions", "0"}, nil, `orgstream serve: invalid value "0" for --partitions: must be in 1..64`},
		{"partitions 65", []string{"--partitions=65"}, nil, `orgstream serve: invalid value "65" for --partitions: must be in 1..64`},
		{"partitions not a number", nil, map[string]string{"ORGSTREAM_PARTITIONS": "twelve"}, `ORGSTREAM_PARTITIONS`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newServeFlags(&serveOptions{}).parse(tt.args, envOf(tt.env))
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(ue.msg, tt.want) {
				t.Errorf("err = %q, want it to contain %q", ue.msg, tt.want)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  bool
	}{
		{"1048576", 1 << 20, false},
		{"1MiB", 1 << 20, false},
		{"512KiB", 512 << 10, false},
		{"2GiB", 2 << 30, false},
		{"1MB", 1000000, false},
		{"64KB", 64000, false},
		{"100B", 100, false},
		{" 3 MiB ", 3 << 20, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"1.5MiB", 0, true},
		{"-1", 0, true},
		{"1TiB", 0, true},
		{"99999999999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil {
			if back, err := parseBytes(formatBytes(got)); err != nil || back != got {
				t.Errorf("round trip of %d via %q = %d, %v", got, formatBytes(got), back, err)
			}
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"1", "1MiB", "512KiB", "2GB", "B", "-3KB", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseBytes(%q) = %d < 0", s, n)
		}
		if back, err := parseBytes(formatBytes(n)); err != nil || back != n {
			t.Fatalf("round trip of %d via %q = %d, %v", n, formatBytes(n), back, err)
		}
	})
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute:         "5m",
		time.Hour:               "1h",
		25 * time.Second:        "25s",
		90 * time.Minute:        "1h30m",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v", formatDuration(d), back, err)
		}
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":          nil,
		"*":         {"*"},
		"a,b":       {"a", "b"},
		" a , ,b, ": {"a", "b"},
		",,":        nil,
	} {
		if got := splitList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// given tells a flag set on the command line or by its env var from one left
// at its default (serve lets the default --nats-listen fall back to a free
// port when 4222 is taken, never an address the user chose).
func TestFlagGiven(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want bool
	}{
		{name: "default", want: false},
		{name: "flag", args: []string{"--nats-listen", "127.0.0.1:4222"}, want: true},
		{name: "env", env: map[string]string{"ORGSTREAM_NATS_LISTEN": "127.0.0.1:4300"}, want: true},
		{name: "other flag", args: []string{"--listen", "127.0.0.1:0"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o serveOptions
			f := newServeFlags(&o)
			if err := f.parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if got := f.given("nats-listen"); got != tt.want {
				t.Fatalf("given(nats-listen) = %v, want %v", got, tt.want)
			}
		})
	}
}
