package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// Opening a store. The heads stream's Metadata records what must not
// change for the life of the store:
//
//   - orgstream_epoch: the epoch. Recorded at the first open of a store
//     (for a store written before partitions: epochOf of the legacy stream's
//     and the heads stream's creation times, today's formula, so that its
//     orgs keep their epoch), read from there afterwards: adding or deleting
//     event streams never changes it. A store whose heads stream is lost
//     (the counters) gets a new one, as before.
//   - orgstream_partitions: the partition count. Opening the store with
//     another count is ErrPartitionsChanged (orgs would move between
//     streams); the operator keeps --partitions or starts a new store.
//
// The first open of a store (no metadata yet) and the upgrade of a store
// written before partitions run under the open lock (log_jetstream_lock.go),
// so that two nodes opening at once agree on the metadata; every later open
// only reads it and creates or updates the streams with it.

// Keys of the heads stream's Metadata.
const (
	metaEpoch      = "orgstream_epoch"
	metaPartitions = "orgstream_partitions"
)

// ErrPartitionsChanged is OpenJetStream's error when the store was made with
// another partition count than JetStreamConfig.Partitions.
var ErrPartitionsChanged = errors.New("persistence: the store was made with another partition count")

// storeMeta reads the recorded epoch and partition count; ok is false when
// the store has none recorded yet.
func storeMeta(heads *jetstream.StreamInfo) (epoch string, partitions int, ok bool, err error) {
	if heads == nil {
		return "", 0, false, nil
	}
	epoch = heads.Config.Metadata[metaEpoch]
	p := heads.Config.Metadata[metaPartitions]
	if epoch == "" || p == "" {
		return "", 0, false, nil
	}
	if partitions, err = strconv.Atoi(p); err != nil || validPartitions(partitions) != nil {
		return "", 0, false, fmt.Errorf("persistence: stream %s: bad metadata %s %q", HeadsStreamName, metaPartitions, p)
	}
	return epoch, partitions, true, nil
}

// checkPartitions refuses a store recorded with another partition count.
func (c *JetStreamConfig) checkPartitions(recorded int) error {
	if recorded != c.Partitions {
		return fmt.Errorf("%w: it has %d partitions, --partitions is %d "+
			"(start with --partitions %d, or with a new data dir)", ErrPartitionsChanged, recorded, c.Partitions, recorded)
	}
	return nil
}

// openStreams creates or updates the streams and returns the store's epoch,
// moving the events of a store written before partitions into them first.
func (l *JetStreamLog) openStreams(ctx context.Context, js jetstream.JetStream) (string, error) {
	cfg := &l.cfg
	heads, err := streamInfo(ctx, js, cfg, HeadsStreamName)
	if err != nil {
		return "", err
	}
	epoch, p, recorded, err := storeMeta(heads)
	if err != nil {
		return "", err
	}
	if recorded {
		if err := cfg.checkPartitions(p); err != nil {
			return "", err
		}
		legacy, err := streamInfo(ctx, js, cfg, StreamName)
		if err != nil {
			return "", err
		}
		if legacy == nil {
			// The common open: every node writes the same metadata.
			return epoch, l.ensureAll(ctx, js, heads.Config.Metadata)
		}
	} else if heads == nil {
		// A new store, or one made before the heads stream existed: that
		// one has the marker subjects in its events stream, which the
		// legacy config releases before the heads stream can take them.
		legacy, err := streamInfo(ctx, js, cfg, StreamName)
		if err != nil {
			return "", err
		}
		if legacy != nil {
			if _, err := ensureStream(ctx, js, cfg, cfg.legacyStreamConfig()); err != nil {
				return "", err
			}
		}
		if err := createStream(ctx, js, cfg, cfg.headsStreamConfig(nil)); err != nil {
			return "", err
		}
	}
	lk, err := l.lockOpen(ctx)
	if err != nil {
		return "", err
	}
	defer lk.release()
	return l.openLocked(ctx, js, lk)
}

// openLocked is the first open of a store, or its upgrade, under the open
// lock: it reads the state again (another node may have done it meanwhile),
// records the metadata, creates the partitions and moves the legacy
// stream's events into them.
func (l *JetStreamLog) openLocked(ctx context.Context, js jetstream.JetStream, lk *openLock) (string, error) {
	cfg := &l.cfg
	heads, err := streamInfo(ctx, js, cfg, HeadsStreamName)
	if err != nil {
		return "", err
	}
	if heads == nil {
		return "", fmt.Errorf("%w: stream %s vanished while opening", ErrUnavailable, HeadsStreamName)
	}
	legacy, err := streamInfo(ctx, js, cfg, StreamName)
	if err != nil {
		return "", err
	}
	epoch, p, recorded, err := storeMeta(heads)
	switch {
	case err != nil:
		return "", err
	case recorded:
		if err := cfg.checkPartitions(p); err != nil {
			return "", err
		}
	case legacy != nil:
		epoch = epochOf(legacy.Created, heads.Created)
	default:
		epoch = epochOf(heads.Created, heads.Created)
	}
	meta := map[string]string{metaEpoch: epoch, metaPartitions: strconv.Itoa(cfg.Partitions)}
	if err := l.ensureAll(ctx, js, meta); err != nil {
		return "", err
	}
	if legacy != nil {
		if err := l.upgrade(ctx, js, lk); err != nil {
			return "", err
		}
	}
	return epoch, nil
}

// ensureAll creates or updates the heads stream (with meta, the store's
// metadata) and every partition's stream.
func (l *JetStreamLog) ensureAll(ctx context.Context, js jetstream.JetStream, meta map[string]string) error {
	if _, err := ensureStream(ctx, js, &l.cfg, l.cfg.headsStreamConfig(meta)); err != nil {
		return err
	}
	for i := range l.parts {
		if _, err := ensureStream(ctx, js, &l.cfg, l.cfg.partitionConfig(i)); err != nil {
			return err
		}
	}
	return nil
}

// storeMetadata is the part of meta that the store records (the server adds
// keys of its own, which it sets itself).
func storeMetadata(meta map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{metaEpoch, metaPartitions} {
		if v, ok := meta[k]; ok {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// streamInfo is the stream's info, nil when it does not exist, retrying
// while JetStream is not ready.
func streamInfo(ctx context.Context, js jetstream.JetStream, cfg *JetStreamConfig, name string) (*jetstream.StreamInfo, error) {
	var info *jetstream.StreamInfo
	err := retryOpen(ctx, cfg, name, cfg.Replicas, "info of", func(rctx context.Context) error {
		s, err := js.Stream(rctx, name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			info = nil
			return nil
		case err != nil:
			return err
		}
		info = s.CachedInfo()
		return nil
	})
	return info, err
}

// createStream creates the stream unless it exists (with any config: a
// node that opens at the same time may have recorded the metadata already).
func createStream(ctx context.Context, js jetstream.JetStream, cfg *JetStreamConfig, scfg jetstream.StreamConfig) error {
	return retryOpen(ctx, cfg, scfg.Name, scfg.Replicas, "create", func(rctx context.Context) error {
		_, err := js.CreateStream(rctx, scfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil
		}
		return err
	})
}
