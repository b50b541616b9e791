package messages

// Maximum lengths of the identifiers of PROTOCOL.md.
const (
	MaxOrgLen   = 64
	MaxTopicLen = 256
	// MaxIDLen is the longest idempotency key a publisher may send, in bytes.
	MaxIDLen = 256
)

// ValidOrg reports whether s is an org id: ^[A-Za-z0-9_-]{1,64}$.
// Such an id is safe as a NATS subject token.
func ValidOrg(s string) bool {
	if len(s) == 0 || len(s) > MaxOrgLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidTopic reports whether s is a topic: ^[A-Za-z0-9_.-]{1,256}$.
func ValidTopic(s string) bool {
	if len(s) == 0 || len(s) > MaxTopicLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isIDByte(c) && c != '.' {
			return false
		}
	}
	return true
}

// isIDByte reports whether c is in [A-Za-z0-9_-].
func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}
