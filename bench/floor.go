package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// ScenarioFloor is the loopback write floor. It is not in Scenarios: it
// needs no daemon, and the suite does not run it.
const ScenarioFloor = "floor"

// FloorConfig shapes the floor: the frame of a fanout delivery written to
// Conns loopback sockets in turn, for Duration split into Rounds.
type FloorConfig struct {
	// Conns is the number of sockets written in turn. Zero means 1000.
	Conns int
	// Size is the event data size in bytes, as in FanoutConfig (at least
	// 34); the frame written is the daemon's frame for such an event
	// (FloorFrame). Zero means 256.
	Size int
	// Duration is the measured writing time, all rounds together. Zero
	// means 5s.
	Duration time.Duration
	// Rounds splits Duration; the figure is the median round's. Zero
	// means 5.
	Rounds int
	// SourceAddrs spreads the connections over source addresses 127.0.0.2
	// … as the other scenarios do. Zero means DefaultSourceAddrs, negative
	// one address chosen by the kernel.
	SourceAddrs int
	// Progress, when set, receives a status line while running.
	Progress io.Writer
}

func (c *FloorConfig) validate() error {
	if c.Conns < 0 || c.Size < 0 || c.Duration < 0 || c.Rounds < 0 {
		return fmt.Errorf("%w: floor: negative setting", ErrConfig)
	}
	c.Conns = cmp0(c.Conns, 1000)
	c.Size = max(cmp0(c.Size, 256), minDataSize)
	c.Duration = cmp0(c.Duration, 5*time.Second)
	c.Rounds = cmp0(c.Rounds, 5)
	c.SourceAddrs = cmp0(c.SourceAddrs, DefaultSourceAddrs)
	if c.SourceAddrs > 250 {
		return fmt.Errorf("%w: floor: more than 250 source addresses", ErrConfig)
	}
	return nil
}

// FloorRound is one measured round of the floor.
type FloorRound struct {
	Writes  int64         `json:"writes"`
	Wall    time.Duration `json:"wall_ns"`
	User    time.Duration `json:"user_ns"`
	Sys     time.Duration `json:"sys_ns"`
	Calls   int64         `json:"write_calls"`
	Blocked int64         `json:"would_block"`
	Slow    int64         `json:"over_1ms"`
	// Preempted counts the writer thread's involuntary context switches.
	Preempted int64 `json:"preempted"`
}

// CPUPerWrite is the writer thread's CPU (user + system) per write.
func (r FloorRound) CPUPerWrite() time.Duration {
	if r.Writes == 0 {
		return 0
	}
	return (r.User + r.Sys) / time.Duration(r.Writes)
}

// FloorResult is what Floor measured.
type FloorResult struct {
	Conns      int
	Size       int // event data size
	FrameBytes int // bytes of each write
	Rounds     []FloorRound
	// Writes are the measured writes (all rounds), WritesPerSec their
	// rate over the rounds' wall time.
	Writes       int64
	WritesPerSec float64
	// CPUPerWrite is the median round's writer CPU per write: the
	// denominator of a daemon's CPU per delivery on this machine.
	CPUPerWrite time.Duration
	// Calls are the write(2) calls, Blocked those that found the socket
	// full (the writer then waited), Slow the writes that took over 1 ms
	// of wall time, Preempted the times the kernel took the writer's
	// core from it; all rounds.
	Calls, Blocked, Slow, Preempted int64
	// Written and Drained are the bytes written (warm-up included) and
	// those the reading ends received; Floor fails when they differ.
	Written, Drained int64
}

// slowWrite is the wall time above which a write counts as slow.
const slowWrite = time.Millisecond

