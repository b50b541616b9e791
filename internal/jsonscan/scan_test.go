package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// scanCases are shared by the table test and the fuzz seeds. members is
// what Members (or Elements, for an array) yields, as the bytes of each key
// and value; err whether the walk ends on broken structure.
var scanCases = []struct {
	name    string
	in      string
	members []string // key, value, key, value... (values only for arrays)
	escKeys []bool
	err     bool
}{
	{name: "empty object", in: `{}`},
	{name: "empty object spaced", in: " { \n\t} "},
	{name: "members", in: `{"a":1,"b":"x","c":null}`, members: []string{`"a"`, `1`, `"b"`, `"x"`, `"c"`, `null`}},
	{name: "spaces", in: "{ \"a\" :\t[1, 2] ,\n\"b\": {\"c\":\"}\"} }", members: []string{`"a"`, `[1, 2]`, `"b"`, `{"c":"}"}`}},
	{name: "escaped key", in: `{"\u0061":true}`, members: []string{`"\u0061"`, `true`}, escKeys: []bool{true}},
	{name: "escaped quote in key", in: `{"a\"b":false}`, members: []string{`"a\"b"`, `false`}, escKeys: []bool{true}},
	{name: "invalid utf-8 key needs unescaping", in: "{\"\xff\":1}", members: []string{"\"\xff\"", `1`}, escKeys: []bool{true}},
	{name: "utf-8 key is plain", in: `{"é":1}`, members: []string{`"é"`, `1`}, escKeys: []bool{false}},
	{name: "brackets inside strings", in: `{"a":["]",{"b":"{"}],"c":-1.5e3}`, members: []string{`"a"`, `["]",{"b":"{"}]`, `"c"`, `-1.5e3`}},
	{name: "trailing comma", in: `{"a":1,}`, members: []string{`"a"`, `1`}, err: true},
	{name: "missing comma", in: `{"a":1 "b":2}`, members: []string{`"a"`, `1`}, err: true},
	{name: "missing colon", in: `{"a" 1}`, err: true},
	{name: "missing value", in: `{"a":}`, err: true},
	{name: "unterminated key", in: `{"a`, err: true},
	{name: "unterminated value", in: `{"a":"b`, err: true},
	{name: "unclosed nested", in: `{"a":[1,{"b":2}`, err: true},
	{name: "brackets counted, not matched", in: `{"a":[1}}`, members: []string{`"a"`, `[1}`}},
	{name: "unclosed object", in: `{"a":1`, members: []string{`"a"`, `1`}, err: true},
	{name: "not an object", in: `1`, err: true},
	{name: "a string", in: `"{"`, err: true},
	{name: "empty input", in: ``, err: true},
	{name: "bare key", in: `{a:1}`, err: true},
	{name: "array", in: `[1, "x" ,{"a":[]},[ ]]`, members: []string{`1`, `"x"`, `{"a":[]}`, `[ ]`}},
	{name: "empty array", in: `[ ]`},
	{name: "array trailing comma", in: `[1,]`, members: []string{`1`}, err: true},
	{name: "array unclosed", in: `[1`, members: []string{`1`}, err: true},
	{name: "array missing comma", in: `[1 2]`, members: []string{`1`}, err: true},
}

// walk returns what Members or Elements yields for the value at b[i], as
// in scanCases.
func walk(b []byte) (members []string, escKeys []bool, err error) {
	i := SkipWS(b, 0)
	if i < len(b) && b[i] == '[' {
		it := Elements(b, i)
		for {
			v, ok := it.Next()
			if !ok {
				return members, nil, it.Err()
			}
			members = append(members, string(b[v.Start:v.End]))
		}
	}
	it := Members(b, i)
	for {
		k, v, ok := it.Next()
		if !ok {
			return members, escKeys, it.Err()
		}
		members = append(members, string(b[k.Start:k.End]), string(b[v.Start:v.End]))
		escKeys = append(escKeys, k.Esc)
	}
}

