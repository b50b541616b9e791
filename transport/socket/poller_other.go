//go:build !linux

package socket

import (
	"net"
	"sync"
)

// Poller is Linux-only (epoll); elsewhere every connection has a reader
// goroutine.
type Poller struct{}

// Registration is a socket a Poller watches; never made off Linux.
type Registration struct{}

// NewPoller returns a nil Poller: nothing is polled.
func NewPoller(*sync.WaitGroup) (*Poller, error)                  { return nil, nil }
func (p *Poller) Add(net.Conn, func(*Registration)) *Registration { return nil }
func (p *Poller) Stop()                                           {}
func (r *Registration) Rearm()                                    {}
func (r *Registration) Remove()                                   {}
func (r *Registration) Active() bool                              { return false }
