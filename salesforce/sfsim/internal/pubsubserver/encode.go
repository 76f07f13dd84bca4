package pubsubserver

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// encoder turns bus events into ConsumerEvents for one stream. It remembers
// the last codecs it used, so a run of events of one object costs no shared
// lookups. Not safe for concurrent use.
type encoder struct {
	s            *Server
	lastDescribe *salesforce.SObjectDescribe
	lastChange   *changeCodec
	// platform holds the platform event codecs of the current batch; it is
	// reset per batch so that redefined events pick up their new schema.
	platform map[string]*platformCodec
	scratch  encodeScratch
}

// newBatch starts a batch.
func (e *encoder) newBatch() { clear(e.platform) }

// encode returns the wire form of ev, from the server's cache when another
// subscription already encoded it. Cached ConsumerEvents are shared and must
// not be modified.
func (e *encoder) encode(ev *bus.Event) (*pubsubpb.ConsumerEvent, error) {
	if ce := e.s.events.get(ev.ReplayID); ce != nil {
		return ce, nil
	}
	var (
		schemaID string
		payload  []byte
		err      error
	)
	switch ev.Kind {
	case bus.KindChange:
		var c *changeCodec
		if c, err = e.changeCodec(ev); err == nil {
			schemaID = c.schema.ID()
			payload, err = c.encode(ev, &e.scratch)
		}
	case bus.KindPlatform:
		var c *platformCodec
		if c, err = e.platformCodec(ev); err == nil {
			schemaID = c.schema.ID()
			payload, err = c.encode(ev, e.s.cfg.Org.UserID())
		}
	default:
		err = fmt.Errorf("event kind %d is not delivered by the Pub/Sub API", ev.Kind)
	}
	if err != nil {
		return nil, newError(codes.Internal, errorCodeSubscriptionInternal, "encode event %d of %s: %v", ev.ReplayID, ev.Channel, err)
	}
	ce := &pubsubpb.ConsumerEvent{
		Event: &pubsubpb.ProducerEvent{
			Id:       eventID(e.s.cfg.Org.OrgID(), ev),
			SchemaId: schemaID,
			Payload:  payload,
		},
		ReplayId: pubsub.EncodeReplayID(ev.ReplayID),
	}
	e.s.events.put(ev.ReplayID, ce)
	return ce, nil
}

// changeCodec returns the codec of a change event's describe snapshot, or
// of the object's current describe for an event without one.
func (e *encoder) changeCodec(ev *bus.Event) (*changeCodec, error) {
	if ev.Describe == nil {
		return e.s.currentChangeCodec(ev.Header.EntityName)
	}
	if ev.Describe == e.lastDescribe {
		return e.lastChange, nil
	}
	c, err := e.s.changeCodecFor(ev.Describe)
	if err != nil {
		return nil, err
	}
	e.lastDescribe, e.lastChange = ev.Describe, c
	return c, nil
}

// platformCodec returns the codec of a platform event's definition.
func (e *encoder) platformCodec(ev *bus.Event) (*platformCodec, error) {
	name := strings.TrimPrefix(ev.Channel, "/event/")
	if c, ok := e.platform[name]; ok {
		return c, nil
	}
	c, err := e.s.platformCodec(name)
	if err != nil {
		return nil, err
	}
	if e.platform == nil {
		e.platform = map[string]*platformCodec{}
	}
	e.platform[name] = c
	return c, nil
}

// encode writes a change event's Avro payload. Body values are in describe
// names and the org's value forms; they are placed into the schema's fields
// (components into their compound's record) and converted to the schema's
// types. Header field lists are converted from describe names to bitmaps.
// scratch is reused between calls; the result is a fresh slice.
func (c *changeCodec) encode(ev *bus.Event, scratch *encodeScratch) ([]byte, error) {
	var bitmaps [3][]string // nulledFields, diffFields, changedFields
	var err error
	h := &ev.Header
	for i, names := range [3][]string{h.NulledFields, h.DiffFields, h.ChangedFields} {
		if bitmaps[i], err = c.bitmap(names); err != nil {
			return nil, fmt.Errorf("%s: %w", [3]string{"nulledFields", "diffFields", "changedFields"}[i], err)
		}
	}
	if c.plan != nil {
		vals := scratch.values(c.plan.nvals)
		for name, v := range ev.Fields {
			if v == nil {
				continue
			}
			bf, ok := c.field(name)
			if !ok || bf.compound {
				continue
			}
			if vals[bf.slot], err = eventValue(bf.typ, v); err != nil {
				return nil, fmt.Errorf("field %s: %w", name, err)
			}
		}
		buf, err := c.plan.encode(scratch.buf[:0], h, &bitmaps, vals)
		if err == nil {
			scratch.buf = buf
			return bytes.Clone(buf), nil
		}
		if !errors.Is(err, errUnplanned) {
			return nil, err
		}
	}
	return c.encodeWithCDC(ev, bitmaps)
}