func TestWalk(t *testing.T) {
	for _, tc := range scanCases {
		t.Run(tc.name, func(t *testing.T) {
			members, escKeys, err := walk([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if err != nil && !errors.Is(err, ErrSyntax) {
				t.Fatalf("err %v is not ErrSyntax", err)
			}
			if len(members) != len(tc.members) {
				t.Fatalf("members %q, want %q", members, tc.members)
			}
			for i := range members {
				if members[i] != tc.members[i] {
					t.Fatalf("members %q, want %q", members, tc.members)
				}
			}
			for i, want := range tc.escKeys {
				if escKeys[i] != want {
					t.Fatalf("key %d: esc %v, want %v", i, escKeys[i], want)
				}
			}
		})
	}
}

func TestIteratorStaysDone(t *testing.T) {
	b := []byte(`{"a":1}`)
	it := Members(b, 0)
	it.Next()
	for range 3 {
		if _, _, ok := it.Next(); ok || it.Err() != nil {
			t.Fatalf("after '}': ok %v, err %v", ok, it.Err())
		}
	}
	var zero ObjectIter
	if _, _, ok := zero.Next(); ok {
		t.Fatal("zero ObjectIter yields a member")
	}
	var zeroA ArrayIter
	if _, ok := zeroA.Next(); ok {
		t.Fatal("zero ArrayIter yields an element")
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		end  int
		esc  bool
		note string
	}{
		{`"abc"`, 5, false, "plain"},
		{`"a\"c"x`, 6, true, "escaped quote"},
		{`"a\\"x`, 5, true, "escaped backslash ends before the quote"},
		{`"abc`, -1, false, "unterminated"},
		{`"ab\`, -1, true, "unterminated after a backslash"},
		{"\"\xc3\xa9\"", 4, false, "valid UTF-8"},
		{"\"\xc3\"", 3, true, "invalid UTF-8"},
	} {
		end, esc := String([]byte(tc.in), 0)
		if end != tc.end || esc != tc.esc {
			t.Errorf("%s: String(%q) = %d, %v; want %d, %v", tc.note, tc.in, end, esc, tc.end, tc.esc)
		}
	}
}

// FuzzWalk: the walk never panics and its spans stay inside the input; on
// a valid JSON object or array it yields exactly what encoding/json reads,
// byte for byte, and ends without error.
func FuzzWalk(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		members, _, err := walk(b) // must not panic
		var oracle []string
		valid := json.Valid(b)
		if valid {
			oracle = decodeMembers(t, b)
		}
		if !valid || oracle == nil {
			return // not JSON, or not an object or array
		}
		if err != nil {
			t.Fatalf("valid %q: %v", b, err)
		}
		if len(members) != len(oracle) {
			t.Fatalf("%q: members %q, encoding/json %q", b, members, oracle)
		}
		for i := range members {
			if members[i] != oracle[i] && !sameKey(members[i], oracle[i]) {
				t.Fatalf("%q: members %q, encoding/json %q", b, members, oracle)
			}
		}
	})
}

// sameKey reports whether the raw key got unescapes to want (the oracle
// gives keys unescaped, quoted).
func sameKey(got, want string) bool {
	var g, w string
	return json.Unmarshal([]byte(got), &g) == nil && json.Unmarshal([]byte(want), &w) == nil && g == w
}

// decodeMembers reads the top-level object or array of valid JSON b with
// encoding/json: keys re-quoted, values as their raw bytes; nil when b is
// neither.
func decodeMembers(t *testing.T, b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a valid number may not fit a float64 (1e700)
	tok, err := dec.Token()
	if err != nil {
		t.Fatalf("valid %q: %v", b, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	out := []string{}
	for dec.More() {
		if d == '{' {
			k, err := dec.Token()
			if err != nil {
				t.Fatalf("valid %q: %v", b, err)
			}
			q, _ := json.Marshal(k)
			out = append(out, string(q))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("valid %q: %v", b, err)
		}
		out = append(out, string(raw))
	}
	return out
}

func BenchmarkMembers(b *testing.B) {
	in := []byte(`{"type":"event","seq":123456,"topic":"orders.updated","ts":"2026-11-28T12:00:00.000000Z","data":{"order":42,"status":"shipped","items":[1,2,3]}}`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		it := Members(in, 0)
		for {
			if _, _, ok := it.Next(); !ok {
				break
			}
		}
		if it.Err() != nil {
			b.Fatal(it.Err())
		}
	}
}
