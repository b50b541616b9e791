package transport

import (
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/orgstream/orgstream/messages"
)

func TestParseStreamQuery(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    streamQuery
		wantErr error
	}{
		{
			name: "empty",
			raw:  "",
			want: streamQuery{},
		},
		{
			name: "token only",
			raw:  "access_token=abc.def.ghi",
			want: streamQuery{Token: "abc.def.ghi"},
		},
		{
			name: "resume",
			raw:  "access_token=t&last_seq=42&epoch=e-41a",
			want: streamQuery{Token: "t", HasSeq: true, LastSeq: 42, Epoch: "e-41a"},
		},
		{
			name: "last_seq zero",
			raw:  "last_seq=0",
			want: streamQuery{HasSeq: true},
		},
		{
			name: "last_seq max uint64",
			raw:  "last_seq=18446744073709551615",
			want: streamQuery{HasSeq: true, LastSeq: 18446744073709551615},
		},
		{
			name: "escaped values",
			raw:  "epoch=e%2D1&last%5Fseq=%37",
			want: streamQuery{HasSeq: true, LastSeq: 7, Epoch: "e-1"},
		},
		{
			name: "unknown params ignored, even malformed",
			raw:  "foo=bar&x=%zz&&last_seq=1&%zz=1",
			want: streamQuery{HasSeq: true, LastSeq: 1},
		},
		{
			name:    "last_seq negative",
			raw:     "last_seq=-1",
			wantErr: errQueryLastSeq,
		},
		{
			name:    "last_seq plus sign",
			raw:     "last_seq=%2B1",
			wantErr: errQueryLastSeq,
		},
		{
			name:    "last_seq not a number",
			raw:     "last_seq=abc",
			wantErr: errQueryLastSeq,
		},
		{
			name:    "last_seq float",
			raw:     "last_seq=1.5",
			wantErr: errQueryLastSeq,
		},
		{
			name:    "last_seq overflows",
			raw:     "last_seq=18446744073709551616",
			wantErr: errQueryLastSeq,
		},
		{
			name:    "last_seq hex",
			raw:     "last_seq=0x10",
			wantErr: errQueryLastSeq,
		},
		{
			name:    "last_seq space",
			raw:     "last_seq=+1",
			wantErr: errQueryLastSeq,
		},
		{
			name:    "last_seq empty",
			raw:     "last_seq=",
			wantErr: errQueryEmpty,
		},
		{
			name:    "last_seq without value",
			raw:     "last_seq",
			wantErr: errQueryEmpty,
		},
		{
			name:    "duplicate last_seq",
			raw:     "last_seq=1&last_seq=2",
			wantErr: errQueryDuplicate,
		},
		{
			name:    "duplicate token",
			raw:     "access_token=a&access_token=a",
			wantErr: errQueryDuplicate,
		},
		{
			name:    "empty token",
			raw:     "access_token=",
			wantErr: errQueryEmpty,
		},
		{
			name:    "empty epoch",
			raw:     "last_seq=1&epoch=",
			wantErr: errQueryEmpty,
		},
		{
			name:    "bad escape in known value",
			raw:     "epoch=%zz",
			wantErr: errQueryEscape,
		},
		{
			name: "topics",
			raw:  "topics=orders.*,billing.%3E&last_seq=3",
			want: streamQuery{HasSeq: true, LastSeq: 3, Topics: []string{"orders.*", "billing.>"}},
		},
		{
			name: "topics one",
			raw:  "topics=a",
			want: streamQuery{Topics: []string{"a"}},
		},
		{
			name:    "topics empty",
			raw:     "topics=",
			wantErr: errQueryEmpty,
		},
		{
			name:    "topics empty item",
			raw:     "topics=a,,b",
			wantErr: errQueryTopics,
		},
		{
			name:    "topics trailing comma",
			raw:     "topics=a,",
			wantErr: errQueryTopics,
		},
		{
			name:    "topics bad pattern",
			raw:     "topics=a.b*",
			wantErr: errQueryTopics,
		},
		{
			name:    "topics too many",
			raw:     "topics=" + strings.Repeat("a,", 64) + "a",
			wantErr: errQueryTopics,
		},
		{
			name:    "topics twice",
			raw:     "topics=a&topics=b",
			wantErr: errQueryDuplicate,
		},
		{
			name: "client name and version",
			raw:  "client=orgstream-go%2F0.1.0&last_seq=3",
			want: streamQuery{HasSeq: true, LastSeq: 3, Client: "orgstream-go/0.1.0"},
		},
		{
			name:    "client with a space",
			raw:     "client=my+client",
			wantErr: errQueryClient,
		},
		{
			name:    "client too long",
			raw:     "client=" + strings.Repeat("a", maxClientLen+1),
			wantErr: errQueryClient,
		},
		{
			name:    "client with a quote",
			raw:     "client=a%22b",
			wantErr: errQueryClient,
		},
		{
			name: "presence true",
			raw:  "presence=true&last_seq=1",
			want: streamQuery{HasSeq: true, LastSeq: 1, Presence: true},
		},
		{
			name: "presence false",
			raw:  "presence=false",
			want: streamQuery{},
		},
		{
			name:    "presence not a boolean",
			raw:     "presence=1",
			wantErr: errQueryPresence,
		},
		{
			name:    "presence in capitals",
			raw:     "presence=TRUE",
			wantErr: errQueryPresence,
		},
		{
			name:    "presence empty",
			raw:     "presence=",
			wantErr: errQueryEmpty,
		},
		{
			name:    "duplicate presence",
			raw:     "presence=true&presence=true",
			wantErr: errQueryDuplicate,
		},
		{
			name: "ticket",
			raw:  "ticket=t-AAAAAAAAAAAAAAAAAAAAAA&last_seq=2",
			want: streamQuery{Ticket: "t-AAAAAAAAAAAAAAAAAAAAAA", HasSeq: true, LastSeq: 2},
		},
		{
			name:    "ticket twice",
			raw:     "ticket=a&ticket=b",
			wantErr: errQueryDuplicate,
		},
		{
			name:    "ticket empty",
			raw:     "ticket=",
			wantErr: errQueryEmpty,
		},
		{
			name:    "epoch too long",
			raw:     "epoch=" + strings.Repeat("e", maxEpochLen+1),
			wantErr: errQueryEpoch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStreamQuery(tt.raw)
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
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf(
					"got %+v, want %+v",
					got, tt.want)
			}
		})
	}
}

