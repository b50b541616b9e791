package messages

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzEncodePresence checks the hand encoder against encoding/json: the
// payload decodes to the user and state it was built from.
func FuzzEncodePresence(f *testing.F) {
	f.Add("alice", true)
	f.Add("", false)
	f.Add("t\"\n\xff\u2028", true)
	f.Add(strings.Repeat("u", 2000), false)
	f.Fuzz(func(t *testing.T, user string, online bool) {
		fr := EncodePresence(user, online)
		if fr.Seq != 0 {
			t.Fatalf("seq %d, want 0", fr.Seq)
		}
		payload := framePayload(t, fr.Plain)
		var got map[string]string
		if err := json.Unmarshal(payload, &got); err != nil {
			t.Fatalf("payload %q: %v", payload, err)
		}
		want := map[string]string{"type": "presence", "user": user, "state": PresenceOffline}
		if online {
			want["state"] = PresenceOnline
		}
		// The encoder writes each invalid UTF-8 byte as U+FFFD.
		want["user"] = string([]rune(user))
		if len(got) != len(want) {
			t.Fatalf("payload %q: keys %v, want %v", payload, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("payload %q: %s = %q, want %q", payload, k, got[k], v)
			}
		}
	})
}

func TestEncodePresence(t *testing.T) {
	for _, tc := range []struct {
		user   string
		online bool
		want   string
	}{
		{"alice", true, `{"type":"presence","user":"alice","state":"online"}`},
		{"bob", false, `{"type":"presence","user":"bob","state":"offline"}`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := string(framePayload(t, EncodePresence(tc.user, tc.online).Plain)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
