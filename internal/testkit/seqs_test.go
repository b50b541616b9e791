package testkit

import (
	"strings"
	"testing"
)

func TestCheckRange(t *testing.T) {
	cases := []struct {
		name     string
		seqs     []uint64
		from, to uint64
		err      string // substring; "" = ok
	}{
		{"exact", []uint64{1, 2, 3}, 1, 3, ""},
		{"empty range", nil, 5, 4, ""},
		{"offset", []uint64{7, 8}, 7, 8, ""},
		{"hole", []uint64{1, 3}, 1, 3, "hole"},
		{"duplicate", []uint64{1, 2, 2, 3}, 1, 3, "duplicate"},
		{"reorder", []uint64{1, 3, 2}, 1, 3, "hole"},
		{"short", []uint64{1, 2}, 1, 3, "got 2 seqs, want 3"},
		{"extra", []uint64{1, 2, 3, 4}, 1, 3, "extra seq 4"},
		{"none", nil, 1, 1, "got 0 seqs, want 1"},
		{"not empty when empty expected", []uint64{5}, 5, 4, "extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRange(tc.seqs, tc.from, tc.to)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error with %q", err, tc.err)
			}
		})
	}
}

func TestDecodeFrame(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{`{"type":"event","seq":3,"topic":"t","ts":"x","data":{"a":1}}`, true},
		{`{"type":"welcome","conn_id":"c","head":0,"resumed":false}`, true},
		{`{"seq":3,"type":"event"}`, false}, // type not first
		{`{ "type":"event"}`, false},        // orgstream writes no space
		{`not json`, false},
		{``, false},
	}
	for _, tc := range cases {
		f, err := DecodeFrame([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("DecodeFrame(%q) = %+v, %v; want ok %v", tc.in, f, err, tc.ok)
		}
	}
	f, _ := DecodeFrame([]byte(`{"type":"event","seq":3,"data":{"a": [1, 2]}}`))
	if string(f.Data) != `{"a": [1, 2]}` || f.Seq != 3 {
		t.Errorf("data %s seq %d: want the raw bytes and seq 3", f.Data, f.Seq)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"reset","reason":"window_exceeded","first":2,"head":9}`))
	f.Add([]byte(`{"type":"welcome","replay":{"from":1,"to":0}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err == nil && !strings.HasPrefix(string(fr.Raw), `{"type":`) {
			t.Fatalf("accepted %q", b)
		}
	})
}
