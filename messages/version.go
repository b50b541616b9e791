package messages

// ProtocolVersion is the version of the wire contract (docs/PROTOCOL.md)
// that this daemon speaks, sent in every welcome as "protocol". It changes
// only when a client written for the previous version could misread a
// frame: new fields and new frame types do not change it, because clients
// must ignore what they do not know (docs/PROTOCOL.md "Versions").
const ProtocolVersion = "2"
