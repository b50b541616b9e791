package jsonscan

import (
	"errors"
	"unicode/utf8"
)

// ErrSyntax is what an iterator's Err returns when the structure it walks
// is broken.
var ErrSyntax = errors.New("jsonscan: malformed JSON")

// Span is the byte range b[Start:End] of one JSON value or key, quotes
// included for a string.
type Span struct {
	Start, End int
	// Esc is set for a string that needs unescaping: it holds a backslash
	// escape, or bytes that are not valid UTF-8 (which encoding/json
	// replaces with U+FFFD).
	Esc bool
}

// String returns the index after the closing quote of the string whose
// opening quote is at b[i] (-1 if it does not end), and whether it needs
// unescaping (see Span.Esc).
func String(b []byte, i int) (end int, esc bool) {
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			esc = true
			j++
		case c == '"':
			if !ascii && !esc && !utf8.Valid(b[i+1:j]) {
				esc = true
			}
			return j + 1, esc
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return -1, esc
}

// Nested returns the index after the object or array opened at b[i], or
// -1 if it does not close. Brackets are counted, not matched.
func Nested(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end, _ := String(b, j)
			if end < 0 {
				return -1
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// Value returns the span of the value that starts at b[i]; ok is false
// when there is none (end of input, a delimiter, an unterminated string or
// bracket).
func Value(b []byte, i int) (v Span, ok bool) {
	if i < 0 || i >= len(b) {
		return Span{}, false
	}
	v.Start = i
	switch b[i] {
	case '"':
		v.End, v.Esc = String(b, i)
	case '{', '[':
		v.End = Nested(b, i)
	default:
		j := i
		for j < len(b) && !isDelim(b[j]) {
			j++
		}
		v.End = j
	}
	if v.End <= v.Start {
		return Span{}, false
	}
	return v, true
}

// SkipWS returns the index of the first byte at or after i that is not
// JSON whitespace.
func SkipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// isDelim reports whether c ends a number or a literal (or cannot start
// one).
func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r', '"', '{', '[', ':':
		return true
	}
	return false
}
