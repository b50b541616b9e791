package orgcore

import "github.com/orgstream/orgstream/messages"

// Close codes of the cuts the core decides (PROTOCOL.md).
const (
	// CodeSlowConsumer: the subscriber's outbox overflowed, or the events it
	// needed next left the log before this node saw them.
	CodeSlowConsumer uint16 = 4008
	// CodeTryAgain: the log could not tell where the stream starts.
	CodeTryAgain uint16 = 1011
)

// PushKind says what a pushed frame is, for the shell's counters.
type PushKind uint8

const (
	// PushLive is a stored event pushed as it arrived.
	PushLive PushKind = iota
	// PushCatchUp is an event from the window, pushed to catch up.
	PushCatchUp
	// PushControl is a welcome or a reset: no seq.
	PushControl
)

// Push asks the shell to queue Frame, in the form the subscriber's encoding
// reads (Bytes), in its outbox without blocking. The core already
// counted it as delivered; when the outbox refuses it because it is full,
// the shell reports Overflow, and when the connection closed it, nothing
// (its Unsubscribe is on the way).
type Push[C any] struct {
	Sub *Sub[C]
	// Frame is the shared frame (a compressed SSE stream also folds its
	// block's checksum into the connection's trailer).
	Frame *messages.Frame
	Kind  PushKind
}

// Bytes is what the subscriber's connection writes of the frame.
func (p *Push[C]) Bytes() []byte { return p.Frame.For(p.Sub.Enc) }

// OpKind is the kind of an Op.
type OpKind uint8

const (
	// OpFlush: tell the connection that its outbox may hold frames (after a
	// restart, the flushes the failed instance deferred were lost).
	OpFlush OpKind = iota + 1
	// OpCut: close the connection with Code and Reason; the core forgot it.
	OpCut
	// OpResolve: read the log's bounds for Sub (Pos, Head) and report them
	// with Bounds.
	OpResolve
	// OpReplay: stream From..To to Sub, paced by its reading: the log's
	// events older than Snap, then Snap's frames (the window's, ending at
	// To), each only when Sub.Scope allows it; report with Resolved.
	OpReplay
)

// Op is an effect other than a push.
type Op[C any] struct {
	Kind OpKind
	Sub  *Sub[C]
	// OpCut
	Code   uint16
	Reason string
	// OpResolve
	Pos  Position
	Head uint64
	// OpReplay
	From, To uint64
	Snap     []*messages.Frame
}

// Effects is what one input asks of the shell: first every Push, in order,
// then every Op, in order. It is the core's own buffer, reused by the next
// input: the shell executes it before it gives the core another input.
type Effects[C any] struct {
	Pushes []Push[C]
	Ops    []Op[C]
}

// Clear drops executed effects: the shell calls it once it carried them
// out, so that while the org is idle its buffer keeps no frame (a welcome,
// an event) or subscriber alive.
func (e *Effects[C]) Clear() { e.reset() }

func (e *Effects[C]) reset() {
	// Pointers are cleared so that a removed subscriber or an old frame
	// is not kept alive by the buffer; a big burst's buffer is let go.
	if cap(e.Pushes) > 1<<16 {
		e.Pushes = nil
	} else {
		clear(e.Pushes)
		e.Pushes = e.Pushes[:0]
	}
	clear(e.Ops)
	e.Ops = e.Ops[:0]
}

func (e *Effects[C]) push(sub *Sub[C], f *messages.Frame, k PushKind) {
	e.Pushes = append(e.Pushes, Push[C]{Sub: sub, Frame: f, Kind: k})
}

func (e *Effects[C]) op(o Op[C]) { e.Ops = append(e.Ops, o) }
