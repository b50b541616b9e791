package orgcore

import (
	"time"

	"github.com/orgstream/orgstream/messages"
)

// entry is one event of the replay window: its encoded frame, shared by every
// connection, and when it was accepted (for time-based retention).
type entry struct {
	seq   uint64
	at    time.Time
	frame *messages.Frame
}

// window is the org's in-memory replay window: the newest events, seqs
// contiguous and ending at head. It is pure state: no I/O, no clock of its
// own, so the org actor's decisions are testable without sockets.
//
// It is bounded in events and in bytes: a count alone let 1024 events of
// 1 MiB, plain and deflated, hold 2 GiB per org on every node (issue 10).
// The newest entry always stays, whatever its size, so that the window's
// head is always servable; a position the window lost is served from the
// log, exactly, like one older than the count.
type window struct {
	head uint64
	ents []entry
	// bytes is the encoded size of ents: every form of each frame, the SSE
	// forms at their bound whether built yet or not (Frame.MemBound).
	bytes int
	// size bounds the entries held, maxBytes their bytes (0: no bound);
	// retention drops entries older than it.
	size      int
	maxBytes  int
	retention time.Duration
}

func newWindow(head uint64, size, maxBytes int, retention time.Duration) *window {
	return &window{head: head, size: size, maxBytes: maxBytes, retention: retention}
}

// frameBytes is what an entry's frames hold in memory, with the user ids
// of its "to" (up to 100 of 256 bytes: more than the frame itself can be).
func frameBytes(e *entry) int {
	if e.frame == nil {
		return 0
	}
	n := e.frame.MemBound()
	for _, u := range e.frame.To {
		n += len(u)
	}
	return n
}

// dropFront removes the n oldest entries.
func (w *window) dropFront(n int) {
	for i := range n {
		w.bytes -= frameBytes(&w.ents[i])
	}
	if n == 1 {
		// Reslicing from the front shrinks the capacity; append then moves
		// the entries to a fresh array now and again: amortised O(1), and
		// the dropped frame is released at once.
		w.ents[0] = entry{}
		w.ents = w.ents[1:]
		return
	}
	k := copy(w.ents, w.ents[n:])
	clear(w.ents[k:])
	w.ents = w.ents[:k]
}

// first is the oldest seq the window can serve, head+1 when it is empty.
func (w *window) first() uint64 {
	if len(w.ents) == 0 {
		return w.head + 1
	}
	return w.ents[0].seq
}

// add appends the next event. A seq at or below head is a duplicate and is
// ignored (false). A seq past head+1 means the events between were lost to
// the log's retention before this node saw them: the window restarts at seq.
func (w *window) add(e entry) (added, jumped bool) {
	if e.seq <= w.head {
		return false, false
	}
	if e.seq != w.head+1 {
		clear(w.ents)
		w.ents = w.ents[:0]
		w.bytes = 0
		jumped = true
	}
	w.head = e.seq
	if len(w.ents) >= w.size {
		w.dropFront(1)
	}
	w.ents = append(w.ents, e)
	w.bytes += frameBytes(&e)
	if w.maxBytes > 0 && w.bytes > w.maxBytes {
		n := 0
		for over := w.bytes - w.maxBytes; over > 0 && n < len(w.ents)-1; n++ {
			over -= frameBytes(&w.ents[n])
		}
		w.dropFront(n)
	}
	return true, jumped
}

// prune drops entries older than the retention at now.
func (w *window) prune(now time.Time) {
	if w.retention <= 0 || len(w.ents) == 0 {
		return
	}
	cut := now.Add(-w.retention)
	i := 0
	for i < len(w.ents) && w.ents[i].at.Before(cut) {
		i++
	}
	if i > 0 {
		w.dropFront(i)
	}
}

// since returns the entries with seq >= from; ok is false when from is older
// than the window (the log must serve the start).
func (w *window) since(from uint64) (ents []entry, ok bool) {
	if from < w.first() {
		return nil, false
	}
	if from > w.head {
		return nil, true
	}
	return w.ents[from-w.first():], true
}

// Window is the replay window as the shell fills it from the log when the
// org starts (New takes it over); only these methods are for the shell.
type Window = window

// NewWindow returns an empty window at head, bounded as cfg says.
func NewWindow(head uint64, cfg Config) *Window {
	return newWindow(head, cfg.WindowSize, cfg.WindowBytes, cfg.Retention)
}

// Add appends the event seq, stored at at, with its encoded frame; see add.
func (w *window) Add(seq uint64, at time.Time, f *messages.Frame) (added, jumped bool) {
	return w.add(entry{seq: seq, at: at, frame: f})
}

// Head is the newest seq the window has seen.
func (w *window) Head() uint64 { return w.head }

// First is the oldest seq the window can serve, Head()+1 when it is empty.
func (w *window) First() uint64 { return w.first() }
