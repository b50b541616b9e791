// Package tickets is single-use connect tickets: a browser cannot set an
// Authorization header on a WebSocket or an EventSource, so instead of
// putting its long-lived token in the stream's URL (where browser consoles
// and proxies print it) it POSTs the token for a ticket and puts the ticket
// in the URL. A ticket is good for one stream, within a short TTL, on any
// node of the cluster.
//
// Single use across the cluster needs no signing key (a daemon may verify
// tokens with an identity provider's public keys only): a ticket is an
// opaque random id (128 bits) stored as a key of a JetStream KV bucket
// (persistence.TicketBucket, memory storage) whose value holds the token's
// claims. Redeem reads the entry, then deletes it with the read revision
// as the expected last revision: of two nodes redeeming the same ticket at
// once, only one delete succeeds, so only one stream opens.
//
//	st, err := tickets.Open(ctx, tickets.Config{Conn: nc})
//	t, err := st.Issue(ctx, claims)   // "t-…", valid for st.TTL()
//	claims, err := st.Redeem(ctx, t)  // once; ErrInvalid after
package tickets