// Floor measures the loopback write floor: what one write(2) of a
// delivery's frame to a loopback TCP socket whose peer drains it costs the
// writing thread, with cfg.Conns sockets written in turn. It is the least
// a delivery can cost on this machine (one write per delivery, no daemon
// logic), so a daemon's CPU per delivery divided by it is a ratio that
// holds on other machines.
//
// One goroutine, locked to its OS thread, writes the same pre-encoded
// frame to each socket in turn: one write(2) per delivery, blocking (a
// socket that would block is waited on in the netpoller). Its CPU is read
// with threadCPU around each round, so the drain goroutines' CPU is not in
// it; the kernel's receive processing of a loopback write runs in the
// sender's call and is. Needs Linux; raises the file limit as needed.
func Floor(ctx context.Context, cfg FloorConfig) (FloorResult, error) {
	if err := cfg.validate(); err != nil {
		return FloorResult{}, err
	}
	if _, _, _, err := threadCPU(); err != nil {
		return FloorResult{}, err
	}
	if lim, err := RaiseFileLimit(); err != nil {
		return FloorResult{}, err
	} else if need := uint64(2*cfg.Conns + 64); lim < need {
		return FloorResult{}, fmt.Errorf("%w: floor: %d connections need %d files, the limit is %d", ErrConfig, cfg.Conns, need, lim)
	}
	frame := FloorFrame(cfg.Size, time.Now())
	res := FloorResult{Conns: cfg.Conns, Size: cfg.Size, FrameBytes: len(frame)}
	g, err := newFloorRig(ctx, cfg.Conns, cfg.SourceAddrs, frame)
	if err != nil {
		return res, err
	}
	var done atomic.Int64
	prog := startProgress(cfg.Progress, ScenarioFloor, func() string {
		return fmt.Sprintf("conns %d  writes %s", cfg.Conns, groupThousands(fmt.Sprint(done.Load())))
	})
	werr := g.run(ctx, cfg, &res, &done)
	prog.stop()
	g.close()
	res.summarize()
	res.Written, res.Drained, err = g.check()
	if werr != nil {
		return res, werr
	}
	return res, err
}

// run writes on the calling goroutine, locked to its thread: a warm-up
// pass over every socket, then the rounds.
func (g *floorRig) run(ctx context.Context, cfg FloorConfig, res *FloorResult, done *atomic.Int64) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := range g.conns {
		if err := g.writeOne(i); err != nil {
			return err
		}
	}
	per := cfg.Duration / time.Duration(cfg.Rounds)
	next := 0
	for range cfg.Rounds {
		rd, err := g.round(ctx, per, &next, done)
		if err != nil {
			return err
		}
		res.Rounds = append(res.Rounds, rd)
	}
	return nil
}

// checkEvery is how many writes go between looks at the clock's deadline
// and the context.
const checkEvery = 64

// round writes for d, from socket *next on, and measures the thread's CPU.
func (g *floorRig) round(ctx context.Context, d time.Duration, next *int, done *atomic.Int64) (FloorRound, error) {
	var rd FloorRound
	calls0, blocked0 := g.calls, g.blocked
	u0, s0, p0, err := threadCPU()
	if err != nil {
		return rd, err
	}
	start := time.Now()
	last := start
	deadline := start.Add(d)
	i := *next
	for {
		for range checkEvery {
			if err := g.writeOne(i); err != nil {
				return rd, err
			}
			if i++; i == len(g.conns) {
				i = 0
			}
			now := time.Now()
			if now.Sub(last) > slowWrite {
				rd.Slow++
			}
			last = now
		}
		rd.Writes += checkEvery
		done.Add(checkEvery)
		if !last.Before(deadline) {
			break
		}
		if err := ctx.Err(); err != nil {
			return rd, err
		}
	}
	u1, s1, p1, err := threadCPU()
	if err != nil {
		return rd, err
	}
	rd.Wall = last.Sub(start)
	rd.User, rd.Sys, rd.Preempted = u1-u0, s1-s0, p1-p0
	rd.Calls, rd.Blocked = g.calls-calls0, g.blocked-blocked0
	*next = i
	return rd, nil
}

