package client

import "time"

// ending is how one connection attempt ended, as far as the choice of the
// next step goes.
type ending struct {
	// status is the HTTP status of a refused handshake, 0 otherwise.
	status int
	// code is the close code the server sent, 0 if it sent none (the
	// connection broke, or the client closed it: a gap, a malformed frame).
	code int
	// welcomed: the connection got its welcome.
	welcomed bool
	// healthy: the connection delivered an event, or stayed open for
	// BackoffMax after its welcome; the backoff starts over after it.
	healthy bool
	// incompatible: the server speaks a protocol version this client
	// does not (ErrProtocolVersion).
	incompatible bool
}

// action is what Run does after an ending.
type action uint8

const (
	actBackoff action = iota // wait fullJitter(BackoffMin, BackoffMax, attempt)
	actTooMany               // wait equalJitter(BackoffTooMany, ..., attempt)
	actNow                   // reconnect at once
	actStop                  // give up: Run returns the error
)

func (a action) String() string {
	return [...]string{"backoff", "too-many backoff", "reconnect now", "stop"}[a]
}

// decide chooses the next step (Run's context and Close are handled
// before). tokenFunc tells whether a new token can be had.
//
//   - Refusals: 401 retries (with backoff) only with a TokenFunc; 400, 403
//     and every other 4xx but 408 and 429 are permanent; 429 backs off like
//     4029; 5xx (503 draining, not ready) and anything else back off.
//   - Closes: 1008 and 1009 are permanent; 4001 is permanent with a static
//     token, else reconnects at once with a new token; 1001 and 4008
//     reconnect at once; 4029 backs off from BackoffTooMany; anything else
//     backs off.
//   - "At once" only after a welcome: a close that comes before it (the
//     server turns clients away) backs off, so nothing loops hot.
func decide(e ending, tokenFunc bool) action {
	if e.incompatible {
		return actStop
	}
	if e.status != 0 {
		switch {
		case e.status == 401:
			if tokenFunc {
				return actBackoff
			}
			return actStop
		case e.status == 429:
			return actTooMany
		case e.status == 408:
			return actBackoff
		case e.status >= 400 && e.status < 500:
			return actStop
		}
		return actBackoff
	}
	now := actBackoff
	if e.welcomed {
		now = actNow
	}
	switch e.code {
	case ClosePolicy, CloseTooBig:
		return actStop
	case CloseTokenExpired:
		if !tokenFunc {
			return actStop
		}
		return now
	case CloseGoingAway, CloseSlowConsumer:
		return now
	case CloseTooMany:
		return actTooMany
	}
	return actBackoff
}

// movesOn reports whether the next attempt goes to the next of several
// URLs: after every end but a close with 4001 (new token, same node), 4008
// (this client was slow, not the node) or 4029 (too many connections: the
// limit is the user's, moving would only dodge it on one node).
func movesOn(e ending) bool {
	return e.code != CloseTokenExpired && e.code != CloseSlowConsumer && e.code != CloseTooMany
}

// expo is min(ceiling, base·2^attempt), without overflow.
func expo(base, ceiling time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < ceiling; i++ {
		if d > ceiling/2 {
			return ceiling
		}
		d *= 2
	}
	return min(d, ceiling)
}

// fullJitter is rand[0, expo(base, ceiling, attempt)); randN(n) returns a
// number in [0, n).
func fullJitter(base, ceiling time.Duration, attempt int, randN func(int64) int64) time.Duration {
	d := expo(base, ceiling, attempt)
	if d <= 0 {
		return 0
	}
	return time.Duration(randN(int64(d)))
}

// equalJitter is d/2 + rand[0, d/2) with d = expo(base, ceiling, attempt):
// never less than half the exponential wait.
func equalJitter(base, ceiling time.Duration, attempt int, randN func(int64) int64) time.Duration {
	d := expo(base, ceiling, attempt)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(randN(int64(d-half)))
}

// backoff is the wait before the next attempt for a (for actBackoff and
// actTooMany; 0 for the others).
func (c *Config) backoff(a action, attempt int, randN func(int64) int64) time.Duration {
	switch a {
	case actBackoff:
		return fullJitter(c.BackoffMin, c.BackoffMax, attempt, randN)
	case actTooMany:
		return equalJitter(c.BackoffTooMany, max(c.BackoffMax, c.BackoffTooMany), attempt, randN)
	}
	return 0
}
