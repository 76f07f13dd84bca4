package source

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
)

// repairGap turns a gap event into the current state of its records, read
// through REST: one GAP_REPAIR envelope per record (a record gone since is
// a GAP_REPAIR with no fields and the DELETE change type). GAP_OVERFLOW is
// repaired by a resync of the entity.
func (s *Source) repairGap(ctx context.Context, env *Envelope) ([]Envelope, error) {
	if s.rest == nil {
		return nil, connectorlib.Permanent(fmt.Errorf("gap event on %s but no REST client", env.Channel))
	}
	if env.ChangeType == "GAP_OVERFLOW" {
		return s.resyncEntity(ctx, env.Channel, env.Entity, time.Time{})
	}
	d, err := s.rest.Describe(ctx, env.Entity)
	if err != nil {
		return nil, err
	}
	fields := queryableFields(d.Fields)
	id := *env.RecordID
	recs, err := s.rest.Retrieve(ctx, env.Entity, []string{id}, fields)
	if err != nil {
		return nil, err
	}
	out := *env
	out.Kind = KindGapRepair
	out.Fields = map[string]any{}
	if len(recs) == 0 {
		out.ChangeType = "DELETE"
		return []Envelope{out}, nil
	}
	out.Fields = restFields(recs[0], d)
	return []Envelope{out}, nil
}

// queryableFields are the fields to read back: every field but compounds
// (address, location, and fields such as Contact.Name that other fields
// name as their compound): their components are read instead.
func queryableFields(fields []salesforce.Field) []string {
	compounds := map[string]bool{}
	for _, f := range fields {
		if f.CompoundFieldName != "" {
			compounds[f.CompoundFieldName] = true
		}
	}
	var out []string
	for _, f := range fields {
		if f.Type == "address" || f.Type == "location" || compounds[f.Name] {
			continue
		}
		out = append(out, f.Name)
	}
	return out
}

// restLayout maps REST field names to the envelope names and Salesforce
// types change events use, so that a record read back (gap repair,
// resync, snapshot) looks like a change of the same record: compound
// components flattened as in the change event schema (BillingCity as
// BillingAddress.City, FirstName as Name.FirstName).
type restLayout struct {
	names map[string]string // REST name -> envelope name
	types map[string]string // REST name -> Salesforce type
}

func layoutOf(d *salesforce.SObjectDescribe) restLayout {
	l := restLayout{names: map[string]string{}, types: map[string]string{}}
	if d == nil {
		return l
	}
	for _, f := range d.Fields {
		l.types[f.Name] = strings.ToLower(f.Type)
	}
	s, err := cdc.ChangeEventSchema(d)
	if err != nil {
		return l // names as REST gives them
	}
	for _, f := range s.Fields() {
		for _, c := range f.Components {
			if c.SObjectField != "" {
				l.names[c.SObjectField] = f.Name + "." + c.Name
			}
		}
	}
	return l
}

// restFields turns a REST record of the object described by d into
// envelope field values, named and typed as change events have them.
func restFields(rec map[string]any, d *salesforce.SObjectDescribe) map[string]any {
	return layoutOf(d).fields(rec)
}

func (l restLayout) fields(rec map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range rec {
		if k == "attributes" {
			continue
		}
		name := k
		if n, ok := l.names[k]; ok {
			name = n
		}
		if m, ok := v.(map[string]any); ok {
			for ck, cv := range (restLayout{}).fields(m) {
				out[name+"."+ck] = cv
			}
			continue
		}
		out[name] = restValue(v, l.types[k])
	}
	return out
}

// restValue converts one REST value like envelopeValue converts a decoded
// change event value: numbers (json.Number) become longs for integer types
// and doubles otherwise, datetimes (2006-01-02T15:04:05.000+0000) ISO
// strings in UTC with a Z.
func restValue(v any, sfType string) any {
	switch x := v.(type) {
	case json.Number:
		if sfType == "int" || sfType == "long" || (sfType == "" && !strings.ContainsAny(string(x), ".eE")) {
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	case string:
		if sfType == "datetime" {
			for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
				if t, err := time.Parse(layout, x); err == nil {
					return envelopeValue(t, sfType)
				}
			}
		}
		return x
	}
	return envelopeValue(v, sfType)
}

// entityOf returns the object of a single-object change channel.
func entityOf(channel string) (string, bool) {
	name, ok := strings.CutPrefix(channel, "/data/")
	if !ok || name == "ChangeEvents" || strings.HasSuffix(name, "__chn") {
		return "", false
	}
	if base, ok := strings.CutSuffix(name, "__ChangeEvent"); ok {
		return base + "__c", true
	}
	base, ok := strings.CutSuffix(name, "ChangeEvent")
	return base, ok && base != ""
}

// resync re-reads the records of a channel's object changed since the last
// commit seen (minus SOURCE_RESYNC_BUFFER) and emits them as RESYNC
// records at pos. Stored positions carry the last commit timestamp
// (channelPosition), so a resync right after a restart starts from it too;
// only a position stored in the old format (a bare replay id) or one
// written before any commit was seen makes every record of the object be
// re-read.
func (s *Source) resync(ctx context.Context, channel string, pos connectorlib.Position) error {
	entity, ok := entityOf(channel)
	if !ok {
		return connectorlib.Permanent(fmt.Errorf("resync needs a single-object channel (/data/<Object>ChangeEvent), not %s", channel))
	}
	envs, err := s.resyncEntity(ctx, channel, entity, s.lastCommit(channel))
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return nil
	}
	recs, err := s.maker.records(channel, pos, envs)
	if err != nil {
		return err
	}
	if !s.emit(ctx, recs) {
		return ctx.Err()
	}
	return nil
}

// resyncEntity reads the records of entity modified since since minus the
// buffer (all of them for a zero since) as RESYNC envelopes.
func (s *Source) resyncEntity(ctx context.Context, channel, entity string, since time.Time) ([]Envelope, error) {
	if s.rest == nil {
		return nil, connectorlib.Permanent(fmt.Errorf("resync of %s needs a REST client", entity))
	}
	d, err := s.rest.Describe(ctx, entity)
	if err != nil {
		return nil, err
	}
	q := "SELECT " + strings.Join(queryableFields(d.Fields), ", ") + " FROM " + d.Name
	layout := layoutOf(d)
	if !since.IsZero() {
		q += " WHERE LastModifiedDate >= " + since.Add(-s.cfg.ResyncBuffer).UTC().Format("2006-01-02T15:04:05Z")
	}
	now := s.now()
	var out []Envelope
	err = s.rest.Query(ctx, q, func(rec map[string]any) error {
		id, _ := rec["Id"].(string)
		out = append(out, Envelope{
			EnvelopeVersion: EnvelopeVersion, Kind: KindResync, Entity: d.Name, RecordID: &id, ChangeType: "SNAPSHOT",
			Fields: layout.fields(rec), ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{},
			Channel: channel, DedupeKey: dedupeKey(channel, nil, id) + "|resync|" + now.UTC().Format(time.RFC3339Nano), ReceivedAt: now,
		})
		return nil
	})
	return out, err
}