// summarize fills the totals and the median from the rounds.
func (r *FloorResult) summarize() {
	var wall time.Duration
	per := make([]time.Duration, 0, len(r.Rounds))
	for _, rd := range r.Rounds {
		r.Writes += rd.Writes
		wall += rd.Wall
		r.Calls += rd.Calls
		r.Blocked += rd.Blocked
		r.Slow += rd.Slow
		r.Preempted += rd.Preempted
		per = append(per, rd.CPUPerWrite())
	}
	if wall > 0 {
		r.WritesPerSec = float64(r.Writes) / wall.Seconds()
	}
	slices.Sort(per)
	if n := len(per); n > 0 {
		r.CPUPerWrite = (per[(n-1)/2] + per[n/2]) / 2
	}
}

// errFloorRun marks a floor that could not be measured in full.
var errFloorRun = errors.New("bench: floor")

// RunFloor runs Floor and reports it as a Result: writes, writes/s, the
// writer's CPU per write (median of the rounds, and each round in a
// table). A mismatch between bytes written and drained fails it.
func RunFloor(ctx context.Context, cfg FloorConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioFloor, nil)
	r.Target.SourceAddrs = max(cfg.SourceAddrs, 1)
	fr, err := Floor(ctx, cfg)
	switch {
	case errors.Is(err, errFloorDrain):
		r.failf("%v", err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errFloorRun, err)
	}
	r.param("connections", cfg.Conns)
	r.param("event data size (bytes)", cfg.Size)
	r.param("frame size (bytes, one write)", fr.FrameBytes)
	r.param("duration", cfg.Duration)
	r.param("rounds", cfg.Rounds)
	r.param("CPU clock", threadCPUClock)
	fr.record(r)
	r.notef("one goroutine locked to its thread writes the same frame to each socket in turn, one write(2) per delivery; " +
		"the reading ends are drained by other goroutines, whose CPU is not counted; a loopback write's receive " +
		"processing runs in the sender's call and is")
	return r.finish(), nil
}

// record adds fr's figures and rounds to r.
func (fr FloorResult) record(r *Result) {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	perWrite := func(d time.Duration) float64 {
		if fr.Writes == 0 {
			return math.NaN()
		}
		return us(d) / float64(fr.Writes)
	}
	var user, sys, wall time.Duration
	for _, rd := range fr.Rounds {
		user += rd.User
		sys += rd.Sys
		wall += rd.Wall
	}
	r.metric("writes", float64(fr.Writes), "", "")
	r.metric("writes/s", fr.WritesPerSec, "writes/s", "")
	r.metric("writer CPU per write (median round)", us(fr.CPUPerWrite), "µs", "")
	r.metric("writer CPU per write, user", perWrite(user), "µs", "")
	r.metric("writer CPU per write, system", perWrite(sys), "µs", "")
	r.metric("wall time per write", perWrite(wall), "µs", "")
	if fr.Writes > 0 {
		r.metric("write(2) calls per write", float64(fr.Calls)/float64(fr.Writes), "", "")
	}
	r.metric("writes that would block", float64(fr.Blocked), "", "")
	r.metric("writes over 1 ms", float64(fr.Slow), "", "")
	r.metric("writer thread preempted", float64(fr.Preempted), "times", "")
	r.metric("bytes written", float64(fr.Written), "bytes", "")
	r.metric("bytes drained", float64(fr.Drained), "bytes", "")
	t := Table{Title: "Rounds", Columns: []string{"round", "writes", "wall (s)", "CPU per write (µs)",
		"user (ms)", "system (ms)", "would block", "over 1 ms", "preempted"}}
	for i, rd := range fr.Rounds {
		t.Rows = append(t.Rows, []string{fmt.Sprint(i + 1), FormatValue(float64(rd.Writes)),
			FormatValue(rd.Wall.Seconds()), FormatValue(us(rd.CPUPerWrite())),
			FormatValue(float64(rd.User) / 1e6), FormatValue(float64(rd.Sys) / 1e6),
			FormatValue(float64(rd.Blocked)), FormatValue(float64(rd.Slow)), FormatValue(float64(rd.Preempted))})
	}
	r.Tables = append(r.Tables, t)
}
