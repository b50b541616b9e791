package transport

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{
			name: "crlf",
			in:   "GET / HTTP/1.1\r\nHost: a\r\n\r\nrest",
			want: len("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
		},
		{
			name: "no headers",
			in:   "GET / HTTP/1.1\r\n\r\n",
			want: len("GET / HTTP/1.1\r\n\r\n"),
		},
		{
			name: "bare lf",
			in:   "GET / HTTP/1.1\nHost: a\n\nx",
			want: len("GET / HTTP/1.1\nHost: a\n\n"),
		},
		{
			name: "incomplete",
			in:   "GET / HTTP/1.1\r\nHost: a\r\n",
			want: -1,
		},
		{
			name: "leading empty lines",
			in:   "\r\n\r\nGET / HTTP/1.1\r\n\r\n",
			want: len("\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
		},
		{
			name: "only empty lines",
			in:   "\r\n\r\n",
			want: -1,
		},
		{
			name: "empty",
			in:   "",
			want: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headEnd([]byte(tt.in), 0); got != tt.want {
				t.Fatalf(
					"headEnd(%q) = %d, want %d",
					tt.in, got, tt.want)
			}
		})
	}
}

func TestParseRequestHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
		check   func(t *testing.T, h *requestHead)
	}{
		{
			name: "websocket upgrade",
			in: "GET /v2/realtime/stream?access_token=x&last_seq=3 HTTP/1.1\r\n" +
				"Host: example\r\n" +
				"upgrade:  WebSocket \r\n" +
				"Connection: keep-alive, Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
				"sec-websocket-version: 13\r\n" +
				"Origin: https://app.example\r\n" +
				"Authorization: Bearer abc\r\n" +
				"User-Agent: test/1\r\n\r\n",
			check: func(t *testing.T, h *requestHead) {
				if string(h.method) != "GET" || string(h.path()) != StreamPath {
					t.Errorf(
						"method %q path %q",
						h.method, h.path())
				}
				if string(h.rawQuery()) != "access_token=x&last_seq=3" {
					t.Errorf(
						"query %q",
						h.rawQuery())
				}
				if h.major != 1 || h.minor != 1 {
					t.Errorf(
						"version %d.%d",
						h.major, h.minor)
				}
				if !h.upgradeWebSocket || !h.upgradeExact || !h.connectionUpgrade {
					t.Errorf(
						"upgrade facts %+v",
						h)
				}
				if h.wsKeyBad || h.wsVersionBad || h.wsKeyCount != 1 || h.wsVersionCount != 1 {
					t.Errorf(
						"ws facts %+v",
						h)
				}
				if string(h.origin) != "https://app.example" || string(h.authorization) != "Bearer abc" ||
					string(h.userAgent) != "test/1" || h.hostCount != 1 {
					t.Errorf(
						"values %+v",
						h)
				}
			},
		},
		{
			name: "plain get",
			in:   "GET /healthz HTTP/1.0\r\n\r\n",
			check: func(t *testing.T, h *requestHead) {
				if h.upgradeWebSocket || h.upgradeCount != 0 || h.minor != 0 || h.rawQuery() != nil {
					t.Errorf(
						"facts %+v",
						h)
				}
			},
		},
		{
			name: "repeated headers accumulate",
			in: "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: upgrade\r\n" +
				"Upgrade: websocket\r\nUpgrade: h2c\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n\r\n",
			check: func(t *testing.T, h *requestHead) {
				if h.connectionUpgrade {
					t.Error("connectionUpgrade with a Connection header lacking upgrade")
				}
				if !h.upgradeWebSocket || h.upgradeExact {
					t.Errorf(
						"upgrade facts ws=%v exact=%v",
						h.upgradeWebSocket, h.upgradeExact)
				}
				if !h.wsVersionBad || h.wsVersionCount != 2 {
					t.Errorf(
						"version facts bad=%v count=%d",
						h.wsVersionBad, h.wsVersionCount)
				}
			},
		},
		{
			name: "bare lf and leading crlf",
			in:   "\r\nGET /x HTTP/1.1\nHost: a\n\n",
			check: func(t *testing.T, h *requestHead) {
				if h.hostCount != 1 || string(h.target) != "/x" {
					t.Errorf(
						"hosts %d target %q",
						h.hostCount, h.target)
				}
			},
		},
		{
			name: "eachHeader sees every line",
			in:   "GET / HTTP/1.1\r\nA: 1\r\nB:2\r\nA: 3\r\n\r\n",
			check: func(t *testing.T, h *requestHead) {
				var got []string
				h.eachHeader(func(k, v []byte) bool {
					got = append(got, string(k)+"="+string(v))
					return true
				})
				if strings.Join(got, ",") != "A=1,B=2,A=3" {
					t.Errorf(
						"headers %v",
						got)
				}
			},
		},
		{
			name:    "no version",
			in:      "GET /\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "bad version",
			in:      "GET / HTTP/1.x\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "space before colon",
			in:      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "folded line",
			in:      "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "no colon",
			in:      "GET / HTTP/1.1\r\nbogus\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "control char in value",
			in:      "GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "bad method",
			in:      "G(T / HTTP/1.1\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "double space",
			in:      "GET  / HTTP/1.1\r\n\r\n",
			wantErr: true,
		},
		{
			name:    "no empty line",
			in:      "GET / HTTP/1.1\r\nA: b\r\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseRequestHead([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf(
					"err = %v, wantErr %v",
					err, tt.wantErr)
			}
			if err == nil && tt.check != nil {
				tt.check(t, &h)
			}
		})
	}
}

