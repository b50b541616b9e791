package messages

// The size limits of PROTOCOL.md that bound what the server encodes, in one
// place: the per-connection queue bound is checked against them, so that no
// configuration can refuse a frame of an event the server accepted.
const (
	// MaxBody is the largest publish body accepted, over HTTP and NATS
	// alike (PROTOCOL.md: 413 over 1 MiB).
	MaxBody = 1 << 20

	// MaxEventFrameOverhead bounds what an event's frame adds to the bytes
	// the event takes in its publish body. The frame repeats the body's
	// topic, id and data (topics need no escaping, ids are printable, and
	// data is copied verbatim) and adds: the WebSocket header (at most 14
	// bytes), {"type":"event","seq":,"ts":""} and the commas and
	// member names (under 60 bytes), the seq (at most 20 digits) and the
	// timestamp (27 bytes for years 0000-9999).
	// 256 leaves a margin; TestMaxFramesBound checks it.
	MaxEventFrameOverhead = 256

	// MaxEventFrame is the largest frame of one accepted event, compressed
	// or not (a deflated frame is kept only when smaller than the plain
	// one).
	MaxEventFrame = MaxBody + MaxEventFrameOverhead

	// MaxPublishFrames bounds the frames of all the events of one accepted
	// publish together: the smallest per-connection queue bound that
	// admits a largest publish into an empty queue.
	MaxPublishFrames = MaxBody + MaxBatch*MaxEventFrameOverhead
)
