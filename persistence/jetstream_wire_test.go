package persistence

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  apiError
		want error // nil: neither sentinel
	}{
		{"wrong last sequence", apiError{Code: 400, ErrCode: 10071}, ErrConflict},
		{"wrong last sequence, replicated", apiError{Code: 400, ErrCode: 10164}, ErrConflict},
		{"duplicate in process", apiError{Code: 409, ErrCode: 10158}, ErrConflict},
		{"no leader", apiError{Code: 503, ErrCode: 10008}, ErrUnavailable},
		{"batch incomplete", apiError{Code: 400, ErrCode: 10176}, ErrUnavailable},
		{"too many batches", apiError{Code: 429, ErrCode: 10210}, ErrUnavailable},
		{"message too large", apiError{Code: 400, ErrCode: 10054}, ErrTooLarge},
		{"headers too large", apiError{Code: 400, ErrCode: 10097}, ErrTooLarge},
		{"storage full", apiError{Code: 503, ErrCode: 10077}, ErrUnavailable},
		{"stream sealed", apiError{Code: 400, ErrCode: 10109}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify("append", &tc.err)
			for _, s := range []error{ErrConflict, ErrUnavailable, ErrTooLarge} {
				if errors.Is(err, s) != (s == tc.want) {
					t.Fatalf("classify = %v, want %v", err, tc.want)
				}
			}
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("%v does not wrap the API error", err)
			}
		})
	}
}

// A failed NATS request is sorted by whether it may have reached the
// server: only then does a timeout leave the outcome unknown.
func TestTransportErr(t *testing.T) {
	for _, tc := range []struct {
		err    error
		append bool  // appendErr, else transportErr
		want   error // the most specific sentinel; nil: none
	}{
		{nats.ErrTimeout, true, ErrOutcomeUnknown},
		{context.DeadlineExceeded, true, ErrOutcomeUnknown},
		{context.Canceled, true, ErrOutcomeUnknown},
		{nats.ErrTimeout, false, ErrUnavailable},
		{nats.ErrNoResponders, true, ErrUnavailable},
		{nats.ErrConnectionClosed, true, ErrUnavailable},
		{nats.ErrMaxPayload, true, ErrTooLarge},
		{nats.ErrMaxPayload, false, ErrTooLarge},
		{nats.ErrBadSubject, true, nil},
	} {
		err := transportErr("x", tc.err)
		if tc.append {
			err = appendErr("x", tc.err)
		}
		for _, s := range []error{ErrUnavailable, ErrOutcomeUnknown, ErrTooLarge, ErrConflict} {
			want := s == tc.want || (s == ErrUnavailable && tc.want == ErrOutcomeUnknown)
			if errors.Is(err, s) != want {
				t.Errorf("append %v, %v = %v: is %v = %v", tc.append, tc.err, err, s, !want)
			}
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v does not wrap %v", err, tc.err)
		}
	}
}

// The stored form of an event decodes back to the same event; the same
// table seeds the fuzz test.
var eventCases = []messages.Event{
	{Seq: 1, Topic: "orders.updated", Time: time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC), Data: []byte(`{"a":1}`)},
	{Seq: 18446744073709551615, Topic: "t", ID: "id with spaces and ünïcode ✓", Time: time.Unix(0, 0).UTC(), Data: []byte(`null`)},
	{Seq: 42, Topic: strings.Repeat("x", messages.MaxTopicLen), ID: strings.Repeat("k", messages.MaxIDLen), Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Data: []byte(`"s"`)},
}

func TestEventRoundTrip(t *testing.T) {
	for _, want := range eventCases {
		got, _, err := eventOf(eventMsg(EventsPrefix+"acme", "acme", &want))
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != want.Seq || got.Topic != want.Topic || got.ID != want.ID || !got.Time.Equal(want.Time) || string(got.Data) != string(want.Data) {
			t.Fatalf("round trip %+v → %+v", want, got)
		}
	}
	for _, bad := range []nats.Header{
		{},
		{HeaderSeq: {"0"}, HeaderTime: {"2026-11-28T10:00:00Z"}},
		{HeaderSeq: {"x"}, HeaderTime: {"2026-11-28T10:00:00Z"}},
		{HeaderSeq: {"3"}, HeaderTime: {"yesterday"}},
	} {
		if _, _, err := eventOf(&nats.Msg{Subject: "s", Header: bad}); err == nil {
			t.Errorf("eventOf(%v) accepted", bad)
		}
	}
}

// FuzzEventOf: decoding any headers never panics, and whatever decodes
// re-encodes to the same event.
func FuzzEventOf(f *testing.F) {
	for _, ev := range eventCases {
		m := eventMsg(EventsPrefix+"acme", "acme", &ev)
		f.Add(m.Header.Get(HeaderSeq), m.Header.Get(HeaderTopic), m.Header.Get(HeaderID), m.Header.Get(HeaderTime), string(m.Data))
	}
	f.Add("-1", "", "", "", "")
	f.Fuzz(func(t *testing.T, seq, topic, id, ts, data string) {
		m := &nats.Msg{Subject: "s", Data: []byte(data), Header: nats.Header{
			HeaderSeq: {seq}, HeaderTopic: {topic}, HeaderID: {id}, HeaderTime: {ts},
		}}
		ev, _, err := eventOf(m)
		if err != nil {
			return
		}
		if ev.Seq == 0 || ev.Time.Location() != time.UTC {
			t.Fatalf("decoded %+v", ev)
		}
		if !utf8.ValidString(id) {
			return
		}
		again, _, err := eventOf(eventMsg(EventsPrefix+"acme", "acme", &ev))
		if err != nil || again.Seq != ev.Seq || again.Topic != ev.Topic || again.ID != ev.ID || !again.Time.Equal(ev.Time) {
			t.Fatalf("re-encoded %+v → %+v, %v", ev, again, err)
		}
	})
}