// encodeWithCDC encodes with cdc.Schema.Encode, the reference encoding.
func (c *changeCodec) encodeWithCDC(ev *bus.Event, bitmaps [3][]string) ([]byte, error) {
	fields := make(map[string]any, len(ev.Fields))
	for name, v := range ev.Fields {
		if v == nil {
			continue
		}
		bf, ok := c.field(name)
		if !ok || bf.compound {
			continue
		}
		val, err := eventValue(bf.typ, v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		if bf.comp == "" {
			fields[bf.top] = val
			continue
		}
		rec, _ := fields[bf.top].(map[string]any)
		if rec == nil {
			rec = map[string]any{}
			fields[bf.top] = rec
		}
		rec[bf.comp] = val
	}
	h := ev.Header
	header := cdc.Header{
		EntityName:      h.EntityName,
		RecordIDs:       h.RecordIDs,
		ChangeType:      cdc.ChangeType(h.ChangeType),
		ChangeOrigin:    h.ChangeOrigin,
		TransactionKey:  h.TransactionKey,
		SequenceNumber:  int32(h.SequenceNumber),
		CommitTimestamp: h.CommitTimestamp,
		CommitNumber:    h.CommitNumber,
		CommitUser:      h.CommitUser,
		NulledFields:    bitmaps[0],
		DiffFields:      bitmaps[1],
		ChangedFields:   bitmaps[2],
	}
	return c.schema.Encode(&cdc.ChangeEvent{Header: header, Fields: fields})
}

// encodeScratch is memory an encoder reuses from event to event.
type encodeScratch struct {
	vals []any
	buf  []byte
}

// values returns n cleared value slots.
func (s *encodeScratch) values(n int) []any {
	if cap(s.vals) < n {
		s.vals = make([]any, n)
	}
	s.vals = s.vals[:n]
	clear(s.vals)
	return s.vals
}

// bitmap converts describe field names (BillingCity) to schema paths
// (BillingAddress.City) and encodes them as a Pub/Sub field bitmap. Fields
// the schema does not carry (SystemModstamp, formulas) are left out.
func (c *changeCodec) bitmap(names []string) ([]string, error) {
	if len(names) == 0 {
		return []string{}, nil
	}
	paths := make([]string, 0, len(names))
	for _, n := range names {
		if bf, ok := c.field(n); ok {
			paths = append(paths, bf.path)
		}
	}
	return c.schema.EncodeFields(paths)
}

// encode writes a platform event's Avro payload. Fields are matched to the
// schema case-insensitively; fields it does not have (no longer defined)
// are dropped. CreatedDate and CreatedById, required by the schema, default
// to the publish time and the org's user.
func (c *platformCodec) encode(ev *bus.Event, userID string) ([]byte, error) {
	fields := make(map[string]any, len(ev.Fields)+2)
	for name, v := range ev.Fields {
		if v == nil {
			continue
		}
		pf, ok := c.fields[strings.ToLower(name)]
		if !ok {
			continue
		}
		val, err := eventValue(pf.typ, v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		fields[pf.name] = val
	}
	if fields["CreatedDate"] == nil {
		fields["CreatedDate"] = ev.Published.UnixMilli()
	}
	if fields["CreatedById"] == nil {
		fields["CreatedById"] = userID
	}
	return c.schema.EncodePlatform(&cdc.PlatformEvent{Fields: fields})
}

// eventValue converts a stored value to what the event schema carries.
var eventValue = org.EventValue

// eventID returns the event's id: a platform event's EventUuid, or for
// other events a UUID derived from the org and the replay id, so that a
// redelivered event keeps its id.
func eventID(orgID string, ev *bus.Event) string {
	if ev.EventUUID != "" {
		return ev.EventUUID
	}
	sum := sha256.Sum256([]byte("sfsim-event/" + orgID + "/" + strconv.FormatInt(ev.ReplayID, 10)))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x50 // name-based
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return formatUUID(b)
}

// defaultEventCacheSize is how many encoded events the server keeps (a few
// MB): enough for several subscriptions reading the same recent events. A
// backlog of the whole retention window is re-encoded instead of held.
const defaultEventCacheSize = 1 << 14

// eventCache keeps the ConsumerEvents of recently encoded events by replay
// id, evicting the oldest first. Events are immutable, so an encoding stays
// valid for as long as the event exists.
type eventCache struct {
	mu   sync.Mutex
	byID map[int64]*pubsubpb.ConsumerEvent
	ring []int64 // replay ids in insertion order, a circular buffer
	next int
}

func newEventCache(size int) *eventCache {
	return &eventCache{byID: make(map[int64]*pubsubpb.ConsumerEvent, size), ring: make([]int64, 0, size)}
}

func (c *eventCache) get(replayID int64) *pubsubpb.ConsumerEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[replayID]
}

func (c *eventCache) put(replayID int64, ce *pubsubpb.ConsumerEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[replayID]; ok {
		return
	}
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, replayID)
	} else {
		delete(c.byID, c.ring[c.next])
		c.ring[c.next] = replayID
		c.next = (c.next + 1) % len(c.ring)
	}
	c.byID[replayID] = ce
}
