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
	total := 0
	if err := s.rest.Query(ctx, "SELECT COUNT() FROM "+d.Name, func(map[string]any) error { total++; return nil }); err != nil {
		return err
	}
	m := s.metrics.snapshot(object)
	m.total.Set(float64(total))
	fields := strings.Join(queryableFields(d.Fields), ", ")
	layout := layoutOf(d)
	stream := snapshotStream(object)
	start, lastLog := s.now(), s.now()
	done, last := 0, ""
	for {
		q := "SELECT " + fields + " FROM " + d.Name
		if last != "" {
			q += " WHERE Id > '" + last + "'"
		}
		q += fmt.Sprintf(" ORDER BY Id LIMIT %d", snapshotPageSize)
		now := s.now()
		var envs []Envelope
		err := s.rest.Query(ctx, q, func(rec map[string]any) error {
			id, _ := rec["Id"].(string)
			envs = append(envs, Envelope{
				EnvelopeVersion: EnvelopeVersion, Kind: KindSnapshot, Entity: d.Name, RecordID: &id, ChangeType: "SNAPSHOT",
				Fields: layout.fields(rec), ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{},
				Channel: channel, DedupeKey: dedupeKey(channel, nil, id) + "|snapshot|" + start.UTC().Format(time.RFC3339Nano), ReceivedAt: now,
			})
			last = id
			return nil
		})
		if err != nil {
			return err
		}
		if len(envs) == 0 {
			break
		}
		// The snapshot stream's position stays "in progress" until the
		// hand-off marks it done.
		recs, err := s.maker.records(stream, connectorlib.Position("in_progress"), envs)
		if err != nil {
			return err
		}
		if !s.emit(ctx, recs) {
			return ctx.Err()
		}
		done += len(envs)
		m.done.Set(float64(done))
		if t := s.now(); t.Sub(lastLog) >= 10*time.Second || len(envs) < snapshotPageSize {
			rate := float64(done) / max(t.Sub(start).Seconds(), 0.001)
			s.log.Info("snapshot progress", "object", d.Name, "done", done, "total", total, "records_per_second", int(rate))
			lastLog = t
		}
		if len(envs) < snapshotPageSize {
			break
		}
	}
	return nil
}
