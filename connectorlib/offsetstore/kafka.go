package offsetstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

// formatVersion is written into every offset record so a future format can
// be told apart.
const formatVersion = 1

// loadIdleTimeout bounds how long Load waits without receiving anything
// while it has not yet reached the end of the topic.
const loadIdleTimeout = 30 * time.Second

// key is the offset record key. Its JSON encoding is deterministic, which
// compaction needs: the same (connector, stream) always gives the same bytes.
type key struct {
	Connector string `json:"connector"`
	Stream    string `json:"stream"`
}

// value is the offset record value.
type value struct {
	Version  int       `json:"v"`
	Position []byte    `json:"position"`
	Updated  time.Time `json:"updated"`
}

// Kafka stores positions in a compacted Kafka topic.
type Kafka struct {
	client    *kgo.Client // used by Put; a transactional client must not call Put
	baseOpts  []kgo.Opt   // connection options for the private read client
	topic     string
	connector string
}

// NewKafka returns a store for connector's positions in topic. client is
// used to write (Put); baseOpts (seed brokers, TLS, SASL) are used to open a
// private read_committed consumer in Load.
func NewKafka(client *kgo.Client, baseOpts []kgo.Opt, topic, connector string) *Kafka {
	return &Kafka{client: client, baseOpts: baseOpts, topic: topic, connector: connector}
}

// Record returns the offset record for stream at position, for a caller
// that produces it itself (inside a transaction).
func (s *Kafka) Record(stream string, position []byte) *kgo.Record {
	k, _ := json.Marshal(key{Connector: s.connector, Stream: stream})
	v, _ := json.Marshal(value{Version: formatVersion, Position: position, Updated: time.Now().UTC()})
	return &kgo.Record{Topic: s.topic, Key: k, Value: v}
}

// Put implements Store: it produces one record per stream and waits until
// the broker acknowledged all of them (acks=all).
func (s *Kafka) Put(ctx context.Context, positions map[string][]byte) error {
	recs := make([]*kgo.Record, 0, len(positions))
	for stream, p := range positions {
		recs = append(recs, s.Record(stream, p))
	}
	if err := s.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("store offsets in %s: %w", s.topic, err)
	}
	return nil
}

// Load implements Store. It reads the whole topic read_committed up to its
// last stable offset and keeps the latest position of each of this
// connector's streams. Records of other connectors sharing the topic are
// ignored; a record this version cannot decode is an error, never skipped.
func (s *Kafka) Load(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := kafkaio.ReadCommitted(ctx, kadm.NewClient(s.client), s.baseOpts, s.topic, loadIdleTimeout, func(r *kgo.Record) error {
		e, err := decode(r.Key, r.Value)
		if err != nil {
			return fmt.Errorf("decode offset record at %d/%d: %w", r.Partition, r.Offset, err)
		}
		switch {
		case e.connector != s.connector:
		case e.tombstone: // the stream's position was reset
			delete(out, e.stream)
		default:
			out[e.stream] = e.position
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load positions: %w", err)
	}
	return out, nil
}

// entry is one decoded offset record.
type entry struct {
	connector, stream string
	position          []byte
	tombstone         bool
}

// decode parses an offset record. It never panics, whatever the bytes.
func decode(k, v []byte) (entry, error) {
	var key key
	if err := json.Unmarshal(k, &key); err != nil {
		return entry{}, fmt.Errorf("malformed key: %w", err)
	}
	if key.Connector == "" || key.Stream == "" {
		return entry{}, fmt.Errorf("key without connector or stream")
	}
	e := entry{connector: key.Connector, stream: key.Stream}
	if v == nil {
		e.tombstone = true
		return e, nil
	}
	var val value
	if err := json.Unmarshal(v, &val); err != nil {
		return entry{}, fmt.Errorf("malformed value: %w", err)
	}
	if val.Version != formatVersion {
		return entry{}, fmt.Errorf("unsupported format version %d", val.Version)
	}
	if val.Position == nil {
		return entry{}, fmt.Errorf("value without a position")
	}
	e.position = val.Position
	return e, nil
}
