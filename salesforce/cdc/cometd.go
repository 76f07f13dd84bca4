package cdc

import (
	"fmt"
	"time"
)

// CometDPayload builds the payload object of a change event as the
// Streaming API (CometD) delivers it (protocol reference §2.2, §2.4). The
// caller wraps it in the Bayeux message:
//
//	{"channel": "/data/AccountChangeEvent",
//	 "data": {"schema": s.ID(), "payload": <this>, "event": {"replayId": n}}}
//
// Differences from the Pub/Sub form, as documented:
//   - ChangeEventHeader has changedFields as field names (components as
//     "BillingAddress.City") and no nulledFields or diffFields;
//     commitTimestamp stays epoch milliseconds;
//   - null fields are left out, and so are compound fields whose components
//     are all null. In Pub/Sub unchanged fields are null, so this also leaves
//     out unchanged fields; fields are not filtered by changedFields, so
//     enriched fields and LastModifiedDate stay;
//   - date fields become "2006-01-02", datetime fields
//     "2006-01-02T15:04:05.000Z" and time fields "15:04:05.000Z", all UTC,
//     as their Salesforce type says (see [Field]); other longs stay numbers;
//   - a field named in diffFields becomes {"diff": <value>}.
//
// Decision where the reference is silent: a field set to null in an UPDATE
// is left out like any null (it is still named in changedFields), since the
// reference says null fields are excluded.
//
// The function returns an error for invalid bitmaps or field values, as
// [Schema.Encode] would.
func CometDPayload(ev *ChangeEvent, s *Schema) (map[string]any, error) {
	if err := s.needKind(KindChangeEvent); err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, fmt.Errorf("cometd payload %s: %w: nil event", s.Name(), ErrInvalidValue)
	}
	changed, err := s.DecodeFields(ev.Header.ChangedFields)
	if err != nil {
		return nil, fmt.Errorf("cometd payload %s: changedFields: %w", s.Name(), err)
	}
	diffNames, err := s.DecodeFields(ev.Header.DiffFields)
	if err != nil {
		return nil, fmt.Errorf("cometd payload %s: diffFields: %w", s.Name(), err)
	}
	diff := make(map[string]bool, len(diffNames))
	for _, n := range diffNames {
		diff[n] = true
	}
	for _, k := range sortedKeys(ev.Fields) {
		if i, ok := s.byName[k]; !ok || i == 0 {
			return nil, fmt.Errorf("cometd payload %s: %s: %w", s.Name(), k, ErrUnknownField)
		}
	}

	h := ev.Header
	recordIDs := append([]string{}, h.RecordIDs...)
	out := map[string]any{HeaderField: map[string]any{
		"entityName":      h.EntityName,
		"recordIds":       recordIDs,
		"changeType":      string(h.ChangeType),
		"changeOrigin":    h.ChangeOrigin,
		"transactionKey":  h.TransactionKey,
		"sequenceNumber":  h.SequenceNumber,
		"commitTimestamp": h.CommitTimestamp,
		"commitNumber":    h.CommitNumber,
		"commitUser":      h.CommitUser,
		"changedFields":   changed,
	}}

	for i, af := range s.avro.Fields() {
		if i == 0 {
			continue
		}
		f := &s.fields[i]
		v, ok := ev.Fields[f.Name]
		if !ok || v == nil {
			continue
		}
		// Normalise exactly as Encode followed by Decode would.
		prepared, err := toAvro(af.Type(), v, f.Name)
		if err != nil {
			return nil, fmt.Errorf("cometd payload %s: %w", s.Name(), err)
		}
		canon, err := fromAvro(af.Type(), prepared)
		if err != nil {
			return nil, fmt.Errorf("cometd payload %s: %s: %w: %w", s.Name(), f.Name, ErrInvalidValue, err)
		}
		if canon == nil {
			continue
		}
		if !f.Compound {
			jv, err := cometdValue(f.Type, canon, diff[f.Name])
			if err != nil {
				return nil, fmt.Errorf("cometd payload %s: %s: %w", s.Name(), f.Name, err)
			}
			out[f.Name] = jv
			continue
		}
		comps, ok := canon.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("cometd payload %s: %s: %w: not a record", s.Name(), f.Name, ErrInvalidValue)
		}
		nested := map[string]any{}
		for _, c := range f.Components {
			cv, ok := comps[c.Name]
			if !ok || cv == nil {
				continue
			}
			jv, err := cometdValue(c.Type, cv, diff[f.Name+"."+c.Name])
			if err != nil {
				return nil, fmt.Errorf("cometd payload %s: %s.%s: %w", s.Name(), f.Name, c.Name, err)
			}
			nested[c.Name] = jv
		}
		if len(nested) > 0 {
			out[f.Name] = nested
		}
	}
	return out, nil
}

// cometdValue formats one non-null value for CometD.
func cometdValue(sfType string, v any, isDiff bool) (any, error) {
	if ms, ok := v.(int64); ok {
		switch sfType {
		case typeDate:
			v = time.UnixMilli(ms).UTC().Format("2006-01-02")
		case typeDateTime:
			v = time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		case typeTime:
			const day = 24 * 60 * 60 * 1000
			if ms < 0 || ms >= day {
				return nil, fmt.Errorf("%w: time %d ms is not within a day", ErrInvalidValue, ms)
			}
			v = time.UnixMilli(ms).UTC().Format("15:04:05.000Z")
		}
	}
	if isDiff {
		return map[string]any{"diff": v}, nil
	}
	return v, nil
}
