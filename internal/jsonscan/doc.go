// Package jsonscan walks JSON without decoding it: it finds the byte ranges
// of an object's members and an array's elements in one pass, so that a
// parser keeps values byte for byte and allocates only what it returns.
// messages.ParsePublish (bodies json.Valid has accepted) and the client's
// frame decoder (the server's frames, trusted but not checked) share it.
//
// It checks the structure it walks (quotes, colons, commas, closing
// brackets) but not what it skips: a nested value or a number is taken up
// to its end without being checked. On any input it never panics; on input
// that is not JSON its spans are meaningless, and callers that need
// validity check json.Valid first.
//
//	it := jsonscan.Members(b, 0) // b[0] is '{'
//	for {
//		k, v, ok := it.Next()
//		if !ok {
//			break // it.Err() tells a '}' from broken input
//		}
//		name, val := b[k.Start+1:k.End-1], b[v.Start:v.End]
//		_, _ = name, val
//	}
//
// Every function is pure; an iterator belongs to one goroutine.
package jsonscan
