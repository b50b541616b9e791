package presence

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// Keys of the bucket and subjects of the heartbeats. An instance is one run
// of a daemon (a random id drawn at start, so that a restarted node never
// inherits the entries of its previous run, and two daemons that share a
// node name never mix theirs):
//
//	o.<org>.<instance>                       the instance's users of org: {"alice":2,"bob":1}
//	orgstream.presence.beat.<instance>       its heartbeat (core NATS): {"node":"n1"}
//	orgstream.presence.leave.<instance>      its clean leave (core NATS)
const (
	orgKeyPrefix = "o."
	beatPrefix   = persistence.PresencePrefix + "beat."
	leavePrefix  = persistence.PresencePrefix + "leave."
	// maxInstanceLen bounds an instance id (nuid ids are 22 bytes).
	maxInstanceLen = 64
)

func orgKey(org, inst string) string { return orgKeyPrefix + org + "." + inst }

// parseKey splits a key of the bucket; ok is false for a key no daemon of
// this version writes, which the watcher ignores.
func parseKey(key string) (org, inst string, ok bool) {
	if !strings.HasPrefix(key, orgKeyPrefix) {
		return "", "", false
	}
	org, inst, ok = strings.Cut(key[len(orgKeyPrefix):], ".")
	if !ok || !messages.ValidOrg(org) || !validInstance(inst) {
		return "", "", false
	}
	return org, inst, true
}

// parseBeat reads a heartbeat subject: the instance, and whether it is a
// leave; ok is false for any other subject.
func parseBeat(subject string) (inst string, leave, ok bool) {
	switch {
	case strings.HasPrefix(subject, beatPrefix):
		inst = subject[len(beatPrefix):]
	case strings.HasPrefix(subject, leavePrefix):
		inst, leave = subject[len(leavePrefix):], true
	default:
		return "", false, false
	}
	if !validInstance(inst) {
		return "", false, false
	}
	return inst, leave, true
}

// validInstance accepts ^[A-Za-z0-9]{1,64}$, a single key token.
func validInstance(s string) bool {
	if len(s) == 0 || len(s) > maxInstanceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// errEntry is what decodeUsers errors wrap.
var errEntry = errors.New("presence: malformed entry")

// encodeUsers is an org entry's value: each user's open streams on the
// instance (JSON object, keys sorted by encoding/json).
func encodeUsers(users map[string]int) []byte {
	b, _ := json.Marshal(users) // a map of strings to ints always encodes
	return b
}

// decodeUsers reads an org entry's value: a JSON object of non-empty user
// ids to positive counts.
func decodeUsers(b []byte) (map[string]int, error) {
	var users map[string]int
	if err := json.Unmarshal(b, &users); err != nil {
		return nil, fmt.Errorf("%w: %w", errEntry, err)
	}
	if users == nil {
		return nil, fmt.Errorf("%w: not an object", errEntry)
	}
	for u, n := range users {
		if u == "" || n <= 0 {
			return nil, fmt.Errorf("%w: user %q with %d streams", errEntry, u, n)
		}
	}
	return users, nil
}
