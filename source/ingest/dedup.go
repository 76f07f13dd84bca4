package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

// dedupLoadIdle bounds how long loading the dedup topic waits without
// receiving anything before its end.
const dedupLoadIdle = 30 * time.Second

// newTopicGrace bounds the wait for a just-created dedup topic to become
// readable.
const newTopicGrace = 10 * time.Second

// dedupValue is the value of a dedup record: when the notification was
// received, which decides when it is forgotten.
type dedupValue struct {
	ReceivedAt time.Time `json:"received_at"`
}

// dedupRecord returns the dedup topic record of key: received at *at, or
// a tombstone when at is nil.
func (rc *Receiver) dedupRecord(key string, at *time.Time) connectorlib.Record {
	rec := connectorlib.Record{Stream: stream, Topic: rc.dedupTopic, Key: []byte(key)}
	if at != nil {
		rec.Value, _ = json.Marshal(dedupValue{ReceivedAt: at.UTC()})
	}
	return rec
}

// loadSeen reads the dedup topic (read_committed, to its end) and returns
// the keys received within the dedup window, and those older, to be
// tombstoned. In exactly_once the runner has fenced the previous
// transactional producer before opening the source, so every committed
// key is read and no open transaction holds the end back.
func (rc *Receiver) loadSeen(ctx context.Context) (map[string]time.Time, []string, error) {
	cl, err := kgo.NewClient(rc.deps.Kafka...)
	if err != nil {
		return nil, nil, connectorlib.Permanent(fmt.Errorf("create kafka client: %w", err))
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := kafkaio.EnsureTopics(ctx, adm, kafkaio.CompactedTopic(rc.dedupTopic)); err != nil {
		return nil, nil, fmt.Errorf("ensure dedup topic: %w", err)
	}
	var seen map[string]time.Time
	read := func() error {
		seen = map[string]time.Time{}
		return kafkaio.ReadCommitted(ctx, adm, rc.deps.Kafka, rc.dedupTopic, dedupLoadIdle, func(r *kgo.Record) error {
			if r.Value == nil {
				delete(seen, string(r.Key))
				return nil
			}
			var v dedupValue
			if err := json.Unmarshal(r.Value, &v); err != nil {
				return fmt.Errorf("decode dedup record at %d/%d: %w", r.Partition, r.Offset, err)
			}
			seen[string(r.Key)] = v.ReceivedAt
			return nil
		})
	}
	// A topic created a moment ago may not be known to the broker that
	// answers the offset lookup yet.
	for deadline := time.Now().Add(newTopicGrace); ; {
		err = read()
		if err == nil || !errors.Is(err, kerr.UnknownTopicOrPartition) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load dedup topic %s: %w", rc.dedupTopic, err)
	}
	var expired []string
	now := rc.now()
	for k, at := range seen {
		if now.Sub(at) > rc.cfg.DedupWindow {
			delete(seen, k)
			expired = append(expired, k)
		}
	}
	return seen, expired, nil
}
