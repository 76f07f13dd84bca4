package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxIDLen bounds event ids and idempotency keys: they become Kafka keys
// of the dedup topic and are held in memory for the dedup window.
const maxIDLen = 255

// WebhookEvent is one event of a JSON webhook.
type WebhookEvent struct {
	// ID is the event's id, from the wrapper's "id" or derived from the
	// Idempotency-Key header; empty when the sender gave neither (the
	// event is then not deduplicated).
	ID string
	// ChangeType is the wrapper's "changeType" (CREATE, UPDATE, …) or
	// UPSERT for a bare sObject.
	ChangeType string
	Object     string
	RecordID   string
	Fields     map[string]any
}

// ParseWebhook parses a webhook body: one event or a JSON array of events.
// An event is either a serialized sObject, as Apex JSON.serialize writes
// it ({"attributes":{"type":"Account",…},"Id":"001…",…}), or a wrapper
// {"id":"…","changeType":"UPDATE","sObject":{…serialized sObject…}}.
// idempotencyKey (the Idempotency-Key header, may be empty) names events
// without their own id: the key itself for a single event, key/<index>
// within an array. At most maxEvents events are accepted. It never panics.
func ParseWebhook(body []byte, idempotencyKey string, maxEvents int) ([]WebhookEvent, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("malformed JSON: empty body")
	}
	var raws []json.RawMessage
	array := trimmed[0] == '['
	if array {
		if err := decodeStrict(body, &raws); err != nil {
			return nil, err
		}
		if len(raws) == 0 {
			return nil, errors.New("empty event array")
		}
	} else {
		raws = []json.RawMessage{json.RawMessage(trimmed)}
	}
	if len(idempotencyKey) > maxIDLen {
		return nil, fmt.Errorf("Idempotency-Key longer than %d characters", maxIDLen)
	}
	if len(raws) > maxEvents {
		return nil, fmt.Errorf("%d events in one request; at most %d are accepted", len(raws), maxEvents)
	}
	out := make([]WebhookEvent, 0, len(raws))
	seen := map[string]bool{}
	for i, raw := range raws {
		ev, err := parseEvent(raw)
		if err != nil {
			if array {
				return nil, fmt.Errorf("event %d: %w", i+1, err)
			}
			return nil, err
		}
		if ev.ID == "" && idempotencyKey != "" {
			ev.ID = idempotencyKey
			if array {
				ev.ID = fmt.Sprintf("%s/%d", idempotencyKey, i)
			}
		}
		if ev.ID != "" {
			if seen[ev.ID] {
				return nil, fmt.Errorf("event id %q appears twice in one request", ev.ID)
			}
			seen[ev.ID] = true
		}
		out = append(out, ev)
	}
	return out, nil
}

// parseEvent parses one event object.
func parseEvent(raw json.RawMessage) (WebhookEvent, error) {
	var m map[string]any
	if err := decodeStrict(raw, &m); err != nil {
		return WebhookEvent{}, err
	}
	if m == nil {
		return WebhookEvent{}, errors.New("an event must be a JSON object")
	}
	ev := WebhookEvent{ChangeType: "UPSERT"}
	obj := m
	if wrapped, ok := m["sObject"]; ok {
		inner, ok := wrapped.(map[string]any)
		if !ok {
			return WebhookEvent{}, errors.New(`"sObject" must be an object`)
		}
		obj = inner
		if v, ok := m["id"]; ok {
			s, ok := v.(string)
			if !ok || s == "" || len(s) > maxIDLen {
				return WebhookEvent{}, fmt.Errorf(`"id" must be a non-empty string of at most %d characters`, maxIDLen)
			}
			ev.ID = s
		}
		if v, ok := m["changeType"]; ok {
			s, ok := v.(string)
			if !ok || s == "" {
				return WebhookEvent{}, errors.New(`"changeType" must be a non-empty string`)
			}
			ev.ChangeType = strings.ToUpper(s)
		}
	}
	attrs, _ := obj["attributes"].(map[string]any)
	typ, _ := attrs["type"].(string)
	if typ == "" {
		return WebhookEvent{}, errors.New(`the sObject has no "attributes": {"type": …} (serialize it with JSON.serialize)`)
	}
	ev.Object = typ
	id, ok := obj["Id"].(string)
	if !ok || !validRecordID(id) {
		return WebhookEvent{}, errors.New(`the sObject has no valid "Id" (15 or 18 letters and digits)`)
	}
	ev.RecordID = id
	ev.Fields = map[string]any{}
	putJSONFields(ev.Fields, "", obj)
	return ev, nil
}

// putJSONFields flattens an sObject's fields: related records with dots
// (Owner.Name), attributes left out, numbers as long or double, arrays (a
// child relationship) as JSON text.
func putJSONFields(out map[string]any, prefix string, obj map[string]any) {
	for k, v := range obj {
		if k == "attributes" || (prefix == "" && k == "Id") {
			continue
		}
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch x := v.(type) {
		case map[string]any:
			putJSONFields(out, name, x)
		case json.Number:
			if i, err := x.Int64(); err == nil {
				out[name] = i
			} else if f, err := x.Float64(); err == nil {
				out[name] = f
			} else {
				out[name] = x.String()
			}
		case bool, string, nil:
			out[name] = x
		default:
			b, _ := json.Marshal(x)
			out[name] = string(b)
		}
	}
}

// decodeStrict decodes exactly one JSON value into v, numbers as
// json.Number.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("malformed JSON: data after the first value")
	}
	return nil
}

// validRecordID reports whether id looks like a Salesforce record id.
func validRecordID(id string) bool {
	if len(id) != 15 && len(id) != 18 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
