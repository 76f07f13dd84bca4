package source

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
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
	out.Fields = restFields(recs[0])
	return []Envelope{out}, nil
}

// queryableFields are the fields to read back: every field but compounds
// (their components are read instead).
func queryableFields(fields []salesforce.Field) []string {
	var out []string
	for _, f := range fields {
		if f.Type == "address" || f.Type == "location" {
			continue
		}
		out = append(out, f.Name)
	}
	return out
}

// restFields turns a REST record into envelope field values.
func restFields(rec map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range rec {
		if k == "attributes" {
			continue
		}
		if m, ok := v.(map[string]any); ok {
			for ck, cv := range restFields(m) {
				out[k+"."+ck] = cv
			}
			continue
		}
		out[k] = envelopeValue(v, "")
	}
	return out
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
// records, at the channel's current position.
func (s *Source) resync(ctx context.Context, channel string) error {
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
	recs, err := s.maker.records(channel, s.position(channel), envs)
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
	if !since.IsZero() {
		q += " WHERE LastModifiedDate >= " + since.Add(-s.cfg.ResyncBuffer).UTC().Format("2006-01-02T15:04:05Z")
	}
	now := s.now()
	var out []Envelope
	err = s.rest.Query(ctx, q, func(rec map[string]any) error {
		id, _ := rec["Id"].(string)
		out = append(out, Envelope{
			EnvelopeVersion: EnvelopeVersion, Kind: KindResync, Entity: d.Name, RecordID: &id, ChangeType: "SNAPSHOT",
			Fields: restFields(rec), ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{},
			Channel: channel, DedupeKey: dedupeKey(channel, nil, id) + "|resync|" + now.UTC().Format(time.RFC3339Nano), ReceivedAt: now,
		})
		return nil
	})
	return out, err
}
