package transport

import (
	"bytes"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
)

// serverWindowBits is the LZ77 window the shared compressed frames may use.
// An offer that limits the server below it is declined: one compressed frame
// serves every client, so it cannot be recompressed per client.
const serverWindowBits = 15

// deflateNegotiator answers permessage-deflate offers (RFC 7692) during one
// handshake. It accepts the first acceptable offer and declines the rest.
//
// The answer always carries server_no_context_takeover: orgstream compresses
// each message on its own, once per event, and writes the same bytes to every
// client. client_no_context_takeover and server_max_window_bits=15 are echoed
// when offered; client_max_window_bits needs no answer, since any client
// window fits the server's 32 KiB inflater. A malformed offer is declined,
// not refused: the stream then runs uncompressed.
type deflateNegotiator struct {
	accepted bool
}

func (n *deflateNegotiator) negotiate(opt httphead.Option) (httphead.Option, error) {
	if n.accepted || !bytes.EqualFold(opt.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, nil
	}
	var offer wsflate.Parameters
	if err := offer.Parse(opt); err != nil {
		return httphead.Option{}, nil
	}
	if offer.ServerMaxWindowBits.Defined() && offer.ServerMaxWindowBits < serverWindowBits {
		return httphead.Option{}, nil
	}
	accept := wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: offer.ClientNoContextTakeover,
		ServerMaxWindowBits:     offer.ServerMaxWindowBits,
	}
	n.accepted = true
	return accept.Option(), nil
}

// extensionsWellFormed reports whether a Sec-WebSocket-Extensions value
// parses; gobwas/ws would refuse the handshake (in plain text) otherwise.
func extensionsWellFormed(v []byte) bool {
	return httphead.ScanOptions(v, func(int, []byte, []byte, []byte) httphead.Control {
		return httphead.ControlContinue
	})
}
