package actors

import (
	"errors"
	"strings"
	"testing"
)

// Each case drives a fresh closeState through events and checks the
// action of every step, then the end state. Events: "server:<code>",
// "peer:<code>", "slow" (a write goes off the actor), "wrote", "wrote:err",
// "wrote:timeout", "closeWritten", "closeWritten:err", "gone".
func TestCloseStateTransitions(t *testing.T) {
	tests := []struct {
		name      string
		events    []string
		actions   []closeAction
		phase     closePhase
		code      uint16
		by        string
		slowCount int
	}{
		{"server close, client answers",
			[]string{"server:1001", "closeWritten", "peer:1001"},
			[]closeAction{actSendClose, actLinger, actStop}, phaseDone, 1001, "server", 0},
		{"server close, linger runs out",
			[]string{"server:1001", "closeWritten", "gone"},
			[]closeAction{actSendClose, actLinger, actStop}, phaseDone, 1001, "server", 0},
		{"server close, close frame write fails",
			[]string{"server:4001", "closeWritten:err"},
			[]closeAction{actSendClose, actStop}, phaseDone, 4001, "server", 0},
		{"client closes first: echoed, then done at once",
			[]string{"peer:1000", "closeWritten"},
			[]closeAction{actSendClose, actStop}, phaseDone, 1000, "client", 0},
		{"client answers while our close frame is on its way",
			[]string{"server:1008", "peer:1000", "closeWritten"},
			[]closeAction{actSendClose, actNone, actStop}, phaseDone, 1008, "server", 0},
		{"close deferred behind a slow write",
			[]string{"slow", "server:1001", "wrote", "closeWritten", "peer:1000"},
			[]closeAction{actNone, actNone, actSendClose, actLinger, actStop}, phaseDone, 1001, "server", 0},
		{"slow write done while open: flush what queued",
			[]string{"slow", "wrote"},
			[]closeAction{actNone, actFlush}, phaseOpen, 0, "", 0},
		{"write times out: a slow consumer, counted",
			[]string{"slow", "wrote:timeout"},
			[]closeAction{actNone, actStop}, phaseDone, CloseSlowConsumer, "write error", 1},
		{"cut as slow, then its deferred write times out: counted once",
			[]string{"slow", "server:4008", "wrote:timeout"},
			[]closeAction{actNone, actNone, actStop}, phaseDone, CloseSlowConsumer, "write error", 1},
		{"write fails (client reset)",
			[]string{"wrote:err"},
			[]closeAction{actStop}, phaseDone, 0, "write error", 0},
		{"client goes away",
			[]string{"gone", "server:1001", "peer:1000", "gone"},
			[]closeAction{actStop, actNone, actNone, actNone}, phaseDone, 0, "client", 0},
		{"a second server close is ignored",
			[]string{"server:4001", "server:1001", "closeWritten"},
			[]closeAction{actSendClose, actNone, actLinger}, phaseCloseSent, 4001, "server", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s closeState
			slow := 0
			for i, ev := range tt.events {
				var step closeStep
				name, arg, _ := strings.Cut(ev, ":")
				switch name {
				case "server":
					step = s.serverClose(code(t, arg), "reason")
				case "peer":
					step = s.peerClose(code(t, arg))
				case "slow":
					if !s.canWrite() {
						t.Fatalf("step %d: a write while writing is not allowed", i)
					}
					s.writeStarted()
				case "wrote":
					var err error
					if arg != "" {
						err = errors.New(arg)
					}
					step = s.writeDone(err, arg == "timeout")
				case "closeWritten":
					var err error
					if arg != "" {
						err = errors.New(arg)
					}
					step = s.closeWritten(err)
				case "gone":
					step = s.peerGone()
				default:
					t.Fatalf("unknown event %q", ev)
				}
				if step.act != tt.actions[i] {
					t.Fatalf("step %d (%s): action %v, want %v", i, ev, step.act, tt.actions[i])
				}
				if step.counted {
					slow++
				}
			}
			if s.phase != tt.phase || s.code != tt.code || s.by != tt.by || slow != tt.slowCount {
				t.Fatalf("end: phase %v code %d by %q counted %d; want %v %d %q %d",
					s.phase, s.code, s.by, slow, tt.phase, tt.code, tt.by, tt.slowCount)
			}
			if s.canWrite() != (tt.phase == phaseOpen) {
				t.Fatalf("canWrite = %v in phase %v", s.canWrite(), s.phase)
			}
		})
	}
}

func code(t *testing.T, s string) uint16 {
	t.Helper()
	var c uint16
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("bad code %q", s)
		}
		c = c*10 + uint16(r-'0')
	}
	return c
}
