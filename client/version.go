package client

import "net/url"

// Version is this client's version, sent to the server with its name in
// the "client" query parameter ("orgstream-go/<Version>") so that
// operators see which client versions are connected (metrics "clients").
const Version = "0.1.0"

// Name is this client's name in the "client" query parameter.
const Name = "orgstream-go"

// ProtocolVersion is the version of the wire contract this client speaks
// (docs/PROTOCOL.md "Versions"). A welcome naming another ends Run with
// ErrProtocolVersion; unknown fields and unknown frame types are ignored,
// as the contract asks, so additions never need a new version.
const ProtocolVersion = "2"

// supportedProtocol reports whether a welcome's protocol can be read: ours,
// or none (a server older than the field speaks the same frames).
func supportedProtocol(v string) bool { return v == "" || v == ProtocolVersion }

// setClientParam names this client in q.
func setClientParam(q url.Values) { q.Set("client", Name+"/"+Version) }
