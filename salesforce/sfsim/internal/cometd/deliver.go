package cometd

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// isoMillis is how CometD renders datetimes: UTC with milliseconds and Z.
const isoMillis = "2006-01-02T15:04:05.000Z"

// encoder turns bus events into CometD data messages. It caches schemas by
// describe snapshot, which the org never mutates. Safe for concurrent use.
type encoder struct {
	schemas sync.Map // *salesforce.SObjectDescribe -> *schemaEntry
}

type schemaEntry struct {
	schema *cdc.Schema
	err    error
}

// message returns the Bayeux message delivering ev to a subscriber of
// channel. userID stands in for a platform event's CreatedById when the
// publisher set none.
func (e *encoder) message(ev *bus.Event, channel, userID string) reply {
	var data map[string]any
	switch ev.Kind {
	case bus.KindChange:
		data = e.changeData(ev)
	case bus.KindPlatform:
		data = e.platformData(ev, userID)
	default:
		data = pushTopicData(ev)
	}
	return reply{"channel": channel, "data": data}
}

// changeSchema returns the change event schema of a describe snapshot.
func (e *encoder) changeSchema(d *salesforce.SObjectDescribe) (*cdc.Schema, error) {
	if v, ok := e.schemas.Load(d); ok {
		se := v.(*schemaEntry)
		return se.schema, se.err
	}
	s, err := cdc.ChangeEventSchema(d)
	v, _ := e.schemas.LoadOrStore(d, &schemaEntry{schema: s, err: err})
	se := v.(*schemaEntry)
	return se.schema, se.err
}

// changeData is the data of a change event (protocol reference §2.4):
// {schema, payload, event:{replayId}}. The payload comes from
// cdc.CometDPayload; an event the cdc package cannot encode (a describe
// with a field type it does not map) is still delivered, with the payload
// built here by the same rules, so no event is dropped.
func (e *encoder) changeData(ev *bus.Event) map[string]any {
	event := map[string]any{"replayId": ev.ReplayID}
	if ev.Describe != nil {
		if s, err := e.changeSchema(ev.Describe); err == nil {
			if ce, err := toChangeEvent(ev, s); err == nil {
				if payload, err := cdc.CometDPayload(ce, s); err == nil {
					return map[string]any{"schema": s.ID(), "payload": payload, "event": event}
				}
			}
		}
	}
	return map[string]any{"schema": fallbackSchemaID(ev), "payload": fallbackChangePayload(ev), "event": event}
}

// toChangeEvent converts a bus change event (describe names, REST value
// formats) into the cdc form: top-level schema names with compounds nested,
// datetimes as times, changedFields as bitmaps.
func toChangeEvent(ev *bus.Event, s *cdc.Schema) (*cdc.ChangeEvent, error) {
	types := fieldTypes(ev.Describe)
	compound := map[string]bool{}
	for _, f := range s.Fields() {
		if f.Compound {
			compound[f.Name] = true
		}
	}
	fields := map[string]any{}
	for name, v := range ev.Fields {
		if v == nil {
			continue
		}
		path, ok := s.Path(name)
		if !ok {
			continue // Id, IsDeleted, SystemModstamp, calculated fields
		}
		parent, child, nested := strings.Cut(path, ".")
		switch {
		case nested:
			m, _ := fields[parent].(map[string]any)
			if m == nil {
				m = map[string]any{}
				fields[parent] = m
			}
			m[child] = avroValue(types[strings.ToLower(name)], v)
		case compound[path]:
			// The compound's own value (Contact.Name composed from its
			// components) is carried by its components.
		default:
			fields[path] = avroValue(types[strings.ToLower(name)], v)
		}
	}
	var changed []string
	for _, name := range ev.Header.ChangedFields {
		if path, ok := s.Path(name); ok {
			changed = append(changed, path)
		}
	}
	bitmaps, err := s.EncodeFields(changed)
	if err != nil {
		return nil, err
	}
	h := ev.Header
	return &cdc.ChangeEvent{
		Header: cdc.Header{
			EntityName: h.EntityName, RecordIDs: h.RecordIDs, ChangeType: cdc.ChangeType(h.ChangeType),
			ChangeOrigin: h.ChangeOrigin, TransactionKey: h.TransactionKey, SequenceNumber: int32(h.SequenceNumber),
			CommitTimestamp: h.CommitTimestamp, CommitNumber: h.CommitNumber, CommitUser: h.CommitUser,
			ChangedFields: bitmaps,
		},
		Fields: fields,
	}, nil
}

