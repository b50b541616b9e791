package persistence

import (
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// The NATS users of the embedded server, and the least permissions each
// needs. They live in NATS's own authorization (users with publish and
// subscribe permissions, enforced by the server), so that what a client may
// do on the backbone is decided by the server, not by us.
//
// The same permission sets are the least an external cluster must grant
// (docs/CLUSTER.md lists them): the daemon's user must not be allowed to
// publish on LivePrefix, so that only JetStream's RePublish, which the server
// performs internally and no user permission can grant or block, writes the
// live feed.
const (
	// DaemonUser is the daemon's own user. On the embedded server its
	// password is random per start and held only in memory: it is used by
	// the in-process connection and never printed, logged or stored.
	DaemonUser = "orgstream"
	// PublisherUser is the role of backend services: requests on
	// PublishPrefix+org and their replies, nothing else.
	PublisherUser = "publisher"
	// PublishPrefix + org is the subject of NATS publish requests.
	PublishPrefix = "orgstream.publish."
	// DaemonInboxPrefix is the inbox prefix of the daemon's connection
	// (nats.CustomInboxPrefix). It differs from the default "_INBOX" that
	// publishers may subscribe to, so no publisher can read the replies
	// the daemon gets from JetStream.
	DaemonInboxPrefix = "_ORGSTREAM_INBOX"
	// publisherInboxes is what publishers may subscribe to: the default
	// reply inboxes of every NATS client library.
	publisherInboxes = "_INBOX.>"
	// responseExpiry bounds how long the daemon may answer a request it
	// received: longer than any publish can take (append timeouts and
	// retries during a leader election).
	responseExpiry = 2 * time.Minute
	// leaderAdvisories are the stream leader advisories the log watches.
	leaderAdvisories = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.>"
	// PresenceBucket is the JetStream KV bucket of cluster presence
	// (package presence). Its subjects are the daemon's alone: a publisher
	// may neither read nor write them.
	PresenceBucket = "orgstream_presence"
	// presenceSubjects are the KV subjects the daemon writes presence on.
	presenceSubjects = "$KV." + PresenceBucket + ".>"
	// TicketBucket is the JetStream KV bucket of connect tickets (package
	// tickets). Like presence, its subjects are the daemon's alone: a
	// publisher may neither read a ticket nor forge one.
	TicketBucket = "orgstream_tickets"
	// ticketSubjects are the KV subjects the daemon writes tickets on.
	ticketSubjects = "$KV." + TicketBucket + ".>"
	// PresencePrefix starts the core NATS subjects of presence heartbeats
	// ("beat.<instance>", "leave.<instance>"): they travel outside
	// JetStream, so that no stream's leader election delays them. Only the
	// daemon may publish or read them.
	PresencePrefix = "orgstream.presence."
)

// DaemonPermissions are the least permissions of the daemon's user.
//
// Publish: the JetStream API (stream management, Direct and Message Get),
// the events and heads subjects it appends to, the presence bucket's keys
// and heartbeats, the ticket bucket's keys, and one reply to each
// request it receives (NATS's allow_responses: the publishers' inboxes, and
// no other). Nothing else: above all not LivePrefix, which it only reads.
//
// Subscribe: its own inbox, the live feed, the publish requests (queue
// group), the leader advisories and the presence heartbeats.
func DaemonPermissions() *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{"$JS.API.>", EventsPrefix + ">", HeadsPrefix + ">", presenceSubjects, PresencePrefix + ">", ticketSubjects},
			Deny:  []string{LivePrefix + ">"},
		},
		Response: &server.ResponsePermission{MaxMsgs: 1, Expires: responseExpiry},
		Subscribe: &server.SubjectPermission{
			Allow: []string{DaemonInboxPrefix + ".>", LivePrefix + ">", PublishPrefix + "*", leaderAdvisories, PresencePrefix + ">"},
		},
	}
}

// PublisherPermissions are the permissions of the publisher role: send
// requests on PublishPrefix+org, receive their replies; publishing on any
// other subject (the live feed, the JetStream API, other clients' inboxes)
// and subscribing to anything but reply inboxes is refused by the server.
func PublisherPermissions() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{PublishPrefix + "*"}},
		Subscribe: &server.SubjectPermission{Allow: []string{publisherInboxes}},
	}
}
