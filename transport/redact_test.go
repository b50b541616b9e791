package transport

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedactQuery(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "token redacted, rest kept",
			in:   "access_token=eyJ.abc.def&last_seq=4",
			want: "access_token=REDACTED&last_seq=4",
		},
		{
			name: "escaped name",
			in:   "access%5Ftoken=abc&epoch=e",
			want: "access%5Ftoken=REDACTED&epoch=e",
		},
		{
			name: "malformed escapes",
			in:   "x=%zz&access_token=%zz",
			want: "x=%zz&access_token=REDACTED",
		},
		{
			name: "other secret names",
			in:   "refresh_token=a&Token=b&password=c",
			want: "refresh_token=REDACTED&Token=REDACTED&password=REDACTED",
		},
		{
			name: "connect ticket",
			in:   "ticket=t-AAAAAAAAAAAAAAAAAAAAAA&last_seq=4",
			want: "ticket=REDACTED&last_seq=4",
		},
		{
			name: "no query",
			in:   "",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactQuery(tt.in); got != tt.want {
				t.Fatalf(
					"redactQuery(%q) = %q, want %q",
					tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	u, err := url.Parse("ws://user:pw@127.0.0.1:8080/v2/realtime/stream?access_token=SECRET&last_seq=1")
	if err != nil {
		t.Fatal(err)
	}
	got := redactURL(u)
	if strings.Contains(got, "SECRET") || strings.Contains(got, "pw") {
		t.Fatalf(
			"redactURL leaks: %s",
			got)
	}
	if !strings.Contains(got, "access_token=REDACTED") || !strings.Contains(got, "last_seq=1") {
		t.Fatalf(
			"redactURL = %s",
			got)
	}
	if u.RawQuery != "access_token=SECRET&last_seq=1" {
		t.Fatal("redactURL modified its argument")
	}
}

func TestRedactText(t *testing.T) {
	in := `http: bad request "GET /v2/realtime/stream?access_token=eyJhbGciOi.eyJzdWIi.sig" Authorization: Bearer abc123 token eyJa.eyJb.c GET /v2/realtime/sse?ticket=t-SECRETTICKET`
	got := redactText(in)
	for _, leak := range []string{"eyJhbGciOi", "abc123", "eyJa.eyJb", "SECRETTICKET"} {
		if strings.Contains(got, leak) {
			t.Fatalf(
				"redactText leaks %q: %s",
				leak, got)
		}
	}
}
