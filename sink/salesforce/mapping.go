package salesforce

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// mapping translates web-app names into Salesforce names.
type mapping struct {
	objects map[string]string            // web-app type -> sObject
	fields  map[string]map[string]string // web-app type -> web-app field -> Salesforce field
	extIDs  map[string]string            // sObject -> default external id field
}

// change is one web-app change in Salesforce's terms, as the batch
// pipeline handles it.
type change struct {
	idx       int // index in the Write batch
	src       *Change
	object    string         // sObject
	extField  string         // external id field, when matched by external id
	extID     string         // external id value
	id        string         // Salesforce Id (18 characters), when known
	op        string         // OpUpsert, OpUpdate or OpDelete
	fields    map[string]any // Salesforce field -> value
	previous  map[string]any // Salesforce field -> value before, or nil
	changedAt time.Time
}

// key identifies the Salesforce record a change is about, for coalescing
// and for matching lookup results: by Id when the change names one,
// otherwise by external id.
func (c *change) key() string {
	if c.id != "" {
		return c.object + "\x00id\x00" + c.id
	}
	return c.object + "\x00" + c.extField + "\x00" + c.extID
}

// apply maps a decoded change; unknown types and unmapped fields are
// permanent errors, never dropped silently.
//
// A change without external_id and record_id is matched by its Kafka
// key, taken as the external id: topics keyed by the record's external id
// need not repeat it in the value.
func (m *mapping) apply(idx int, src *Change, key []byte) (*change, error) {
	obj, ok := m.objects[src.Object]
	if !ok {
		return nil, connectorlib.PermanentCode(CodeUnmapped, fmt.Errorf("object type %q is not mapped (SFCONNECT_SINK_SALESFORCE_OBJECTS)", src.Object))
	}
	c := &change{idx: idx, src: src, object: obj, op: src.Operation, changedAt: src.ChangedAt, extID: src.ExternalID}
	if c.extID == "" && src.RecordID == "" {
		if len(key) == 0 {
			return nil, connectorlib.PermanentCode(CodeInvalid, fmt.Errorf("%s change names no external_id or record_id and the record has no key", src.Operation))
		}
		c.extID = string(key)
	}
	if src.RecordID != "" {
		id, err := normalizeID(src.RecordID)
		if err != nil {
			return nil, connectorlib.PermanentCode(CodeInvalid, err)
		}
		c.id = id
	}
	if c.extID != "" {
		c.extField = src.ExternalIDField
		if c.extField == "" {
			c.extField = m.extIDs[obj]
		}
		if c.extField == "" {
			if c.id == "" {
				return nil, connectorlib.PermanentCode(CodeUnmapped, fmt.Errorf("%s has no external id field (SFCONNECT_SINK_SALESFORCE_EXTERNAL_IDS) and the change names none", obj))
			}
			c.extID = "" // matched by Id only
		} else if !sobjectName.MatchString(c.extField) {
			return nil, connectorlib.PermanentCode(CodeInvalid, fmt.Errorf("external_id_field %q is not a field name", c.extField))
		}
	}
	if c.op == OpDelete {
		if len(src.Fields) > 0 {
			return nil, connectorlib.PermanentCode(CodeInvalid, errors.New("a DELETE carries no fields"))
		}
		return c, nil
	}
	names := m.fields[src.Object]
	var unmapped []string
	c.fields = make(map[string]any, len(src.Fields))
	for k, v := range src.Fields {
		sf, ok := names[k]
		if !ok {
			unmapped = append(unmapped, k)
			continue
		}
		if strings.EqualFold(sf, c.extField) {
			// Upsert bodies must not carry the external id field; it is
			// the match key, set from external_id.
			continue
		}
		c.fields[sf] = v
	}
	if len(unmapped) > 0 {
		slices.Sort(unmapped)
		return nil, connectorlib.PermanentCode(CodeUnmapped, fmt.Errorf("fields %s of %q are not mapped (SFCONNECT_SINK_SALESFORCE_FIELDS)", strings.Join(unmapped, ", "), src.Object))
	}
	if src.Previous != nil {
		c.previous = make(map[string]any, len(src.Previous))
		for k, v := range src.Previous {
			if sf, ok := names[k]; ok {
				c.previous[sf] = v
			}
		}
	}
	return c, nil
}

// normalizeID returns the 18-character form of a 15- or 18-character
// Salesforce Id: the three suffix characters encode which of the first 15
// are upper case, so that case-insensitive systems can compare Ids.
func normalizeID(id string) (string, error) {
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", fmt.Errorf("record_id %q is not a Salesforce Id", id)
		}
	}
	switch len(id) {
	case 18:
		return id, nil
	case 15:
	default:
		return "", fmt.Errorf("record_id %q is not a 15- or 18-character Salesforce Id", id)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for block := range 3 {
		n := 0
		for bit := range 5 {
			if ch := id[block*5+bit]; ch >= 'A' && ch <= 'Z' {
				n |= 1 << bit
			}
		}
		suffix[block] = alphabet[n]
	}
	return id + string(suffix), nil
}
