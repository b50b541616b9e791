package messages

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/orgstream/orgstream/internal/jsonscan"
)

// MaxBatch is the most events one publish may carry.
const MaxBatch = 1000

// Publish is a parsed, validated publish body.
type Publish struct {
	// Drafts holds the events, at least one, at most MaxBatch.
	Drafts []Draft
	// Batch is true when the body used the {"events":[...]} form; the answer
	// then carries "seqs" rather than "seq".
	Batch bool
}

// ParsePublish parses and validates a publish body: one event
// {"topic":…,"data":…,"id":…} or a batch {"events":[…]}. Errors are *Error
// with a Code a client can act on; nothing partial is returned on error.
//
// The rules, beyond PROTOCOL.md:
//   - The body must be one JSON value, valid UTF-8 (a WebSocket text frame
//     must be), with nothing after it but whitespace.
//   - Member names match exactly (case-sensitive, after JSON unescaping).
//     Unknown members are ignored; a known member twice is invalid_json.
//   - "data" may be any JSON value, null included; it is kept byte for byte
//     (whitespace inside it too) in a copy, so body may be reused.
//   - "id" is optional; null means absent. When present it is a string of 1
//     to MaxIDLen bytes, see ValidID.
//   - "to" is optional; null means absent. When present it is an array of
//     1 to MaxTo strings of 1 to MaxUserLen bytes (user ids, compared with
//     a token's sub byte for byte). A user named twice is allowed and
//     counts once. In a batch each event has its own "to".
//   - In a batch, an error names the first offending element, e.g.
//     "events[3]: ...", and the whole batch is refused.
//
// It is safe for concurrent use.
func ParsePublish(body []byte) (Publish, error) {
	p, err := parsePublish(body)
	if err != nil {
		return Publish{}, err
	}
	return p, nil
}

func parsePublish(body []byte) (Publish, *Error) {
	if !json.Valid(body) {
		return Publish{}, syntaxError(body)
	}
	if !utf8.Valid(body) {
		return Publish{}, errorf(CodeInvalidJSON, "body is not valid UTF-8")
	}
	i := jsonscan.SkipWS(body, 0)
	if body[i] != '{' {
		return Publish{}, errorf(CodeInvalidBody,
			`body must be a JSON object: one event {"topic":…,"data":…} or a batch {"events":[…]}`)
	}
	top, err := readFields(body, i, true)
	if err != nil {
		return Publish{}, err
	}
	if top.has&hasEvents == 0 {
		if top.has == 0 {
			return Publish{}, errorf(CodeInvalidBody,
				`body has none of "topic", "data", "events": expected one event or a batch`)
		}
		var b builder
		if err := b.add(body, &top); err != nil {
			return Publish{}, err
		}
		return Publish{Drafts: b.finish(body)}, nil
	}
	if top.has != hasEvents {
		return Publish{}, errorf(CodeInvalidBody,
			`"events" cannot be combined with "topic", "data", "id" or "to" (each event carries its own)`)
	}
	return parseBatch(body, top.events)
}

func parseBatch(body []byte, events jsonscan.Span) (Publish, *Error) {
	if body[events.Start] != '[' {
		return Publish{}, errorf(CodeInvalidJSON, `"events" must be an array`)
	}
	// Count first: the size limit holds whatever the elements hold, and the
	// drafts are allocated once.
	n := 0
	for it := jsonscan.Elements(body, events.Start); ; n++ {
		if _, ok := it.Next(); !ok {
			break
		}
		if n == MaxBatch {
			return Publish{}, errorf(CodeBatchTooLarge,
				"a batch holds at most %d events", MaxBatch)
		}
	}
	if n == 0 {
		return Publish{}, errorf(CodeEmptyBatch, `"events" is empty`)
	}
	b := builder{spans: make([]draftSpan, 0, n)}
	it := jsonscan.Elements(body, events.Start)
	for k := 0; k < n; k++ {
		v, _ := it.Next()
		if body[v.Start] != '{' {
			return Publish{}, errorf(CodeInvalidJSON, "events[%d]: must be an object", k)
		}
		f, err := readFields(body, v.Start, false)
		if err == nil {
			err = b.add(body, &f)
		}
		if err != nil {
			err.Message = fmt.Sprintf("events[%d]: %s", k, err.Message)
			return Publish{}, err
		}
	}
	return Publish{Drafts: b.finish(body), Batch: true}, nil
}

// syntaxError describes why body is not valid JSON, with the byte offset.
func syntaxError(body []byte) *Error {
	if len(body) == 0 {
		return errorf(CodeInvalidJSON, "body is empty")
	}
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errorf(CodeInvalidJSON, "malformed JSON at byte %d: %v", se.Offset, se)
	}
	return errorf(CodeInvalidJSON, "malformed JSON")
}

// Known members, as bits of fields.has.
const (
	hasTopic = 1 << iota
	hasData
	hasID
	hasEvents
	hasTo
)

