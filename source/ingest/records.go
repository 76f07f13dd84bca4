package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/source"
)

// Envelope kinds of this source (schemas/change_envelope.avsc, enum Kind):
// the origin mark that tells these records from the streaming source's.
const (
	KindOutboundMessage = "OUTBOUND_MESSAGE"
	KindWebhook         = "WEBHOOK"
)

// changeNotification is the change_type of an Outbound Message record:
// Salesforce does not say what triggered the workflow rule.
const changeNotification = "NOTIFICATION"

// Kafka record headers this source sets.
const (
	HeaderOrigin         = "sfconnect.origin"
	HeaderNotificationID = "sfconnect.notification_id"
	HeaderOrganizationID = "sfconnect.organization_id"
	HeaderActionID       = "sfconnect.action_id"
	// HeaderDuplicate is "true" on a record whose notification id was seen
	// before (at_least_once only). It is advisory: the earlier copy may not
	// have reached Kafka, so consumers that must see each notification once
	// keep the first record per HeaderNotificationID rather than dropping
	// every flagged record.
	HeaderDuplicate = "sfconnect.duplicate"
)

// item is one notification or event, ready to queue: its record and the
// dedup key that identifies it across the sender's retries ("" when it has
// none).
type item struct {
	key    string
	record connectorlib.Record
}

// outboundItems builds the records of an Outbound Message.
func (rc *Receiver) outboundItems(msg *OutboundMessage, now time.Time) ([]item, error) {
	org15 := msg.OrganizationID[:min(15, len(msg.OrganizationID))]
	out := make([]item, 0, len(msg.Notifications))
	for _, n := range msg.Notifications {
		env := source.Envelope{
			EnvelopeVersion: source.EnvelopeVersion, Kind: KindOutboundMessage, Entity: n.Object,
			ChangeType: changeNotification, Fields: n.Fields, ChangedFields: []string{}, NulledFields: []string{},
			DiffFields: []string{}, Channel: "/outbound/" + msg.ActionID, EventUUID: &n.ID,
			DedupeKey: "outbound|" + org15 + "|" + n.ID, ReceivedAt: now,
		}
		key := []byte(n.ID) // deleted before delivery: no record id to key by
		if n.RecordID != "" {
			id := n.RecordID
			env.RecordID = &id
			key = []byte(id)
		}
		rec, err := rc.record(EndpointOutbound, n.Object, key, &env, now,
			connectorlib.Header{Key: HeaderNotificationID, Value: []byte(n.ID)},
			connectorlib.Header{Key: HeaderOrganizationID, Value: []byte(msg.OrganizationID)},
			connectorlib.Header{Key: HeaderActionID, Value: []byte(msg.ActionID)})
		if err != nil {
			return nil, err
		}
		out = append(out, item{key: env.DedupeKey, record: rec})
	}
	return out, nil
}

// webhookItems builds the records of webhook events.
func (rc *Receiver) webhookItems(events []WebhookEvent, now time.Time) ([]item, error) {
	out := make([]item, 0, len(events))
	for i := range events {
		ev := &events[i]
		id := ev.RecordID
		env := source.Envelope{
			EnvelopeVersion: source.EnvelopeVersion, Kind: KindWebhook, Entity: ev.Object, RecordID: &id,
			ChangeType: ev.ChangeType, Fields: ev.Fields, ChangedFields: []string{}, NulledFields: []string{},
			DiffFields: []string{}, Channel: "/webhook", ReceivedAt: now,
		}
		var hdrs []connectorlib.Header
		key := ""
		if ev.ID != "" {
			evID := ev.ID
			env.EventUUID = &evID
			key = "webhook|" + ev.ID
			env.DedupeKey = key
			hdrs = append(hdrs, connectorlib.Header{Key: HeaderNotificationID, Value: []byte(ev.ID)})
		} else {
			// No id from the sender: the envelope's key names the record
			// and the arrival, which is unique but not stable across retries.
			env.DedupeKey = fmt.Sprintf("webhook|%s|%s", ev.RecordID, now.Format(time.RFC3339Nano))
		}
		rec, err := rc.record(EndpointWebhook, ev.Object, []byte(id), &env, now, hdrs...)
		if err != nil {
			return nil, err
		}
		out = append(out, item{key: key, record: rec})
	}
	return out, nil
}

// record encodes env as the Kafka record of object.
func (rc *Receiver) record(endpoint, object string, key []byte, env *source.Envelope, now time.Time, hdrs ...connectorlib.Header) (connectorlib.Record, error) {
	value, err := json.Marshal(env)
	if err != nil {
		return connectorlib.Record{}, fmt.Errorf("encode envelope: %w", err)
	}
	topic := strings.NewReplacer("{entity}", object, "{endpoint}", endpoint).Replace(rc.cfg.TopicTemplate)
	headers := append([]connectorlib.Header{{Key: HeaderOrigin, Value: []byte(endpoint)}}, hdrs...)
	return connectorlib.Record{Stream: stream, Topic: topic, Key: key, Value: value, Headers: headers, Time: now}, nil
}
