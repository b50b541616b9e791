//go:build !linux

package bench

import "net"

// pollSupported tells whether fleets can hand streams to pollers: not
// here, every stream keeps its goroutine reading.
const pollSupported = false

type pollEnd struct {
	code int
	err  error
}

type pollState struct{}

type pollSet struct {
	state func(i int) *pollState
	text  func(p *poller, i int, payload []byte) error
}

type poller struct{}

func startPollers(pollSet) ([]*poller, error) { return nil, nil }

func stopPollers([]*poller) {}

func (p *poller) handOff(int, *pollState, net.Conn, []byte, func() bool) (<-chan pollEnd, bool) {
	return nil, false
}

func (p *poller) writeText(int, []byte) {}

func (st *pollState) close() {}
