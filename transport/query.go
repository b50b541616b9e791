package transport

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/orgstream/orgstream/messages"
)

// maxEpochLen bounds the epoch a client may send back; epochs orgstream hands
// out are far shorter.
const maxEpochLen = 256

// Errors of parseStreamQuery; each is a 400 "invalid_query".
var (
	errQueryEscape    = errors.New("transport: malformed escape in query")
	errQueryDuplicate = errors.New("transport: duplicate query parameter")
	errQueryEmpty     = errors.New("transport: empty query parameter")
	errQueryLastSeq   = errors.New("transport: last_seq is not a non-negative integer")
	errQueryEpoch     = errors.New("transport: epoch too long")
	errQueryTopics    = fmt.Errorf("transport: topics must be 1 to %d comma-separated topic patterns", messages.MaxPatterns)
	errQueryPresence  = errors.New("transport: presence must be true or false")
	errQueryClient    = fmt.Errorf("transport: client must be 1 to %d bytes of letters, digits and . _ ~ + / @ -", maxClientLen)
)

// maxClientLen bounds the client query parameter ("name/version").
const maxClientLen = 64

// streamQuery is the query of a stream request.
type streamQuery struct {
	Token string // access_token, empty when absent
	// Ticket is the ticket query parameter (a connect ticket), empty when
	// absent.
	Ticket  string
	HasSeq  bool // last_seq was present
	LastSeq uint64
	Epoch   string
	// Topics are the topics query's patterns; nil when absent.
	Topics []string
	// Presence is presence=true: the stream also gets presence frames.
	Presence bool
	// Client is the client query parameter, the client's name and version
	// ("orgstream-go/0.2.0"); empty when absent. Only metrics use it.
	Client string
}

// parseStreamQuery parses the raw query of GET /v2/realtime/stream. It knows
// access_token, last_seq, epoch, topics, presence, ticket and client: each may appear once,
// with a non-empty value; last_seq must be a base-10 integer that fits a
// uint64; topics is a comma-separated list of topic patterns
// (messages.ParsePatterns; an empty item is an error); presence is exactly
// true or false. Unknown
// parameters are ignored. Parameters are separated by '&' only.
//
// Errors name the parameter but never carry a value (a token must not reach a
// log through an error message).
func parseStreamQuery(rawQuery string) (streamQuery, error) {
	var q streamQuery
	err := eachParam(rawQuery, streamParams, func(key, val string) error {
		switch key {
		case "access_token":
			q.Token = val
		case "ticket":
			q.Ticket = val
		case "last_seq":
			n, ok := parseSeq(val)
			if !ok {
				return errQueryLastSeq
			}
			q.HasSeq, q.LastSeq = true, n
		case "epoch":
			if len(val) > maxEpochLen {
				return errQueryEpoch
			}
			q.Epoch = val
		case "topics":
			ts, err := parseTopics(val)
			if err != nil {
				return err
			}
			q.Topics = ts
		case "presence":
			switch val {
			case "true":
				q.Presence = true
			case "false":
			default:
				return errQueryPresence
			}
		case "client":
			if !validClient(val) {
				return errQueryClient
			}
			q.Client = val
		}
		return nil
	})
	if err != nil {
		return streamQuery{}, err
	}
	return q, nil
}

// streamParams are the parameters parseStreamQuery knows.
var streamParams = []string{"access_token", "last_seq", "epoch", "topics", "presence", "ticket", "client"}

// validClient accepts a client name and version as the clients send it:
// short, and of characters that need no escaping in a metrics label.
func validClient(s string) bool {
	if len(s) > maxClientLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("._~+/@-", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// eachParam calls set, in order, with each parameter of rawQuery whose key
// is one of known, and its unescaped value, after the rules every query of
// ours shares (the stream's, the history's): parameters are separated by
// '&' only; a key that does not unescape or is not known is ignored; a
// known key may appear once (errQueryDuplicate), with a value that
// unescapes (errQueryEscape) and is not empty (errQueryEmpty). It stops at
// the first error, its own or set's. known has at most 64 keys.
//
// Its errors name the parameter but never carry a value (a token must not
// reach a log through an error message).
func eachParam(rawQuery string, known []string, set func(key, val string) error) error {
	var seen uint64 // bit i: known[i] was seen
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		if part == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			continue // not a key we know
		}
		i := slices.Index(known, key)
		if i < 0 {
			continue
		}
		if seen&(1<<i) != 0 {
			return paramError(errQueryDuplicate, key)
		}
		seen |= 1 << i
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return paramError(errQueryEscape, key)
		}
		if val == "" {
			return paramError(errQueryEmpty, key)
		}
		if err := set(key, val); err != nil {
			return err
		}
	}
	return nil
}

// parseSeq accepts ASCII digits only (no sign, no spaces) fitting a uint64.
func parseSeq(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

type queryParamError struct {
	err   error
	param string
}

func (e *queryParamError) Error() string { return e.err.Error() + ": " + e.param }
func (e *queryParamError) Unwrap() error { return e.err }

func paramError(err error, param string) error { return &queryParamError{err: err, param: param} }

// parseTopics splits a topics query value at commas and checks the patterns.
func parseTopics(val string) ([]string, error) {
	if strings.Count(val, ",") >= messages.MaxPatterns {
		return nil, fmt.Errorf("%w (%w)", errQueryTopics, messages.ErrPatternsMany)
	}
	ts := strings.Split(val, ",")
	if err := messages.ParsePatterns(ts); err != nil {
		return nil, fmt.Errorf("%w (%s)", errQueryTopics, strings.ReplaceAll(err.Error(), "messages: ", ""))
	}
	return ts, nil
}
