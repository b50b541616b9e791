package messages

import "github.com/orgstream/orgstream/internal/jsonscan"

// Limits of a publish's "to" (PROTOCOL.md: 1–100 user ids).
const (
	// MaxTo is the most users one event may name.
	MaxTo = 100
	// MaxUserLen is the longest user id "to" may name, in bytes.
	MaxUserLen = 256
)

// CodeInvalidTo: "to" is not an array of 1 to MaxTo strings of 1 to
// MaxUserLen bytes.
const CodeInvalidTo = "invalid_to"

// parseTo reads the "to" array at v (valid JSON; not null).
func parseTo(body []byte, v jsonscan.Span) ([]string, *Error) {
	if body[v.Start] != '[' {
		return nil, errorf(CodeInvalidTo, `"to" must be an array of user ids`)
	}
	n := 0
	for it := jsonscan.Elements(body, v.Start); ; n++ {
		if _, ok := it.Next(); !ok {
			break
		}
		if n == MaxTo {
			return nil, errorf(CodeInvalidTo, `"to" names at most %d users`, MaxTo)
		}
	}
	if n == 0 {
		return nil, errorf(CodeInvalidTo, `"to" is empty: leave it out to send to every user`)
	}
	to := make([]string, n)
	it := jsonscan.Elements(body, v.Start)
	for k := range to {
		e, _ := it.Next()
		if body[e.Start] != '"' {
			return nil, errorf(CodeInvalidTo, `"to"[%d] must be a string`, k)
		}
		u := stringValue(body, e)
		if len(u) == 0 || len(u) > MaxUserLen {
			return nil, errorf(CodeInvalidTo, `"to"[%d] must be 1 to %d bytes`, k, MaxUserLen)
		}
		to[k] = u
	}
	return to, nil
}
