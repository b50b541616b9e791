package persistence

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// HeaderTo holds an event's "to" (messages.Event.To) as a JSON array of
// strings, ASCII only (every other character \u-escaped) so that any user
// id survives the NATS header encoding. Absent: the event is for every user
// (events stored before "to" existed have none).
const HeaderTo = "Orgstream-To"

// encodeTo returns the HeaderTo value for to, "" when to is empty.
func encodeTo(to []string) string {
	if len(to) == 0 {
		return ""
	}
	b := make([]byte, 0, toHeaderLen(to))
	b = append(b, '[')
	for i, u := range to {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendASCIIQuoted(b, u)
	}
	return string(append(b, ']'))
}

// toHeaderLen bounds the length of encodeTo(to): six bytes per byte at most
// (\uXXXX), quotes and commas.
func toHeaderLen(to []string) int {
	n := 2
	for _, u := range to {
		n += 3 + 6*len(u)
	}
	return n
}

func appendASCIIQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r > 0xffff:
			r1, r2 := surrogates(r)
			b = appendU(appendU(b, r1), r2)
		default:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			b = appendU(b, r)
		}
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	b = append(b, '\\', 'u')
	h := strconv.FormatInt(int64(r), 16)
	for i := len(h); i < 4; i++ {
		b = append(b, '0')
	}
	return append(b, h...)
}

// surrogates splits r (over U+FFFF) into its UTF-16 pair.
func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// decodeTo reads a HeaderTo value. A value that does not decode names no
// user that can hold a stream (the empty sub, which no token has): such an
// event is withheld from every stream rather than shown to all.
func decodeTo(v string) []string {
	if v == "" {
		return nil
	}
	var to []string
	if err := json.Unmarshal([]byte(v), &to); err != nil || len(to) == 0 {
		return []string{""}
	}
	return to
}
