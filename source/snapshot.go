package source

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// snapshotDone is the position of a finished snapshot stream.
var snapshotDone = connectorlib.Position("done")

// snapshotStream names the stream that records whether object's snapshot
// is complete.
func snapshotStream(object string) string { return "snapshot:" + object }

// snapshotPageSize is the SOQL page of a snapshot (ORDER BY Id, LIMIT):
// the REST maximum batch of 2000 records.
const snapshotPageSize = 2000

// snapshotObjects returns the objects whose snapshot runs before channel
// streams, given the stored positions.
func (s *Source) snapshotObjects(channel string, from connectorlib.Positions) []string {
	var out []string
	for _, o := range s.cfg.SnapshotObjects {
		if s.cfg.snapshotChannel(o) == channel && string(from[snapshotStream(o)]) != string(snapshotDone) {
			out = append(out, o)
		}
	}
	return out
}

// snapshot loads the current state of object as SNAPSHOT records.
//
// The hand-off: the channel's subscription is opened (at the tip) before
// the snapshot starts, so every change after that point arrives on the
// stream; the snapshot's "done" marker is written in the same batch as the
// stream's first position (see runChannel), so a crash before the stream
// has a durable position makes the next run take the snapshot again from
// the start, rather than trust a tip it never stored. Records are keyed by
// Id like change records; a snapshot repeated after a crash is harmless to
// an idempotent consumer.
func (s *Source) snapshot(ctx context.Context, channel, object string) error {
	if s.rest == nil {
		return connectorlib.Permanent(fmt.Errorf("snapshot of %s needs a REST client", object))
	}
	d, err := s.rest.Describe(ctx, object)
	if err != nil {
		return err
	}
	// COUNT() answers carry totalSize and no records.
	total, err := s.rest.QueryCount(ctx, "SELECT COUNT() FROM "+d.Name)
	if err != nil {
		return err
	}
	m := s.metrics.snapshot(object)
	m.total.Set(float64(total))
	fields := strings.Join(queryableFields(d.Fields), ", ")
	layout := layoutOf(d)
	stream := snapshotStream(object)
	start, lastLog := s.now(), s.now()
	done := 0
	via := "soql"
	bulk := s.cfg.SnapshotBulk > 0 && total > s.cfg.SnapshotBulk
	if bulk {
		via = "bulk"
	}
	// page emits one page of records as SNAPSHOT envelopes and reports
	// progress; the snapshot stream's position stays "in progress" until
	// the hand-off marks it done.
	page := func(recs []map[string]any, final bool) error {
		now := s.now()
		envs := make([]Envelope, 0, len(recs))
		for _, rec := range recs {
			id, _ := rec["Id"].(string)
			envs = append(envs, Envelope{
				EnvelopeVersion: EnvelopeVersion, Kind: KindSnapshot, Entity: d.Name, RecordID: &id, ChangeType: "SNAPSHOT",
				Fields: layout.fields(rec), ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{},
				Channel: channel, DedupeKey: dedupeKey(channel, nil, id) + "|snapshot|" + start.UTC().Format(time.RFC3339Nano), ReceivedAt: now,
			})
		}
		if len(envs) > 0 {
			out, err := s.maker.records(stream, connectorlib.Position("in_progress"), envs)
			if err != nil {
				return err
			}
			if !s.emit(ctx, out) {
				return ctx.Err()
			}
		}
		done += len(envs)
		m.done.Set(float64(done))
		if t := s.now(); t.Sub(lastLog) >= 10*time.Second || final {
			rate := float64(done) / max(t.Sub(start).Seconds(), 0.001)
			s.log.Info("snapshot progress", "object", d.Name, "done", done, "total", total, "records_per_second", int(rate), "via", via)
			lastLog = t
		}
		return nil
	}
	if bulk {
		return s.snapshotBulk(ctx, d, "SELECT "+fields+" FROM "+d.Name+" ORDER BY Id", page)
	}
	last := ""
	for {
		q := "SELECT " + fields + " FROM " + d.Name
		if last != "" {
			q += " WHERE Id > '" + last + "'"
		}
		q += fmt.Sprintf(" ORDER BY Id LIMIT %d", snapshotPageSize)
		var recs []map[string]any
		err := s.rest.Query(ctx, q, func(rec map[string]any) error {
			recs = append(recs, rec)
			last, _ = rec["Id"].(string)
			return nil
		})
		if err != nil {
			return err
		}
		if err := page(recs, len(recs) < snapshotPageSize); err != nil {
			return err
		}
		if len(recs) < snapshotPageSize {
			return nil
		}
	}
}