// fields are the spans of the known members of one object.
type fields struct {
	has                         int
	topic, data, id, events, to jsonscan.Span
}

// readFields collects the known members of the object at body[start].
// body is valid JSON (parsePublish checks json.Valid first), so the walk
// ends only at the closing brace and the member values are whole.
// "events" is known only at the top level.
func readFields(body []byte, start int, top bool) (fields, *Error) {
	var f fields
	it := jsonscan.Members(body, start)
	for {
		k, v, ok := it.Next()
		if !ok {
			return f, nil
		}
		bit, dst := 0, (*jsonscan.Span)(nil)
		switch string(memberName(body, k)) {
		case "topic":
			bit, dst = hasTopic, &f.topic
		case "data":
			bit, dst = hasData, &f.data
		case "id":
			bit, dst = hasID, &f.id
		case "to":
			bit, dst = hasTo, &f.to
		case "events":
			if top {
				bit, dst = hasEvents, &f.events
			}
		}
		if dst == nil {
			continue
		}
		if f.has&bit != 0 {
			return f, errorf(CodeInvalidJSON, "duplicate member %s", body[k.Start:k.End])
		}
		f.has |= bit
		*dst = v
	}
}

// memberName returns the unescaped key. It returns bytes so that the
// caller's switch on string(...) does not allocate.
func memberName(body []byte, k jsonscan.Span) []byte {
	if !k.Esc {
		return body[k.Start+1 : k.End-1]
	}
	var s string
	if json.Unmarshal(body[k.Start:k.End], &s) != nil {
		return nil
	}
	return []byte(s)
}

// draftSpan is a draft whose Data still points into the body.
type draftSpan struct {
	topic, id string
	to        []string
	data      jsonscan.Span
}

// builder accumulates validated drafts, then copies all their data into one
// allocation.
type builder struct {
	spans   []draftSpan
	size    int
	topics  [maxSharedTopics]string
	nTopics int
}

func (b *builder) add(body []byte, f *fields) *Error {
	d := draftSpan{data: f.data}
	if f.has&hasTopic == 0 {
		return errorf(CodeInvalidTopic, `"topic" is required`)
	}
	if body[f.topic.Start] != '"' {
		return errorf(CodeInvalidJSON, `"topic" must be a string`)
	}
	d.topic = b.topicString(body, f.topic)
	if !ValidTopic(d.topic) {
		return errorf(CodeInvalidTopic, `"topic" must match ^[A-Za-z0-9_.-]{1,256}$`)
	}
	if f.has&hasData == 0 {
		return errorf(CodeMissingData, `"data" is required`)
	}
	if f.has&hasID != 0 && body[f.id.Start] != 'n' { // null means absent
		if body[f.id.Start] != '"' {
			return errorf(CodeInvalidJSON, `"id" must be a string`)
		}
		d.id = stringValue(body, f.id)
		if !ValidID(d.id) {
			return errorf(CodeInvalidID,
				`"id" must be 1 to %d bytes of printable characters, not starting or ending with a space`,
				MaxIDLen)
		}
	}
	if f.has&hasTo != 0 && body[f.to.Start] != 'n' { // null means absent
		to, err := parseTo(body, f.to)
		if err != nil {
			return err
		}
		d.to = to
	}
	b.spans = append(b.spans, d)
	b.size += d.data.End - d.data.Start
	return nil
}

// topicString returns the topic, sharing one string between the drafts of
// a batch that use the same topic (batches usually repeat a few).
func (b *builder) topicString(body []byte, v jsonscan.Span) string {
	if !v.Esc {
		raw := body[v.Start+1 : v.End-1]
		for _, t := range b.topics[:b.nTopics] {
			if string(raw) == t {
				return t
			}
		}
	}
	t := stringValue(body, v)
	if b.nTopics < maxSharedTopics {
		b.topics[b.nTopics] = t
		b.nTopics++
	}
	return t
}

// maxSharedTopics bounds the topics a batch shares strings for.
const maxSharedTopics = 8

func (b *builder) finish(body []byte) []Draft {
	arena := make([]byte, 0, b.size)
	drafts := make([]Draft, len(b.spans))
	for i, s := range b.spans {
		off := len(arena)
		arena = append(arena, body[s.data.Start:s.data.End]...)
		drafts[i] = Draft{Topic: s.topic, ID: s.id, To: s.to, Data: arena[off:len(arena):len(arena)]}
	}
	return drafts
}

// stringValue decodes the JSON string at v.
func stringValue(body []byte, v jsonscan.Span) string {
	if !v.Esc {
		return string(body[v.Start+1 : v.End-1])
	}
	var s string
	if json.Unmarshal(body[v.Start:v.End], &s) != nil {
		return "" // unreachable on valid JSON
	}
	return s
}

// ValidID reports whether s is an acceptable idempotency key: 1 to MaxIDLen
// bytes of valid UTF-8, every character printable (unicode.IsPrint: letters,
// marks, numbers, punctuation, symbols and the ASCII space), not starting or
// ending with a space (header-based dedup would trim it).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}
