package connectorlib

import "time"

// Position is an opaque, connector-owned resume token for one stream (for
// Salesforce: the replay id of one channel). The runtime stores and returns
// positions byte for byte; only the connector that produced a position
// parses it.
type Position []byte

// Positions maps a stream name to the last durable position of that stream.
type Positions map[string]Position

// Clone returns a deep copy of p.
func (p Positions) Clone() Positions {
	out := make(Positions, len(p))
	for k, v := range p {
		out[k] = append(Position(nil), v...)
	}
	return out
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one unit of data moving through the runtime.
//
// On the source path, Stream and Position are required: Position is the
// resume token that becomes durable once this record and all records before
// it in the same stream are in Kafka. Topic is the target topic.
//
// On the sink path, Topic, Partition and Offset name the Kafka record the
// sink is given; Stream and Position are unset.
type Record struct {
	// Stream is the source stream this record belongs to (for Salesforce,
	// the channel). Positions are tracked per stream.
	Stream string
	// Position is the resume token of this record within Stream.
	Position Position

	// Topic is the Kafka topic: the target for source records, the origin
	// for sink records. A source record without Topic, Key, Value and
	// Headers is a position marker: nothing is produced, and its position
	// becomes durable with the records before it (a source uses it to keep
	// a quiet stream's position fresh, or to move past an event it filtered
	// out).
	Topic string
	// Partition and Offset are set on sink records only.
	Partition int32
	// Offset is the Kafka offset of a sink record.
	Offset int64

	// Key and Value are the Kafka record's key and value. A nil Value is a
	// tombstone.
	Key, Value []byte
	// Headers are the Kafka record headers.
	Headers []Header
	// Time is the record's event time; zero means "now" on produce.
	Time time.Time
}

// Size is the record's weight in memory bounds: the bytes of its topic,
// key, value and headers.
func (r *Record) Size() int {
	n := len(r.Topic) + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Header returns the value of the first header named key, and whether it
// exists.
func (r *Record) Header(key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}
