package source

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Kafka header keys on source records.
const (
	HeaderChangeType      = "sf.change_type"
	HeaderEntity          = "sf.entity"
	HeaderReplayID        = "sf.replay_id" // hex of the replay id bytes
	HeaderTransactionKey  = "sf.transaction_key"
	HeaderCommitTimestamp = "sf.commit_timestamp" // epoch milliseconds, decimal
	HeaderKind            = "sf.kind"
	HeaderEnvelope        = "sf.envelope_version"
	HeaderChannel         = "sf.channel"
	HeaderSchemaID        = "sf.schema_id"
	HeaderDLQReason       = "sfconnect.dlq.error_message"
	HeaderDLQClass        = "sfconnect.dlq.error_class"
)

// ValueEncoder turns an envelope into a record value (JSON, or Avro in
// the Schema Registry wire format).
type ValueEncoder interface {
	Encode(topic string, env *Envelope) ([]byte, error)
}

// recordMaker turns envelopes into records.
type recordMaker struct {
	cfg    *Config
	values ValueEncoder
	dlq    string
	peKey  string
	topics sync.Map // topicKey -> the template applied
}

type topicKey struct{ entity, channel string }

// topic applies the topic template, once per entity and channel: building
// the replacer took more time than the rest of the record.
func (m *recordMaker) topic(env *Envelope) string {
	k := topicKey{env.Entity, env.Channel}
	if t, ok := m.topics.Load(k); ok {
		return t.(string)
	}
	ch := strings.ReplaceAll(strings.Trim(env.Channel, "/"), "/", ".")
	t := strings.NewReplacer("{entity}", env.Entity, "{channel}", ch).Replace(m.cfg.TopicTemplate)
	m.topics.Store(k, t)
	return t
}

// key returns the record key: the record id, or for platform events the
// configured payload field, else the event UUID.
func (m *recordMaker) key(env *Envelope) []byte {
	if env.RecordID != nil {
		return []byte(*env.RecordID)
	}
	if m.peKey != "" {
		if v, ok := env.Fields[m.peKey]; ok && v != nil {
			if s, ok := v.(string); ok {
				return []byte(s)
			}
			b, _ := json.Marshal(v)
			return b
		}
	}
	if env.EventUUID != nil {
		return []byte(*env.EventUUID)
	}
	return []byte(env.DedupeKey)
}

// records turns the envelopes of one event into records positioned at the
// event's replay id: one per envelope, plus a tombstone after a DELETE when
// configured.
func (m *recordMaker) records(stream string, pos connectorlib.Position, envs []Envelope) ([]connectorlib.Record, error) {
	out := make([]connectorlib.Record, 0, len(envs))
	for i := range envs {
		env := &envs[i]
		topic := m.topic(env)
		value, err := m.values.Encode(topic, env)
		if err != nil {
			return nil, err
		}
		hs := []connectorlib.Header{
			{Key: HeaderKind, Value: []byte(env.Kind)},
			{Key: HeaderChangeType, Value: []byte(env.ChangeType)},
			{Key: HeaderEntity, Value: []byte(env.Entity)},
			{Key: HeaderChannel, Value: []byte(env.Channel)},
			{Key: HeaderEnvelope, Value: []byte(strconv.Itoa(EnvelopeVersion))},
		}
		if env.ReplayID != nil {
			hs = append(hs, connectorlib.Header{Key: HeaderReplayID, Value: []byte(hex.EncodeToString(env.ReplayID))})
		}
		if env.Header != nil {
			hs = append(hs,
				connectorlib.Header{Key: HeaderTransactionKey, Value: []byte(env.Header.TransactionKey)},
				connectorlib.Header{Key: HeaderCommitTimestamp, Value: []byte(strconv.FormatInt(env.Header.CommitTimestamp.UnixMilli(), 10))})
		}
		key := m.key(env)
		rec := connectorlib.Record{Stream: stream, Position: pos, Topic: topic, Key: key, Value: value, Headers: hs}
		if env.Header != nil {
			rec.Time = env.Header.CommitTimestamp
		}
		out = append(out, rec)
		if m.cfg.Tombstones && env.ChangeType == "DELETE" && env.RecordID != nil {
			out = append(out, connectorlib.Record{Stream: stream, Position: pos, Topic: topic, Key: key, Headers: hs[:3]})
		}
	}
	return out, nil
}

// deadLetter is the record for an event that could not be decoded: its raw
// bytes and the reason, on the dead-letter topic, at the event's position
// (so the stream moves on past it).
func (m *recordMaker) deadLetter(stream string, pos connectorlib.Position, raw []byte, schemaID string, cause error) connectorlib.Record {
	return connectorlib.Record{
		Stream: stream, Position: pos, Topic: m.dlq, Key: []byte(hex.EncodeToString(pos)), Value: raw,
		Headers: []connectorlib.Header{
			{Key: HeaderChannel, Value: []byte(stream)},
			{Key: HeaderReplayID, Value: []byte(hex.EncodeToString(pos))},
			{Key: HeaderSchemaID, Value: []byte(schemaID)},
			{Key: HeaderDLQClass, Value: []byte(connectorlib.ClassPermanent)},
			{Key: HeaderDLQReason, Value: []byte(cause.Error())},
		},
	}
}

// marker is a position-only record: it moves the stream's durable position
// without producing anything.
func marker(stream string, pos connectorlib.Position) connectorlib.Record {
	return connectorlib.Record{Stream: stream, Position: pos}
}
