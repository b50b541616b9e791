package persistence

import "github.com/orgstream/orgstream/messages"

// ReadMaxBytes bounds the event data one Read returns (past the first
// event). Counts alone let a follower's 1000-event read of 1 MiB events hold
// 1 GiB (issue 10); 8 MiB keeps reads of small events as large as before
// (1000 events of 8 KiB) and matches directBatchBytes, the most one Direct
// Get batch answers.
const ReadMaxBytes = 8 << 20

// ReachedReadBytes reports whether evs stopped at ReadMaxBytes: a caller
// that reads on to the end must read again after them.
func ReachedReadBytes(evs []messages.Event) bool {
	return len(evs) > 0 && dataBytes(evs) >= ReadMaxBytes
}

func dataBytes(evs []messages.Event) int {
	n := 0
	for i := range evs {
		n += len(evs[i].Data)
	}
	return n
}
