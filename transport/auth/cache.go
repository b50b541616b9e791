package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// The signature of a token is verified once per token, not once per
// request: a publisher sends the same token with every publish, and the
// verification (parse, base64, JSON, HMAC or a public-key check) was about
// 7% of a publish's CPU. verifiedCache remembers, per token (by its
// SHA-256), the claims a full verification accepted at some now. exp is
// checked again on every use against the caller's now, exactly; nbf and iat
// need no second check, since an entry is only used at a now no earlier
// than its verification's (when they held). An entry lives at most cacheMaxAge,
// so that a token signed by a key removed from the configuration's JWKS, or
// by a rotated-away secret, stops being accepted soon; an entry made under
// another JWK set than the current one (a fetch that changed the keys) is
// not used at all. Refusals are never cached: a token refused now is
// verified again on its next use.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verifiedEntry
	max     int
}

// verifiedEntry is one verified token.
type verifiedEntry struct {
	claims Claims
	added  time.Time // the now of the verification
	set    *jwksSet  // the JWK set in force then (nil: none)
}

// Bounds of the cache.
const (
	cacheMaxEntries = 4096
	cacheMaxAge     = time.Minute
)

func newVerifiedCache(n int) *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]verifiedEntry, min(n, 256)), max: n}
}

// get returns the verified claims of the token with key when its entry was
// made under set, at or before now, less than cacheMaxAge ago; the caller
// checks exp.
func (c *verifiedCache) get(key [sha256.Size]byte, now time.Time, set *jwksSet) (Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	switch {
	case !ok:
		return Claims{}, false
	case e.set != set || now.Sub(e.added) >= cacheMaxAge || now.Before(e.added):
		delete(c.entries, key)
		return Claims{}, false
	}
	return e.claims, true
}

// put remembers a verified token; when full, it first drops the entries
// past cacheMaxAge, and if none was, an arbitrary tenth of them.
func (c *verifiedCache) put(key [sha256.Size]byte, e verifiedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k, old := range c.entries {
			if e.added.Sub(old.added) >= cacheMaxAge {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max-c.max/10 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}

// len is the number of entries.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
