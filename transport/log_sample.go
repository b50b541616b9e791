package transport

import (
	"sync"
	"time"
)

// Sampling of refusal log lines. Anyone who can reach the port can make the
// server refuse thousands of requests a second (a flood of bad tokens, a
// wrong Origin); a line at Info for each would bury every other line and
// cost more than the refusal itself. So, per code, the first
// refusalLogFirst refusals of each refusalLogTick are logged at their level,
// then one in refusalLogThereafter; the others are logged at Debug only.
// Each line at its level carries "suppressed": how many refusals of its
// code went to Debug only since the previous such line, so none goes
// uncounted. It is zap's sampler keyed by code instead of by message, so
// that a flood of one code does not hide the first refusals of another.
const (
	refusalLogFirst      = 10
	refusalLogThereafter = 1000
	refusalLogTick       = time.Second
)

// refusalSampler decides which refusals are logged at their level. Codes
// are a fixed set (transport's and messages'), so its map stays small. Safe
// for concurrent use.
type refusalSampler struct {
	now func() time.Time

	mu    sync.Mutex
	codes map[string]*refusalCount
}

type refusalCount struct {
	tickStart  time.Time
	inTick     uint64 // refusals of the code since tickStart
	suppressed uint64 // refusals sent to Debug only since the last logged one
}

func newRefusalSampler(now func() time.Time) *refusalSampler {
	return &refusalSampler{now: now, codes: make(map[string]*refusalCount)}
}

// sample counts one refusal of code. log reports whether it is logged at
// its own level; if so, suppressed is how many refusals of code went to
// Debug only since the previous one that was.
func (s *refusalSampler) sample(code string) (log bool, suppressed uint64) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.codes[code]
	if c == nil {
		c = &refusalCount{tickStart: now}
		s.codes[code] = c
	}
	if now.Sub(c.tickStart) >= refusalLogTick || now.Before(c.tickStart) {
		c.tickStart, c.inTick = now, 0
	}
	c.inTick++
	if c.inTick > refusalLogFirst && (c.inTick-refusalLogFirst)%refusalLogThereafter != 0 {
		c.suppressed++
		return false, 0
	}
	suppressed, c.suppressed = c.suppressed, 0
	return true, suppressed
}
