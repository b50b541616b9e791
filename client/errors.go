package client

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidConfig is returned by New for a Config it cannot use.
var ErrInvalidConfig = errors.New("client: invalid config")

// ErrRunning is returned by Run when the Client already runs or has run.
var ErrRunning = errors.New("client: Run called more than once")

// ErrRefused wraps every handshake refusal (see HandshakeError).
var ErrRefused = errors.New("client: refused")

// ErrUnauthorized is a 401 refusal with a static Token: retrying cannot
// help, so Run returns it (with TokenFunc a 401 is retried with a new
// token).
var ErrUnauthorized = errors.New("client: token refused")

// ErrTokenExpired is a close with 4001 with a static Token: Run returns it.
var ErrTokenExpired = errors.New("client: token expired")

// ErrPolicy is a close with 1008 or 1009: the server says this client broke
// the protocol, so Run returns it.
var ErrPolicy = errors.New("client: closed for a protocol violation")

// ErrGap is the error of a connection dropped after a hole in the seqs.
var ErrGap = errors.New("client: seq gap")

// ErrProtocol is the error of a connection the server broke the protocol
// on (a malformed frame, an event before the welcome, no reset after a
// refused resume...).
var ErrProtocol = errors.New("client: server protocol error")

// ErrProtocolVersion ends Run when the server's welcome names a version of
// the wire contract this client does not speak (Welcome.Protocol): reading
// on could misread its frames, and retrying cannot help.
var ErrProtocolVersion = errors.New("client: unsupported protocol version")

// ErrTooLarge is the error of a connection that sent a message over
// Config.MaxMessageSize.
var ErrTooLarge = errors.New("client: message too large")

// HandshakeError is a refusal of the stream before the upgrade. It wraps
// ErrRefused (and ErrUnauthorized for a 401 that Run gives up on).
type HandshakeError struct {
	// Status is the HTTP status (400, 401, 403, 426, 503...).
	Status int
	// Code and Message are the JSON body's "code" and "error", when the
	// body had them.
	Code, Message string
	// Permanent is true when Run gives up on it.
	Permanent bool
}

func (e *HandshakeError) Error() string {
	s := "client: refused with " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes errors.Is(err, ErrRefused) true, and ErrUnauthorized for a
// permanent 401.
func (e *HandshakeError) Is(target error) bool {
	return target == ErrRefused || (target == ErrUnauthorized && e.Status == 401 && e.Permanent)
}

// CloseError is a close frame received from the server.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("client: closed by the server with %d %q", e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrPolicy) true for 1008 and 1009, and
// ErrTokenExpired for 4001.
func (e *CloseError) Is(target error) bool {
	switch target {
	case ErrPolicy:
		return e.Code == 1008 || e.Code == 1009
	case ErrTokenExpired:
		return e.Code == CloseTokenExpired
	}
	return false
}