func TestParseRequestHeadAllocs(t *testing.T) {
	in := []byte(upgradeRequest("/v2/realtime/stream?access_token=abc", "Origin: https://a", "User-Agent: x"))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := parseRequestHead(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("parseRequestHead allocates %v times", allocs)
	}
}

func TestReadHead(t *testing.T) {
	long := "X-Pad: " + strings.Repeat("a", 5000) + "\r\n"
	tests := []struct {
		name    string
		chunks  []string
		wantErr error
		head    string
		rest    string
	}{
		{
			name:   "one read with trailing bytes",
			chunks: []string{"GET / HTTP/1.1\r\nA: b\r\n\r\nFRAME"},
			head:   "GET / HTTP/1.1\r\nA: b\r\n\r\n",
			rest:   "FRAME",
		},
		{
			name:   "terminator split over reads",
			chunks: []string{"GET / HTTP/1.1\r\nA: b\r", "\n\r", "\n"},
			head:   "GET / HTTP/1.1\r\nA: b\r\n\r\n",
		},
		{
			name:   "grows past 4 KiB",
			chunks: []string{"GET / HTTP/1.1\r\n", long, "\r\n"},
			head:   "GET / HTTP/1.1\r\n" + long + "\r\n",
		},
		{
			name:    "too large",
			chunks:  []string{"GET / HTTP/1.1\r\n", long, long},
			wantErr: errHeadTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			defer server.Close()
			go func() {
				for _, c := range tt.chunks {
					if _, err := client.Write([]byte(c)); err != nil {
						return
					}
				}
			}()
			_ = server.SetDeadline(time.Now().Add(5 * time.Second))
			hb := newHeadBuf()
			defer hb.release()
			err := hb.readHead(server)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf(
						"err = %v, want %v",
						err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(hb.head()) != tt.head || string(hb.leftover()) != tt.rest {
				t.Fatalf(
					"head %q rest %q",
					hb.head(), hb.leftover())
			}
		})
	}
}

func FuzzParseRequestHead(f *testing.F) {
	f.Add([]byte(upgradeRequest("/v2/realtime/stream?access_token=a&last_seq=1")))
	f.Add([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("\r\nPOST /v2/realtime/orgs/a/events HTTP/1.1\nContent-Length: 2\n\n{}"))
	f.Add([]byte("GET / HTTP/1.1\r\nConnection: a, upgrade,\r\nUpgrade: websocket, x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		end := headEnd(in, 0)
		if end < 0 {
			end = len(in)
		}
		if end > len(in) {
			t.Fatalf(
				"headEnd %d past %d",
				end, len(in))
		}
		head := in[:end]
		h, err := parseRequestHead(head)
		if err != nil {
			return
		}
		if len(h.method) == 0 || len(h.target) == 0 {
			t.Fatalf(
				"empty method or target in %q",
				head)
		}
		for _, s := range [][]byte{h.method, h.target, h.headers, h.origin, h.authorization, h.userAgent} {
			if len(s) > 0 && !within(head, s) {
				t.Fatalf(
					"slice %q not within input",
					s)
			}
		}
		if !bytes.HasPrefix(h.target, h.path()) {
			t.Fatalf(
				"path %q not a prefix of %q",
				h.path(), h.target)
		}
		n := 0
		h.eachHeader(func(k, v []byte) bool {
			if len(k) == 0 {
				t.Fatalf(
					"empty header name in %q",
					head)
			}
			n++
			return true
		})
		if n < h.hostCount+h.upgradeCount+h.connectionCount {
			t.Fatalf(
				"eachHeader saw %d lines, fewer than recorded",
				n)
		}
		// Parsing is a pure function of the bytes.
		h2, err := parseRequestHead(head)
		if err != nil || string(h2.target) != string(h.target) || h2.upgradeWebSocket != h.upgradeWebSocket {
			t.Fatal("second parse differs")
		}
	})
}

// within reports whether s points into b.
func within(b, s []byte) bool {
	for i := range b {
		if &b[i] == &s[0] {
			return i+len(s) <= len(b)
		}
	}
	return false
}
