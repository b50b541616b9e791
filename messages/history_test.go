package messages

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendEventObject(t *testing.T) {
	for _, size := range []int{10, 200, 70000} {
		ev := Event{Seq: 42, Topic: "a.b", ID: "k", Time: ts0, Data: json.RawMessage(`"` + strings.Repeat("x", size) + `"`)}
		f := EncodeEvent(ev)
		obj, ok := AppendEventObject([]byte("["), &f)
		if !ok {
			t.Fatalf("size %d: not an event frame", size)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(obj[1:], &got); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if _, has := got["type"]; has || string(got["seq"]) != "42" || string(got["topic"]) != `"a.b"` || string(got["id"]) != `"k"` || len(got["data"]) != size+2 {
			t.Fatalf("size %d: object %.200s", size, obj)
		}
	}
	w := EncodeWelcome(Welcome{})
	if _, ok := AppendEventObject(nil, &w); ok {
		t.Fatal("a welcome is not an event")
	}
}
