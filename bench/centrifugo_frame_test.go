package bench

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCentMsg(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want CentMsg
		err  bool
	}{
		{"publication fast", `{"push":{"channel":"org1","pub":{"data":{"t":1733600000123456789,"pad":"xx"}}}}`,
			CentMsg{Kind: CentPub, Sent: 1733600000123456789}, false},
		{"publication with offset", `{"push":{"channel":"org1","pub":{"data":{"t":42,"pad":""},"offset":7}}}`,
			CentMsg{Kind: CentPub, Sent: 42}, false},
		{"escaped quote in channel", `{"push":{"channel":"a\"b","pub":{"data":{"t":5}}}}`,
			CentMsg{Kind: CentPub, Sent: 5}, false},
		{"publication other layout", `{"push":{"pub":{"data":{"t":9}},"channel":"org1"}}`,
			CentMsg{Kind: CentPub, Sent: 9}, false},
		{"publication without t", `{"push":{"channel":"org1","pub":{"data":{"x":1}}}}`,
			CentMsg{Kind: CentPub}, false},
		{"publication, data not an object", `{"push":{"channel":"org1","pub":{"data":"hi"}}}`,
			CentMsg{Kind: CentPub}, false},
		{"ping", `{}`, CentMsg{Kind: CentPing}, false},
		{"connect reply", `{"id":1,"connect":{"client":"c","version":"6.9.1","subs":{"org1":{}},"ping":25,"pong":true}}`,
			CentMsg{Kind: CentReply, ID: 1}, false},
		{"error reply", `{"id":1,"error":{"code":109,"message":"token expired"}}`,
			CentMsg{Kind: CentReply, ID: 1, Code: 109, Reason: "token expired"}, false},
		{"disconnect", `{"push":{"disconnect":{"code":3008,"reason":"slow"}}}`,
			CentMsg{Kind: CentDisconnect, Code: 3008, Reason: "slow"}, false},
		{"join push", `{"push":{"channel":"org1","join":{"info":{"user":"u"}}}}`, CentMsg{Kind: CentOther}, false},
		{"t too long", `{"push":{"channel":"o","pub":{"data":{"t":12345678901234567890}}}}`, CentMsg{Kind: CentPub}, false},
		{"not JSON", `{"push":`, CentMsg{}, true},
		{"empty", ``, CentMsg{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseCentMsg([]byte(c.in))
			if (err != nil) != c.err {
				t.Fatalf("err = %v, want error %v", err, c.err)
			}
			if err != nil && !errors.Is(err, ErrCentrifugoFrame) {
				t.Errorf("err = %v, want ErrCentrifugoFrame", err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestEachCentMsg(t *testing.T) {
	in := `{"push":{"channel":"o","pub":{"data":{"t":1}}}}` + "\n" + `{}` + "\n\n" + `{"push":{"channel":"o","pub":{"data":{"t":2}}}}`
	var got []CentMsg
	if err := EachCentMsg([]byte(in), func(m CentMsg) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []CentMsg{{Kind: CentPub, Sent: 1}, {Kind: CentPing}, {Kind: CentPub, Sent: 2}}
	if len(got) != len(want) {
		t.Fatalf("got %d messages %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	stop := errors.New("stop")
	n := 0
	err := EachCentMsg([]byte(in), func(CentMsg) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: err %v after %d calls, want stop after 1", err, n)
	}
	if err := EachCentMsg([]byte("{}\n{bad"), func(CentMsg) error { return nil }); !errors.Is(err, ErrCentrifugoFrame) {
		t.Errorf("bad second line: err %v", err)
	}
}

// TestParseCentPubFastNoAlloc keeps the per-publication path free of
// allocations.
func TestParseCentPubFastNoAlloc(t *testing.T) {
	b := []byte(`{"push":{"channel":"org1","pub":{"data":{"t":1733600000123456789,"pad":"` + strings.Repeat("x", 200) + `"}}}}`)
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseCentMsg(b) }); n != 0 {
		t.Errorf("%v allocations per publication, want 0", n)
	}
}

// FuzzParseCentMsg checks that the fast path agrees with encoding/json on
// every input it accepts, and that nothing panics.
func FuzzParseCentMsg(f *testing.F) {
	for _, s := range []string{
		`{"push":{"channel":"org1","pub":{"data":{"t":1733600000123456789,"pad":"xx"}}}}`,
		`{"push":{"channel":"a\"b","pub":{"data":{"t":5}}}}`,
		`{"push":{"channel":"o","pub":{"data":{"t":5,"x":{"t":6}}}}}`,
		`{}`, `{"id":1,"connect":{}}`, `{"push":{"disconnect":{"code":3008,"reason":"slow"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseCentMsg(b)
		_ = EachCentMsg(b, func(CentMsg) error { return nil })
		if fast, ok := parseCentPubFast(b); ok {
			slow, serr := parseCentMsgJSON(b)
			if serr == nil && slow != fast {
				t.Fatalf("%q: fast %+v, json %+v", b, fast, slow)
			}
		}
		if err == nil && m.Kind > CentDisconnect {
			t.Fatalf("%q: kind %d", b, m.Kind)
		}
	})
}
