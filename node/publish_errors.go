package node

import (
	"errors"
	"fmt"

	"github.com/orgstream/orgstream/persistence"
	"github.com/orgstream/orgstream/transport"
)

// publishErr tells the transport what a failed publish means to its
// publisher (transport.Publisher): the log's permanent refusal of an event
// over its size limit (413), an unknown outcome (503 outcome_unknown), or,
// for every other error, that nothing was stored (503 log_unavailable). The
// log sorted its errors already (persistence/jetstream_wire.go); this only
// names them in the transport's terms.
func publishErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, persistence.ErrTooLarge):
		return fmt.Errorf("%w: %w", transport.ErrPublishTooLarge, err)
	case errors.Is(err, persistence.ErrOutcomeUnknown):
		return fmt.Errorf("%w: %w", transport.ErrOutcomeUnknown, err)
	default:
		return err
	}
}