func TestParseStreamQueryErrorHasNoValue(t *testing.T) {
	_, err := parseStreamQuery("access_token=SECRETVALUE&access_token=SECRETVALUE")
	if err == nil || strings.Contains(err.Error(), "SECRETVALUE") {
		t.Fatalf(
			"err %v must exist and not quote the value",
			err)
	}
}

func FuzzParseStreamQuery(f *testing.F) {
	f.Add("access_token=t&last_seq=42&epoch=e-41a")
	f.Add("last_seq=18446744073709551616")
	f.Add("x=%zz&&last_seq=%31")
	f.Add("epoch=a+b&access_token=%41")
	f.Add("topics=a.*,b.%3E")
	f.Add("presence=true&presence=%74rue")
	f.Add("client=orgstream-js%2F0.1.0")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseStreamQuery(raw)
		if err != nil {
			return
		}
		if !q.HasSeq && q.LastSeq != 0 {
			t.Fatal("LastSeq set without last_seq")
		}
		if len(q.Epoch) > maxEpochLen {
			t.Fatal("epoch too long accepted")
		}
		// Re-encoding what was understood parses back to the same value.
		v := url.Values{}
		if q.Token != "" {
			v.Set("access_token", q.Token)
		}
		if q.HasSeq {
			v.Set("last_seq", strconv.FormatUint(q.LastSeq, 10))
		}
		if q.Epoch != "" {
			v.Set("epoch", q.Epoch)
		}
		if q.Topics != nil {
			if messages.ParsePatterns(q.Topics) != nil {
				t.Fatalf("invalid topics accepted: %q", q.Topics)
			}
			v.Set("topics", strings.Join(q.Topics, ","))
		}
		if q.Presence {
			v.Set("presence", "true")
		}
		if q.Client != "" {
			if !validClient(q.Client) {
				t.Fatalf("invalid client accepted: %q", q.Client)
			}
			v.Set("client", q.Client)
		}
		q2, err := parseStreamQuery(v.Encode())
		if err != nil {
			t.Fatalf(
				"re-encoded %q: %v",
				v.Encode(), err)
		}
		if !reflect.DeepEqual(q2, q) {
			t.Fatalf(
				"round trip %+v != %+v",
				q2, q)
		}
	})
}
