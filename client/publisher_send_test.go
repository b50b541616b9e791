package client

import (
	"testing"
)

// FuzzDecodeAnswer: any reply body, with any status, decodes without a
// panic; a 2xx is only an answer when it carries seqs, and a refusal keeps
// its status whatever its body.
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range []string{`{"seq":1}`, `{"seqs":[1,2]}`, `{"error":"x","code":"invalid_topic"}`, ``, `{`, `{"seq":null}`, `{"seqs":[]}`, `[]`} {
		f.Add(201, []byte(s))
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		got, a, err := decodeAnswer(status, body)
		switch {
		case err != nil && status/100 != 2:
			t.Fatalf("%d %q: error %v for a non-2xx", status, body, err)
		case err == nil && got != status:
			t.Fatalf("%d %q: status %d", status, body, got)
		case err == nil && status/100 == 2 && a.Seq == nil && a.Seqs == nil:
			t.Fatalf("%d %q: a 2xx without seqs taken as an answer", status, body)
		}
	})
}
