package tickets

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/orgstream/orgstream/transport/auth"
)

// value is the JSON a ticket's KV entry holds: the claims the stream runs
// with, and the ticket's own end. The token itself is not stored.
type value struct {
	Sub    string   `json:"sub"`
	Org    string   `json:"org"`
	Scope  string   `json:"scope,omitempty"`
	Topics []string `json:"topics,omitempty"`
	// Exp is the token's expiry (Unix ms): the stream's 4001 rule follows
	// it, not the ticket's.
	Exp int64 `json:"exp"`
	// Until is the ticket's expiry (Unix ms).
	Until int64 `json:"until"`
}

func encodeValue(c auth.Claims, until time.Time) ([]byte, error) {
	b, err := json.Marshal(value{
		Sub: c.Sub, Org: c.Org, Scope: c.Scope, Topics: c.Topics,
		Exp: c.Exp.UnixMilli(), Until: until.UnixMilli(),
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: encode claims: %w", err)
	}
	return b, nil
}

func decodeValue(b []byte) (auth.Claims, time.Time, error) {
	var v value
	if err := json.Unmarshal(b, &v); err != nil {
		return auth.Claims{}, time.Time{}, fmt.Errorf("tickets: decode claims: %w", err)
	}
	c := auth.Claims{Sub: v.Sub, Org: v.Org, Scope: v.Scope, Topics: v.Topics, Exp: time.UnixMilli(v.Exp)}
	return c, time.UnixMilli(v.Until), nil
}
