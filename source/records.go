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
func (m *recordMaker) key(env *Envelope, a *byteArena) []byte {
	if env.RecordID != nil {
		return a.str(*env.RecordID)
	}
	if m.peKey != "" {
		if v, ok := env.field(m.peKey); ok && v != nil {
			if s, ok := v.(string); ok {
				return a.str(s)
			}
			b, _ := json.Marshal(v)
			return b
		}
	}
	if env.EventUUID != nil {
		return a.str(*env.EventUUID)
	}
	return a.str(env.DedupeKey)
}

// envelopeVersionBytes is the sf.envelope_version header value, shared by
// every record.
var envelopeVersionBytes = []byte(strconv.Itoa(EnvelopeVersion))

// arenaSize is the room the key and header values of env take (a bound:
// the key may be shorter).
func (m *recordMaker) arenaSize(env *Envelope) int {
	n := len(env.Kind) + len(env.ChangeType) + len(env.Entity) + len(env.Channel) + 2*len(env.ReplayID)
	if env.Header != nil {
		n += len(env.Header.TransactionKey) + 20 // an int64 in decimal
	}
	switch {
	case env.RecordID != nil:
		n += len(*env.RecordID)
	case env.EventUUID != nil:
		n += len(*env.EventUUID)
	default:
		n += len(env.DedupeKey)
	}
	return n + 1 // never zero: empty values stay non-nil, as []byte("") is
}

// byteArena hands out byte slices cut from one buffer. A slice outlives a
// later append that reallocates (it keeps the old array), so a short size
// estimate costs an allocation, never correctness.
type byteArena struct{ b []byte }

func (a *byteArena) cut(start int) []byte { return a.b[start:len(a.b):len(a.b)] }

func (a *byteArena) str(s string) []byte {
	start := len(a.b)
	a.b = append(a.b, s...)
	return a.cut(start)
}

func (a *byteArena) hex(b []byte) []byte {
	start := len(a.b)
	a.b = hex.AppendEncode(a.b, b)
	return a.cut(start)
}

func (a *byteArena) int(n int64) []byte {
	start := len(a.b)
	a.b = strconv.AppendInt(a.b, n, 10)
	return a.cut(start)
}

// records turns the envelopes of one event into records positioned at the
// event's replay id: one per envelope, plus a tombstone after a DELETE when
// configured.
func (m *recordMaker) records(stream string, pos connectorlib.Position, envs []Envelope) ([]connectorlib.Record, error) {
	return m.appendRecords(make([]connectorlib.Record, 0, len(envs)), stream, pos, envs)
}

// appendRecords is records appending to out, so that a batch of events
// fills one slice.
func (m *recordMaker) appendRecords(out []connectorlib.Record, stream string, pos connectorlib.Position, envs []Envelope) ([]connectorlib.Record, error) {
	for i := range envs {
		env := &envs[i]
		topic := m.topic(env)
		value, err := m.values.Encode(topic, env)
		if err != nil {
			return nil, err
		}
		// One allocation holds the key and every header value; the slices
		// are read only (Kafka copies them into its batches).
		a := byteArena{b: make([]byte, 0, m.arenaSize(env))}
		hs := make([]connectorlib.Header, 5, 8)
		hs[0] = connectorlib.Header{Key: HeaderKind, Value: a.str(env.Kind)}
		hs[1] = connectorlib.Header{Key: HeaderChangeType, Value: a.str(env.ChangeType)}
		hs[2] = connectorlib.Header{Key: HeaderEntity, Value: a.str(env.Entity)}
		hs[3] = connectorlib.Header{Key: HeaderChannel, Value: a.str(env.Channel)}
		hs[4] = connectorlib.Header{Key: HeaderEnvelope, Value: envelopeVersionBytes}
		if env.ReplayID != nil {
			hs = append(hs, connectorlib.Header{Key: HeaderReplayID, Value: a.hex(env.ReplayID)})
		}
		if env.Header != nil {
			hs = append(hs,
				connectorlib.Header{Key: HeaderTransactionKey, Value: a.str(env.Header.TransactionKey)},
				connectorlib.Header{Key: HeaderCommitTimestamp, Value: a.int(env.Header.CommitTimestamp.UnixMilli())})
		}
		key := m.key(env, &a)
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
