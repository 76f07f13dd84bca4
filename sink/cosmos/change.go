package cosmos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// op is what a change does to its document.
type op int

const (
	// opReplace sets the whole state of the record: CREATE, UNDELETE,
	// snapshots, resyncs, gap repairs, platform events.
	opReplace op = iota + 1
	// opMerge sets the changed fields and nulls the nulled ones: UPDATE.
	opMerge
	// opDelete removes the record: DELETE, a gap repair of a record gone
	// since, a Kafka tombstone.
	opDelete
)

func (o op) String() string {
	switch o {
	case opReplace:
		return "replace"
	case opMerge:
		return "merge"
	case opDelete:
		return "delete"
	}
	return "unknown"
}

// Envelope kinds the sink understands (schemas/change_envelope.avsc).
const (
	kindChange        = "CHANGE"
	kindPlatformEvent = "PLATFORM_EVENT"
	kindPushTopic     = "PUSH_TOPIC"
	kindGapRepair     = "GAP_REPAIR"
	kindResync        = "RESYNC"
	kindSnapshot      = "SNAPSHOT"
)

// Kafka headers the source sets; a tombstone carries only these.
const (
	headerEntity = "sf.entity"
)

// Dead-letter codes of the records this sink rejects.
const (
	codeDecode     = "DECODE"
	codeChangeType = "UNKNOWN_CHANGE_TYPE"
	codeInvalid    = "INVALID_RECORD"
	codeTooLarge   = "DOCUMENT_TOO_LARGE"
	codeBadRequest = "BAD_REQUEST"
	codeGap        = "GAP_NOT_REPAIRED"
)

// change is one decoded sink record.
type change struct {
	idx      int    // index in the Write batch
	docID    string // Cosmos document id
	recordID string
	entity   string
	op       op
	fields   map[string]any
	nulled   []string
	diff     []string // fields whose value is a diff, not a value
	ver      version
	// versioned is false when the record carries no order (a tombstone, a
	// platform event, a full state without SystemModstamp).
	versioned bool
	source    string // topic/partition@offset
}

// envelope is the part of io.sfconnect.v1.ChangeEnvelope the sink reads.
type envelope struct {
	EnvelopeVersion int             `json:"envelope_version"`
	Kind            string          `json:"kind"`
	Entity          string          `json:"entity"`
	RecordID        *string         `json:"record_id"`
	ChangeType      string          `json:"change_type"`
	Fields          map[string]any  `json:"fields"`
	ChangedFields   []string        `json:"changed_fields"`
	NulledFields    []string        `json:"nulled_fields"`
	DiffFields      []string        `json:"diff_fields"`
	Header          *envelopeHeader `json:"header"`
}

type envelopeHeader struct {
	SequenceNumber  int32     `json:"sequence_number"`
	CommitTimestamp time.Time `json:"commit_timestamp"`
	CommitNumber    int64     `json:"commit_number"`
}

// reservedFields are document properties a Salesforce field must not
// overwrite: Cosmos DB's own and the sink's.
var reservedFields = map[string]bool{
	"id": true, "sobject": true, "ttl": true, metaField: true, diffField: true,
	"_rid": true, "_etag": true, "_ts": true, "_self": true, "_attachments": true,
}

// decodeChange turns a sink record into a change. Errors are permanent:
// the record itself is wrong, and no retry can fix it.
func (s *Sink) decodeChange(ctx context.Context, idx int, r *connectorlib.Record) (*change, error) {
	c := &change{idx: idx, source: fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)}
	if r.Value == nil {
		// A Kafka tombstone: the record is gone. It carries no version, so
		// it applies unconditionally, after the changes before it.
		if len(r.Key) == 0 {
			return nil, connectorlib.PermanentCode(codeInvalid, errors.New("tombstone without a key"))
		}
		c.recordID, c.op = string(r.Key), opDelete
		if e, ok := r.Header(headerEntity); ok {
			c.entity = string(e)
		}
		return c, s.setDocID(c, r.Topic)
	}
	env, err := s.decodeValue(ctx, r.Value)
	if err != nil {
		return nil, err
	}
	if env.EnvelopeVersion != 1 {
		return nil, connectorlib.PermanentCode(codeDecode, fmt.Errorf("envelope_version %d is not supported (want 1)", env.EnvelopeVersion))
	}
	c.entity = env.Entity
	// The Kafka key names the record (the source keys by record Id, and a
	// platform event by its UUID or a configured field); record_id is the
	// fallback for producers that set no key.
	switch {
	case len(r.Key) > 0:
		c.recordID = string(r.Key)
	case env.RecordID != nil && *env.RecordID != "":
		c.recordID = *env.RecordID
	default:
		return nil, connectorlib.PermanentCode(codeInvalid, errors.New("record has neither a record_id nor a key"))
	}
	if err := s.setOp(c, env); err != nil {
		return nil, err
	}
	for k := range env.Fields {
		if reservedFields[k] || k == "" {
			return nil, connectorlib.PermanentCode(codeInvalid, fmt.Errorf("field %q collides with a reserved document property", k))
		}
	}
	c.fields = env.Fields
	c.nulled = env.NulledFields
	c.diff = env.DiffFields
	s.setVersion(c, env)
	return c, s.setDocID(c, r.Topic)
}

