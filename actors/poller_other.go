//go:build !linux

package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// poller is Linux-only (epoll); elsewhere every connection has a reader
// goroutine.
type poller struct{}

func newPoller(*actor.RootContext, *sync.WaitGroup) (*poller, error) { return nil, nil }
func (p *poller) add(*conn) bool                                     { return false }
func (p *poller) rearm(*conn)                                        {}
func (p *poller) remove(*conn)                                       {}
func (p *poller) stop()                                              {}
