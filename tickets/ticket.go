package tickets

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Prefix starts every ticket, so that a ticket is told from a JWT at a
// glance (in a bug report, never in a log: tickets are not logged).
const Prefix = "t-"

// idBytes is the randomness of a ticket: 128 bits, beyond guessing within
// a ticket's life.
const idBytes = 16

// ticketLen is the length of every ticket: Prefix and the unpadded
// base64url of idBytes.
var ticketLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(idBytes)

// ErrInvalid is a ticket that does not open a stream: malformed, unknown,
// already used or expired. The four are one error on purpose: a caller
// learns nothing about tickets it does not hold.
var ErrInvalid = errors.New("tickets: invalid ticket")

// newTicket draws a fresh ticket.
func newTicket() (string, error) {
	var b [idBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("tickets: random id: %w", err)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ParseTicket checks the form of a ticket (Prefix, then 22 base64url
// characters decoding to 16 bytes) and returns its KV key. Its error never
// carries the ticket.
func ParseTicket(t string) (key string, err error) {
	if len(t) != ticketLen || t[:len(Prefix)] != Prefix {
		return "", ErrInvalid
	}
	id := t[len(Prefix):]
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil || len(b) != idBytes {
		return "", ErrInvalid
	}
	// Base64url's alphabet (A-Z a-z 0-9 - _) is a subset of what a KV key
	// may hold; the key is the id without the prefix.
	return id, nil
}
