package source

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// process applies loop prevention and gap repair to the envelopes of one
// event and appends its records to out. An event that leaves nothing to
// write still yields a position marker, so its replay id becomes durable.
// envs may be changed (loop tags).
func (s *Source) process(ctx context.Context, channel string, pos connectorlib.Position, envs []Envelope, out []connectorlib.Record) ([]connectorlib.Record, error) {
	m := s.metrics.channel(channel)
	m.events.Inc()
	kept := envs // envs itself until an envelope is dropped or repaired
	copied := false
	for i := range envs {
		env := &envs[i]
		drop := false
		if env.OriginClient != nil && slices.Contains(s.cfg.LoopClientIDs, *env.OriginClient) {
			m.loopEvents.Inc()
			if s.cfg.LoopAction == LoopDrop {
				drop = true
			} else {
				env.LoopTagged = true
			}
		}
		var repaired []Envelope
		gap := false
		if !drop {
			if env.Header != nil {
				m.commitLag(env.Header.CommitTimestamp, s.now())
				s.noteCommit(channel, env.Header.CommitTimestamp)
			}
			if strings.HasPrefix(env.ChangeType, "GAP_") && s.cfg.GapRepair {
				gap = true
				var err error
				if repaired, err = s.repairGap(ctx, env); err != nil {
					return nil, fmt.Errorf("repair gap on %s: %w", channel, err)
				}
				m.gapRepairs.Add(float64(len(repaired)))
			}
		}
		if (drop || gap) && !copied {
			kept, copied = append(make([]Envelope, 0, len(envs)), envs[:i]...), true
		}
		switch {
		case !copied:
		case gap:
			kept = append(kept, repaired...)
		case !drop:
			kept = append(kept, *env)
		}
	}
	if len(kept) == 0 {
		return append(out, marker(channel, pos)), nil
	}
	n := len(out)
	out, err := s.maker.appendRecords(out, channel, pos, kept)
	if err != nil {
		return nil, err
	}
	m.records.Add(float64(len(out) - n))
	return out, nil
}

// deadLetter builds the dead-letter record of an undecodable event.
func (s *Source) deadLetter(channel string, pos connectorlib.Position, raw []byte, schemaID string, cause error) []connectorlib.Record {
	m := s.metrics.channel(channel)
	m.events.Inc()
	m.decodeErrors.Inc()
	m.deadLetters.Inc()
	s.log.Warn("undecodable event sent to the dead-letter topic", "channel", channel, "topic", s.maker.dlq, "err", cause)
	return []connectorlib.Record{s.maker.deadLetter(channel, pos, raw, schemaID, cause)}
}
