package jsonscan

// ObjectIter walks the members of one object. The zero value is done.
type ObjectIter struct {
	b     []byte
	i     int  // next byte to read
	first bool // no member read yet
	done  bool
	err   error
}

// Members returns an iterator over the members of the object whose '{' is
// at b[i].
func Members(b []byte, i int) ObjectIter {
	if i < 0 || i >= len(b) || b[i] != '{' {
		return ObjectIter{done: true, err: ErrSyntax}
	}
	return ObjectIter{b: b, i: i + 1, first: true}
}

// Next returns the next member's key (quotes included) and value. It
// returns ok false at the closing '}' and on broken structure (Err tells
// which); after that it keeps returning false. A trailing comma is broken.
func (o *ObjectIter) Next() (key, val Span, ok bool) {
	if o.done {
		return Span{}, Span{}, false
	}
	b := o.b
	i := SkipWS(b, o.i)
	if !o.first {
		switch {
		case i < len(b) && b[i] == '}':
			return o.stop(nil)
		case i < len(b) && b[i] == ',':
			i = SkipWS(b, i+1)
		default:
			return o.stop(ErrSyntax)
		}
	} else if i < len(b) && b[i] == '}' {
		return o.stop(nil)
	}
	o.first = false
	if i >= len(b) || b[i] != '"' {
		return o.stop(ErrSyntax)
	}
	end, esc := String(b, i)
	if end < 0 {
		return o.stop(ErrSyntax)
	}
	key = Span{Start: i, End: end, Esc: esc}
	i = SkipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		return o.stop(ErrSyntax)
	}
	val, ok = Value(b, SkipWS(b, i+1))
	if !ok {
		return o.stop(ErrSyntax)
	}
	o.i = val.End
	return key, val, true
}

func (o *ObjectIter) stop(err error) (key, val Span, ok bool) {
	o.done, o.err = true, err
	return Span{}, Span{}, false
}

// Err returns ErrSyntax when the walk stopped on broken structure, nil
// when it reached the closing '}' (or has not stopped yet).
func (o *ObjectIter) Err() error { return o.err }

// ArrayIter walks the elements of one array. The zero value is done.
type ArrayIter struct {
	b     []byte
	i     int
	first bool
	done  bool
	err   error
}

// Elements returns an iterator over the elements of the array whose '[' is
// at b[i].
func Elements(b []byte, i int) ArrayIter {
	if i < 0 || i >= len(b) || b[i] != '[' {
		return ArrayIter{done: true, err: ErrSyntax}
	}
	return ArrayIter{b: b, i: i + 1, first: true}
}

// Next returns the next element. It returns ok false at the closing ']'
// and on broken structure (Err tells which); after that it keeps
// returning false.
func (a *ArrayIter) Next() (val Span, ok bool) {
	if a.done {
		return Span{}, false
	}
	b := a.b
	i := SkipWS(b, a.i)
	if !a.first {
		switch {
		case i < len(b) && b[i] == ']':
			return a.stop(nil)
		case i < len(b) && b[i] == ',':
			i = SkipWS(b, i+1)
		default:
			return a.stop(ErrSyntax)
		}
	} else if i < len(b) && b[i] == ']' {
		return a.stop(nil)
	}
	a.first = false
	val, ok = Value(b, i)
	if !ok {
		return a.stop(ErrSyntax)
	}
	a.i = val.End
	return val, true
}

func (a *ArrayIter) stop(err error) (Span, bool) {
	a.done, a.err = true, err
	return Span{}, false
}

// Err returns ErrSyntax when the walk stopped on broken structure, nil
// when it reached the closing ']' (or has not stopped yet).
func (a *ArrayIter) Err() error { return a.err }
