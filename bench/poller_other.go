//go:build !linux

package bench

import "net"

// pollSupported tells whether the fleet can hand streams to pollers: not
// here, every stream keeps its goroutine reading.
const pollSupported = false

type pollEnd struct {
	code int
	err  error
}

type pollState struct{}

type poller struct{}

func startPollers(*fleet) ([]*poller, error) { return nil, nil }

func stopPollers([]*poller) {}

func (p *poller) handOff(*streamConn, net.Conn, []byte) (<-chan pollEnd, bool) { return nil, false }

func (c *streamConn) closePolled() {}
