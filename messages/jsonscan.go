package messages

// A minimal walker over JSON that json.Valid has already accepted. It finds
// the byte ranges of object members and array elements without decoding
// them, so ParsePublish keeps "data" byte for byte and allocates only what
// it returns. On input that is not valid JSON it never panics, but its
// answers mean nothing: always check json.Valid first.

// span is the byte range b[start:end] of one JSON value or key.
type span struct {
	start, end int
	// esc is set for a string that contains a backslash escape.
	esc bool
}

// objectIter walks the members of the object whose '{' is at b[i-1].
type objectIter struct {
	b []byte
	i int
}

// next returns the next member's key (quotes included) and value.
func (o *objectIter) next() (key, val span, ok bool) {
	b := o.b
	i := skipWS(b, o.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return span{}, span{}, false // '}' or broken input
	}
	end, esc := scanString(b, i)
	key = span{start: i, end: end, esc: esc}
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		return span{}, span{}, false
	}
	val, ok = valueAt(b, skipWS(b, i+1))
	o.i = val.end
	return key, val, ok
}

// arrayIter walks the elements of the array whose '[' is at b[i-1].
type arrayIter struct {
	b []byte
	i int
}

// next returns the next element.
func (a *arrayIter) next() (val span, ok bool) {
	b := a.b
	i := skipWS(a.b, a.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		return span{}, false
	}
	val, ok = valueAt(b, i)
	a.i = val.end
	return val, ok
}

// valueAt returns the span of the value that starts at b[i].
func valueAt(b []byte, i int) (span, bool) {
	if i >= len(b) {
		return span{}, false
	}
	v := span{start: i}
	switch b[i] {
	case '"':
		v.end, v.esc = scanString(b, i)
	case '{', '[':
		v.end = skipNested(b, i)
	default:
		j := i
		for j < len(b) && !isValueEnd(b[j]) {
			j++
		}
		v.end = j
	}
	return v, v.end > v.start && v.end <= len(b)
}

// scanString returns the index after the closing quote of the string whose
// opening quote is at b[i], and whether it contains an escape.
func scanString(b []byte, i int) (end int, esc bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return len(b), esc
}

// skipNested returns the index after the object or array opened at b[i].
func skipNested(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end, _ := scanString(b, j)
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
	return len(b)
}

func isValueEnd(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func skipWS(b []byte, i int) int {
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
