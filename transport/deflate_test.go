package transport

import (
	"bytes"
	"testing"

	"github.com/gobwas/httphead"
)

func TestDeflateNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		offers string
		want   string // the accepted option as written, "" for declined
	}{
		{
			name:   "bare offer",
			offers: "permessage-deflate",
			want:   "permessage-deflate;server_no_context_takeover",
		},
		{
			name:   "browser offer",
			offers: "permessage-deflate; client_max_window_bits",
			want:   "permessage-deflate;server_no_context_takeover",
		},
		{
			name:   "client no context takeover echoed",
			offers: "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
			want:   "permessage-deflate;server_no_context_takeover;client_no_context_takeover",
		},
		{
			name:   "server window 15 accepted",
			offers: "permessage-deflate; server_max_window_bits=15",
			want:   "permessage-deflate;server_no_context_takeover;server_max_window_bits=15",
		},
		{
			name:   "smaller server window declined, fallback accepted",
			offers: "permessage-deflate; server_max_window_bits=10, permessage-deflate",
			want:   "permessage-deflate;server_no_context_takeover",
		},
		{
			name:   "smaller server window only",
			offers: "permessage-deflate; server_max_window_bits=10",
			want:   "",
		},
		{
			name:   "unknown parameter declined",
			offers: "permessage-deflate; foo=1",
			want:   "",
		},
		{
			name:   "other extension ignored",
			offers: "x-webkit-deflate-frame",
			want:   "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, ok := httphead.ParseOptions([]byte(tt.offers), nil)
			if !ok {
				t.Fatalf(
					"bad offers %q",
					tt.offers)
			}
			var n deflateNegotiator
			var accepted []httphead.Option
			for _, o := range opts {
				got, err := n.negotiate(o)
				if err != nil {
					t.Fatal(err)
				}
				if got.Size() > 0 {
					accepted = append(accepted, got)
				}
			}
			var buf bytes.Buffer
			if len(accepted) > 0 {
				httphead.WriteOptions(&buf, accepted)
			}
			if buf.String() != tt.want {
				t.Fatalf(
					"accepted %q, want %q",
					buf.String(), tt.want)
			}
			if n.accepted != (tt.want != "") {
				t.Fatalf(
					"accepted flag %v",
					n.accepted)
			}
		})
	}
}