// decodeValue decodes a JSON envelope, or an Avro one in the Schema
// Registry wire format (a JSON text never starts with a zero byte).
func (s *Sink) decodeValue(ctx context.Context, value []byte) (*envelope, error) {
	if len(value) > 0 && value[0] == 0 {
		if s.avro == nil {
			return nil, connectorlib.PermanentCode(codeDecode, fmt.Errorf(
				"value is Avro in the Schema Registry wire format, but %s_COSMOS_SCHEMA_REGISTRY_URL is not set", connectorlib.EnvPrefix))
		}
		return s.avro.decode(ctx, value)
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber() // keep longs exact
	if err := dec.Decode(&env); err != nil {
		return nil, connectorlib.PermanentCode(codeDecode, fmt.Errorf("decode change envelope: %w", err))
	}
	if dec.More() {
		return nil, connectorlib.PermanentCode(codeDecode, errors.New("decode change envelope: trailing data after the JSON value"))
	}
	return &env, nil
}

// setOp maps kind and change type to the operation.
func (s *Sink) setOp(c *change, env *envelope) error {
	ct := env.ChangeType
	unknown := func() error {
		return connectorlib.PermanentCode(codeChangeType, fmt.Errorf("unknown change type %q for kind %q", ct, env.Kind))
	}
	switch env.Kind {
	case kindChange:
		switch ct {
		case "CREATE", "UNDELETE":
			c.op = opReplace
		case "UPDATE":
			c.op = opMerge
		case "DELETE":
			c.op = opDelete
		case "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW":
			// A gap event says the record changed but not how; the source
			// repairs it (SOURCE_GAP_REPAIR) into a GAP_REPAIR envelope.
			return connectorlib.PermanentCode(codeGap, fmt.Errorf("%s event without field values: enable SOURCE_GAP_REPAIR on the source", ct))
		default:
			return unknown()
		}
	case kindGapRepair:
		switch {
		case ct == "DELETE" || ct == "GAP_DELETE":
			c.op = opDelete
		case strings.HasPrefix(ct, "GAP_") || ct == "CREATE" || ct == "UPDATE" || ct == "UNDELETE":
			c.op = opReplace
		default:
			return unknown()
		}
	case kindSnapshot, kindResync:
		if ct != "SNAPSHOT" {
			return unknown()
		}
		c.op = opReplace
	case kindPushTopic:
		switch ct {
		case "created", "undeleted":
			c.op = opReplace
		case "updated":
			c.op = opMerge // a PushTopic sends the query's fields only
		case "deleted":
			c.op = opDelete
		default:
			return unknown()
		}
	case kindPlatformEvent:
		if ct != "PUBLISH" {
			return unknown()
		}
		c.op = opReplace
	default:
		return connectorlib.PermanentCode(codeChangeType, fmt.Errorf("unknown envelope kind %q", env.Kind))
	}
	return nil
}

// setVersion derives the change's position in the record's history; see
// version for the order.
func (s *Sink) setVersion(c *change, env *envelope) {
	full := c.op == opReplace && env.Kind != kindChange && env.Kind != kindPushTopic
	if h := env.Header; h != nil && !h.CommitTimestamp.IsZero() {
		c.ver = version{TS: h.CommitTimestamp.UnixMilli(), CN: h.CommitNumber, Seq: h.SequenceNumber, Full: full}
		c.versioned = true
	}
	// A state read through REST (snapshot, resync, gap repair) is at least
	// as new as its SystemModstamp, which may be later than the gap event
	// that triggered the read. Change events keep their header's order.
	for _, f := range []string{"SystemModstamp", "LastModifiedDate"} {
		if env.Kind == kindChange {
			break
		}
		if ts, ok := parseModstamp(env.Fields[f]); ok {
			if !c.versioned || ts > c.ver.TS {
				c.ver = version{TS: ts, Full: full}
				c.versioned = true
			}
			break
		}
	}
	if env.Kind == kindPlatformEvent {
		c.versioned = false // events are immutable: nothing to order
	}
}

// setDocID builds the document id from the id template.
func (s *Sink) setDocID(c *change, topic string) error {
	id := strings.NewReplacer("{id}", c.recordID, "{entity}", c.entity, "{topic}", topic).Replace(s.cfg.IDTemplate)
	switch {
	case strings.Contains(s.cfg.IDTemplate, "{entity}") && c.entity == "":
		return connectorlib.PermanentCode(codeInvalid, fmt.Errorf("id template %q needs the entity, which the record does not name", s.cfg.IDTemplate))
	case strings.ContainsAny(id, `/\?#`):
		return connectorlib.PermanentCode(codeInvalid, fmt.Errorf("document id %q holds a character Cosmos DB forbids (/ \\ ? #)", id))
	case len(id) > 255:
		return connectorlib.PermanentCode(codeInvalid, fmt.Errorf("document id of %d characters exceeds Cosmos DB's 255", len(id)))
	}
	c.docID = id
	return nil
}
