package messages

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of topic patterns (PROTOCOL.md "Scoped delivery"; docs/PROTOCOL.md
// documents them).
const (
	// MaxPatternLen is the longest topic pattern, in bytes: a topic's limit.
	MaxPatternLen = MaxTopicLen
	// MaxPatterns is the most patterns a token's topics claim or a stream's
	// topics query may hold: a scope is checked against every event for
	// every connection, so its cost stays small and bounded.
	MaxPatterns = 64
)

// Errors of ParsePattern and ParsePatterns.
var (
	ErrPatternEmpty    = errors.New("messages: empty topic pattern")
	ErrPatternTooLong  = fmt.Errorf("messages: topic pattern over %d bytes", MaxPatternLen)
	ErrPatternChar     = errors.New("messages: topic pattern has a character outside [A-Za-z0-9_.-*>]")
	ErrPatternWildcard = errors.New("messages: a wildcard must be a whole segment, and '>' the last one")
	ErrPatternsNone    = errors.New("messages: no topic pattern")
	ErrPatternsMany    = fmt.Errorf("messages: more than %d topic patterns", MaxPatterns)
)

// ValidPattern reports whether s is a topic pattern; see ParsePattern.
func ValidPattern(s string) bool { return ParsePattern(s) == nil }

// ParsePattern checks a NATS-style topic pattern: segments separated by '.',
// each either "*" (any one segment), ">" (the last segment only: one or more
// segments) or literal characters of a topic ([A-Za-z0-9_-], possibly none:
// a topic may have an empty segment, as in "a..b"). 1 to MaxPatternLen
// bytes. A pattern without wildcards is a topic and matches only itself.
func ParsePattern(s string) error {
	switch {
	case s == "":
		return ErrPatternEmpty
	case len(s) > MaxPatternLen:
		return ErrPatternTooLong
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !isIDByte(c) && c != '*' && c != '>' {
				return ErrPatternChar
			}
			continue
		}
		seg := s[start:i]
		if strings.ContainsAny(seg, "*>") {
			if len(seg) != 1 || seg == ">" && i != len(s) {
				return ErrPatternWildcard
			}
		}
		start = i + 1
	}
	return nil
}

// ParsePatterns checks a list of patterns: 1 to MaxPatterns, each valid.
// Errors name the offending position, never its text.
func ParsePatterns(ps []string) error {
	switch {
	case len(ps) == 0:
		return ErrPatternsNone
	case len(ps) > MaxPatterns:
		return ErrPatternsMany
	}
	for i, p := range ps {
		if err := ParsePattern(p); err != nil {
			return fmt.Errorf("pattern %d: %w", i+1, err)
		}
	}
	return nil
}

// Match reports whether topic matches pattern (both valid). It walks both
// strings in place and allocates nothing: it runs per connection per event.
func Match(pattern, topic string) bool {
	for {
		pseg, prest, pmore := strings.Cut(pattern, ".")
		if pseg == ">" {
			return true // topic has at least this segment left
		}
		tseg, trest, tmore := strings.Cut(topic, ".")
		if pseg != "*" && pseg != tseg {
			return false
		}
		if !pmore || !tmore {
			return pmore == tmore
		}
		pattern, topic = prest, trest
	}
}

// MatchAny reports whether topic matches one of patterns.
func MatchAny(patterns []string, topic string) bool {
	for _, p := range patterns {
		if Match(p, topic) {
			return true
		}
	}
	return false
}

// Covers reports whether every topic that q matches is matched by the
// token's patterns. It is conservative: q is covered only when ONE token
// pattern covers it alone, so q = "a.>" is refused under the token patterns
// {"a.*", "a.*.>"} although together they match every topic "a.>" does. A
// client narrows with the token's patterns or narrower ones.
func Covers(token []string, q string) bool {
	for _, t := range token {
		if covers(t, q) {
			return true
		}
	}
	return false
}

// covers reports whether pattern t matches every topic pattern q matches:
// segment by segment, ">" in t takes any rest of q (q has one segment or
// more left), "*" in t takes any one segment of q but ">", and a literal
// of t takes only the same literal.
func covers(t, q string) bool {
	for {
		tseg, trest, tmore := strings.Cut(t, ".")
		if tseg == ">" {
			return true
		}
		qseg, qrest, qmore := strings.Cut(q, ".")
		switch {
		case qseg == ">":
			return false // q matches any number of segments, t a fixed one
		case tseg != "*" && tseg != qseg:
			return false
		}
		if !tmore || !qmore {
			return tmore == qmore
		}
		t, q = trest, qrest
	}
}
