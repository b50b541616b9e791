package client

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// ErrPublishRefused wraps a 4xx answer to a publish: the request cannot
// succeed as it is (a bad body, a bad or expired token, another org's
// token, over a limit), so the Publisher does not retry it.
var ErrPublishRefused = errors.New("client: publish refused")

// ErrOutcomeUnknown wraps the error of a publish that gave up (RetryFor
// passed, or its context ended) after at least one attempt that may have
// reached the daemon: its events may or may not be stored. Publishing them
// again with the same IDs (PublishError.IDs) within the dedup window stores
// them at most once.
var ErrOutcomeUnknown = errors.New("client: publish outcome unknown")

// ErrInvalidMessage is returned, before anything is sent, for a message the
// daemon would refuse anyway: no topic, Data that is not JSON, a batch that
// is empty or over MaxBatch.
var ErrInvalidMessage = errors.New("client: invalid message")

// PublishError is the error of a failed publish.
type PublishError struct {
	// Status is the HTTP status of the last answer, 0 if the last attempt
	// got none (a network error or a timeout, in Err).
	Status int
	// Code and Message are the last answer's JSON "code" and "error".
	Code, Message string
	// Attempts is the number of requests sent.
	Attempts int
	// IDs are the ids the events were sent with, in order: publish them
	// again with these ids and a retry cannot store them twice.
	IDs []string
	// Err is the last network error, or the context's error.
	Err error
	// refused: a 4xx, not retried.
	refused bool
}

func (e *PublishError) Error() string {
	s := "client: publish "
	if e.refused {
		s += "refused"
	} else {
		s += "outcome unknown"
	}
	s += " after " + strconv.Itoa(e.Attempts) + " attempt"
	if e.Attempts != 1 {
		s += "s"
	}
	if e.Status != 0 {
		s += ": " + strconv.Itoa(e.Status)
		if e.Code != "" {
			s += " " + e.Code
		}
		if e.Message != "" {
			s += ": " + e.Message
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap gives the network or context error, if any.
func (e *PublishError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPublishRefused) true for a 4xx, and
// errors.Is(err, ErrOutcomeUnknown) for everything else.
func (e *PublishError) Is(target error) bool {
	return (target == ErrPublishRefused && e.refused) || (target == ErrOutcomeUnknown && !e.refused)
}

// retryableStatus reports whether an answer with this status may succeed
// when the same request is sent again. 503 is the daemon's "retry with the
// same ids" (log_unavailable, not_ready, draining, outcome_unknown); 502 and
// 504 come from proxies in front of it; 408 and 429 are the standard
// "try later". Every other 4xx is permanent: the same body and token get
// the same answer. Retrying is only safe because every event carries an id.
func retryableStatus(status int) bool {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return true
	case status >= 500:
		return true
	}
	return false
}

// NewID returns a fresh idempotency key: 128 random bits from crypto/rand
// as 26 base32 characters, so two keys collide with probability 2^-128 per
// pair, across processes and restarts alike (a counter or a clock would
// repeat after a restart or on another host).
func NewID() string { return rand.Text() }

// validID mirrors the daemon's check (PROTOCOL.md: 1 to 256 bytes of
// printable UTF-8, no leading or trailing space) for ASCII; the daemon
// remains the judge of the rest.
func validID(s string) error {
	if len(s) > maxIDLen {
		return fmt.Errorf("%w: id over %d bytes", ErrInvalidMessage, maxIDLen)
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return fmt.Errorf("%w: id starts or ends with a space", ErrInvalidMessage)
	}
	return nil
}