// fieldTypes maps lower-case describe names to lower-case field types.
func fieldTypes(d *salesforce.SObjectDescribe) map[string]string {
	out := map[string]string{}
	if d == nil {
		return out
	}
	for _, f := range d.Fields {
		out[strings.ToLower(f.Name)] = strings.ToLower(f.Type)
	}
	return out
}

// avroValue converts an org value to what the cdc package encodes
// (org.EventValue); a value that does not parse is left for the cdc
// package to refuse.
func avroValue(sfType string, v any) any {
	if out, err := org.EventValue(sfType, v); err == nil {
		return out
	}
	return v
}

// fallbackChangePayload builds a CometD change event payload without the
// cdc package, by the rules of protocol reference §2.4: compound components
// nested under their compound, null values and system fields left out,
// datetimes as ISO strings, changedFields as names.
func fallbackChangePayload(ev *bus.Event) map[string]any {
	byName := map[string]*salesforce.Field{}
	compounds := map[string]bool{}
	if ev.Describe != nil {
		for i := range ev.Describe.Fields {
			f := &ev.Describe.Fields[i]
			byName[strings.ToLower(f.Name)] = f
			if f.CompoundFieldName != "" {
				compounds[strings.ToLower(f.CompoundFieldName)] = true
			}
		}
	}
	path := func(name string) string {
		f := byName[strings.ToLower(name)]
		if f == nil || f.CompoundFieldName == "" {
			return name
		}
		return f.CompoundFieldName + "." + componentName(f)
	}
	h := ev.Header
	changed := make([]string, 0, len(h.ChangedFields))
	for _, name := range h.ChangedFields {
		changed = append(changed, path(name))
	}
	payload := map[string]any{cdc.HeaderField: map[string]any{
		"entityName": h.EntityName, "recordIds": append([]string{}, h.RecordIDs...), "changeType": h.ChangeType,
		"changeOrigin": h.ChangeOrigin, "transactionKey": h.TransactionKey, "sequenceNumber": h.SequenceNumber,
		"commitTimestamp": h.CommitTimestamp, "commitNumber": h.CommitNumber, "commitUser": h.CommitUser,
		"changedFields": changed,
	}}
	for name, v := range ev.Fields {
		f := byName[strings.ToLower(name)]
		switch {
		case v == nil, excludedField(name), f != nil && f.Calculated, compounds[strings.ToLower(name)]:
			continue
		case f != nil && f.CompoundFieldName != "":
			m, _ := payload[f.CompoundFieldName].(map[string]any)
			if m == nil {
				m = map[string]any{}
				payload[f.CompoundFieldName] = m
			}
			m[componentName(f)] = jsonValue(f.Type, v)
		default:
			typ := ""
			if f != nil {
				typ = f.Type
			}
			payload[name] = jsonValue(typ, v)
		}
	}
	return payload
}

// excludedField reports the system fields never sent in change events.
func excludedField(name string) bool {
	switch strings.ToLower(name) {
	case "id", "isdeleted", "systemmodstamp":
		return true
	}
	return false
}

// componentName is the nested name of a compound component: address and
// location components lose the compound's prefix (BillingCity → City,
// Geo__Latitude__s → Latitude); others keep their name (FirstName).
func componentName(f *salesforce.Field) string {
	c := f.CompoundFieldName
	if base, ok := strings.CutSuffix(c, "__c"); ok {
		if rest, ok := strings.CutPrefix(f.Name, base+"__"); ok {
			if rest = strings.TrimSuffix(rest, "__s"); rest != "" {
				return rest
			}
		}
		return f.Name
	}
	for _, suffix := range []string{"Address", "Location"} {
		if base, ok := strings.CutSuffix(c, suffix); ok {
			if rest, ok := strings.CutPrefix(f.Name, base); ok && rest != "" {
				return rest
			}
		}
	}
	return f.Name
}

