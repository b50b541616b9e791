package messages

import "fmt"

// Error is a refusal a client sees: a stable machine code and a message.
// Transport maps it to a status (400 for every parse error).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Codes of the errors ParsePublish returns. They are part of the wire
// contract: clients may switch on them, so they never change meaning.
const (
	// CodeInvalidJSON: the body is not one valid UTF-8 JSON value, a known
	// field has the wrong JSON type, or a known field appears twice.
	CodeInvalidJSON = "invalid_json"
	// CodeInvalidBody: the body is valid JSON but neither one event nor a
	// batch (not an object, no known field, or "events" next to event
	// fields).
	CodeInvalidBody = "invalid_body"
	// CodeInvalidTopic: "topic" is absent or does not match
	// ^[A-Za-z0-9_.-]{1,256}$.
	CodeInvalidTopic = "invalid_topic"
	// CodeMissingData: "data" is absent.
	CodeMissingData = "missing_data"
	// CodeInvalidID: "id" is empty, over MaxIDLen bytes, or has a character
	// that is not printable.
	CodeInvalidID = "invalid_id"
	// CodeEmptyBatch: "events" is an empty array.
	CodeEmptyBatch = "empty_batch"
	// CodeBatchTooLarge: "events" holds more than MaxBatch events.
	CodeBatchTooLarge = "batch_too_large"
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
