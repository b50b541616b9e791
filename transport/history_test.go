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

func TestParseHistoryQuery(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want historyQuery
		err  error
	}{
		{"after=0", historyQuery{limit: messages.DefaultHistoryLimit}, nil},
		{"after=7&limit=1000&topics=a.*,b&access_token=tok&x=%zz", historyQuery{token: "tok", after: 7, limit: 1000, topics: []string{"a.*", "b"}}, nil},
		{"after=18446744073709551615&limit=1", historyQuery{after: 18446744073709551615, limit: 1}, nil},
		{"", historyQuery{}, errHistoryAfter},
		{"limit=3", historyQuery{}, errHistoryAfter},
		{"after=-1", historyQuery{}, errHistoryAfter},
		{"after=1.5", historyQuery{}, errHistoryAfter},
		{"after=", historyQuery{}, errQueryEmpty},
		{"after=1&after=2", historyQuery{}, errQueryDuplicate},
		{"after=1&limit=0", historyQuery{}, errHistoryLimit},
		{"after=1&limit=1001", historyQuery{}, errHistoryLimit},
		{"after=1&limit=x", historyQuery{}, errHistoryLimit},
		{"after=1&topics=a,", historyQuery{}, errQueryTopics},
		{"after=%zz", historyQuery{}, errQueryEscape},
	} {
		got, err := parseHistoryQuery(tc.raw)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: err %v, want %v", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
	if _, err := parseHistoryQuery("after=1&access_token=SECRET&access_token=SECRET"); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("err %v must exist and not quote the value", err)
	}
}

func FuzzParseHistoryQuery(f *testing.F) {
	f.Add("after=7&limit=10&topics=a.*,b.%3E")
	f.Add("after=x&limit=0")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseHistoryQuery(raw)
		if err != nil {
			return
		}
		if q.limit < 1 || q.limit > messages.MaxHistoryLimit {
			t.Fatalf("limit %d accepted", q.limit)
		}
		if q.topics != nil && messages.ParsePatterns(q.topics) != nil {
			t.Fatalf("topics %q accepted", q.topics)
		}
		v := url.Values{"after": {strconv.FormatUint(q.after, 10)}, "limit": {strconv.Itoa(q.limit)}}
		if q.token != "" {
			v.Set("access_token", q.token)
		}
		if q.topics != nil {
			v.Set("topics", strings.Join(q.topics, ","))
		}
		q2, err := parseHistoryQuery(v.Encode())
		if err != nil || !reflect.DeepEqual(q2, q) {
			t.Fatalf("round trip of %+v: %+v, %v", q, q2, err)
		}
	})
}
