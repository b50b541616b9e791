package actors

// closeState is the closing handshake of one connection, as a pure state
// machine: the connection actor feeds it events (a close requested by the
// server or sent by the client, a write done, the linger over) and carries
// out the action each returns. Nothing in it touches the socket or the
// clock, so every path is a row of a table test (close_state_test.go).
//
//	open ──close──▶ closing ──close frame written──▶ closeSent ──peer's close / linger over──▶ done
//
// In closing the close frame is on its way, or waits behind the data write
// in flight (a slow socket finishing off the actor); the outbox is closed,
// so nothing else is written. A peer's close frame answered by ours ends
// the handshake at once: a browser fires onclose only once the server
// closes TCP, so waiting the linger out would delay every browser's
// reconnect.
type closeState struct {
	phase closePhase
	// code and reason go into our close frame; code is also the one the
	// connection is logged with.
	code   uint16
	reason string
	// by says who ended the connection: "server", "client" or
	// "write error".
	by string
	// peerClosed: the client's close frame came in.
	peerClosed bool
	// writing: a write finishes off the actor (its socket was slow).
	writing bool
	// slowCounted: the 4008 of this connection was counted.
	slowCounted bool
}

// closePhase is where a connection is in its closing handshake.
type closePhase uint8

const (
	phaseOpen      closePhase = iota // writing frames
	phaseClosing                     // our close frame is on its way, or deferred behind a write
	phaseCloseSent                   // our close frame is written; waiting for the client's
	phaseDone                        // the actor stops and the socket closes
)

func (p closePhase) String() string {
	return [...]string{"open", "closing", "closeSent", "done"}[p]
}

// closeAction is what the connection actor does after an event.
type closeAction uint8

const (
	actNone      closeAction = iota
	actFlush                 // write what was queued meanwhile
	actSendClose             // write the close frame now
	actLinger                // our close frame is out: wait for the client's, CloseLinger at most
	actStop                  // stop the actor: the socket closes
)

func (a closeAction) String() string {
	return [...]string{"none", "flush", "sendClose", "linger", "stop"}[a]
}

// closeStep is the outcome of an event: the action, and whether the
// connection just became a slow consumer to count (4008, once).
type closeStep struct {
	act     closeAction
	counted bool
}

// canWrite reports whether the actor may write data frames: open, and no
// write in flight off the actor.
func (s *closeState) canWrite() bool { return s.phase == phaseOpen && !s.writing }

// setCode records the code the connection ends with; counted is true the
// first time it is 4008. Every connection that ends with 4008 is counted
// once: the org actor's cut (its outbox overflowed) and a write that timed
// out may both find the same slow client.
func (s *closeState) setCode(code uint16) (counted bool) {
	s.code = code
	if code == CloseSlowConsumer && !s.slowCounted {
		s.slowCounted = true
		return true
	}
	return false
}

// serverClose is a close the server asked for (heartbeat, drain, an org's
// cut, a client breaking the protocol): the close frame goes now, or
// behind the write in flight.
func (s *closeState) serverClose(code uint16, reason string) closeStep {
	if s.phase != phaseOpen {
		return closeStep{act: actNone}
	}
	if s.by == "" {
		s.by = "server"
	}
	counted := s.setCode(code)
	s.reason = reason
	s.phase = phaseClosing
	if s.writing {
		return closeStep{act: actNone, counted: counted} // the close frame waits for writeDone
	}
	return closeStep{act: actSendClose, counted: counted}
}

// peerClose is the client's close frame: answered with ours (echoing its
// code) if we had not sent one, and the end once both are out.
func (s *closeState) peerClose(code uint16) closeStep {
	s.peerClosed = true
	switch s.phase {
	case phaseOpen:
		s.by = "client"
		return s.serverClose(code, "")
	case phaseCloseSent:
		s.phase = phaseDone
		return closeStep{act: actStop}
	}
	return closeStep{act: actNone} // closing: ours is on its way, and then it ends
}

// writeStarted records a data or close frame write that goes off the actor.
func (s *closeState) writeStarted() { s.writing = true }

// writeDone is the end of a data write; timedOut means the client stopped
// reading for a whole write timeout (a slow consumer whose close frame
// could not get through either).
func (s *closeState) writeDone(err error, timedOut bool) closeStep {
	s.writing = false
	if s.phase == phaseDone {
		return closeStep{act: actNone}
	}
	if err != nil {
		counted := false
		if timedOut {
			counted = s.setCode(CloseSlowConsumer)
		}
		s.by = "write error"
		s.phase = phaseDone
		return closeStep{act: actStop, counted: counted}
	}
	if s.phase == phaseClosing {
		return closeStep{act: actSendClose} // the deferred close frame
	}
	return closeStep{act: actFlush}
}

// closeWritten is the end of our close frame's write.
func (s *closeState) closeWritten(err error) closeStep {
	s.writing = false
	if s.phase != phaseClosing {
		return closeStep{act: actNone}
	}
	if err != nil || s.peerClosed {
		s.phase = phaseDone
		return closeStep{act: actStop}
	}
	s.phase = phaseCloseSent
	return closeStep{act: actLinger}
}

// peerGone is the end of the socket's reading (the client went, or the
// linger after our close frame ran out).
func (s *closeState) peerGone() closeStep {
	if s.phase == phaseDone {
		return closeStep{act: actNone}
	}
	if s.by == "" {
		s.by = "client"
	}
	s.phase = phaseDone
	return closeStep{act: actStop}
}