// jsonValue renders a value for CometD: datetimes (by type, or time.Time)
// as ISO UTC strings; everything else as is.
func jsonValue(sfType string, v any) any {
	switch x := v.(type) {
	case time.Time:
		if strings.EqualFold(sfType, "date") {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format(isoMillis)
	case string:
		if strings.EqualFold(sfType, "datetime") {
			if t, err := org.ParseDateTime(x); err == nil {
				return t.UTC().Format(isoMillis)
			}
		}
	}
	return v
}

// fallbackSchemaID is a stable 22-character id for an event type whose
// schema the cdc package cannot derive: the base64url of the first 16 bytes
// of the SHA-256 of the channel and describe field names and types.
func fallbackSchemaID(ev *bus.Event) string {
	h := sha256.New()
	h.Write([]byte(ev.Channel))
	if ev.Describe != nil {
		for _, f := range ev.Describe.Fields {
			h.Write([]byte("\x00" + f.Name + ":" + f.Type))
		}
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// platformData is the data of a platform event (protocol reference §3):
// {schema, payload:{CreatedDate, CreatedById, fields…},
// event:{replayId, EventUuid}}. EventUuid leaves the payload for the event
// object. Datetime fields become ISO strings: by describe type when the
// publisher attached a describe, otherwise CreatedDate and any string in the
// REST datetime format (2006-01-02T15:04:05.000+0000).
func (e *encoder) platformData(ev *bus.Event, userID string) map[string]any {
	var types map[string]string
	if ev.Describe != nil {
		types = fieldTypes(ev.Describe)
	}
	payload := map[string]any{}
	uuid := ev.EventUUID
	for name, v := range ev.Fields {
		switch {
		case strings.EqualFold(name, "EventUuid"):
			if s, ok := v.(string); ok && uuid == "" {
				uuid = s
			}
			continue
		case strings.EqualFold(name, "ReplayId"):
			continue
		}
		typ := types[strings.ToLower(name)]
		if strings.EqualFold(name, "CreatedDate") || (types == nil && looksLikeRESTDateTime(v)) {
			typ = "datetime"
		}
		payload[name] = jsonValue(typ, v)
	}
	if payload["CreatedDate"] == nil {
		payload["CreatedDate"] = ev.Published.UTC().Format(isoMillis)
	}
	if payload["CreatedById"] == nil {
		payload["CreatedById"] = userID
	}
	event := map[string]any{"replayId": ev.ReplayID}
	if uuid != "" {
		event["EventUuid"] = uuid
	}
	return map[string]any{"schema": e.platformSchemaID(ev), "payload": payload, "event": event}
}

// platformSchemaID is the schema id of a platform event: the cdc package's
// when the publisher attached the event's describe (so it matches what the
// Pub/Sub surface serves), else a stable id derived from the channel.
func (e *encoder) platformSchemaID(ev *bus.Event) string {
	if ev.Describe != nil {
		if v, ok := e.schemas.Load(ev.Describe); ok {
			if se := v.(*schemaEntry); se.err == nil {
				return se.schema.ID()
			}
			return fallbackSchemaID(ev)
		}
		s, err := cdc.PlatformEventSchema(ev.Channel, ev.Describe.Fields)
		e.schemas.Store(ev.Describe, &schemaEntry{schema: s, err: err})
		if err == nil {
			return s.ID()
		}
	}
	return fallbackSchemaID(ev)
}

// looksLikeRESTDateTime reports a string in exactly the REST API's datetime
// format in UTC, as the org renders datetimes.
func looksLikeRESTDateTime(v any) bool {
	s, ok := v.(string)
	if !ok || len(s) != len(org.DateTimeFormat) || !strings.HasSuffix(s, "+0000") {
		return false
	}
	_, err := time.Parse(org.DateTimeFormat, s)
	return err == nil
}

// pushTopicData is the data of a PushTopic event:
// {event:{type, createdDate, replayId}, sobject:{Id, …}}. The sObject is
// delivered exactly as the publisher built it.
func pushTopicData(ev *bus.Event) map[string]any {
	sobject := ev.Fields
	if sobject == nil {
		sobject = map[string]any{}
	}
	return map[string]any{
		"event": map[string]any{
			"type":        ev.PushType,
			"createdDate": ev.Published.UTC().Format(isoMillis),
			"replayId":    ev.ReplayID,
		},
		"sobject": sobject,
	}
}
