package source

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// process applies loop prevention and gap repair to the envelopes of one
// event and returns its records. An event that leaves nothing to write
// still yields a position marker, so its replay id becomes durable.
func (s *Source) process(ctx context.Context, channel string, pos connectorlib.Position, envs []Envelope) ([]connectorlib.Record, error) {
	m := s.metrics.channel(channel)
	m.events.Inc()
	kept := envs[:0:0]
	for _, env := range envs {
		if env.OriginClient != nil && slices.Contains(s.cfg.LoopClientIDs, *env.OriginClient) {
			m.loopEvents.Inc()
			if s.cfg.LoopAction == LoopDrop {
				continue
			}
			env.LoopTagged = true
		}
		if env.Header != nil {
			m.commitLag(env.Header.CommitTimestamp, s.now())
			s.noteCommit(channel, env.Header.CommitTimestamp)
		}
		if strings.HasPrefix(env.ChangeType, "GAP_") && s.cfg.GapRepair {
			repaired, err := s.repairGap(ctx, &env)
			if err != nil {
				return nil, fmt.Errorf("repair gap on %s: %w", channel, err)
			}
			m.gapRepairs.Add(float64(len(repaired)))
			kept = append(kept, repaired...)
			continue
		}
		kept = append(kept, env)
	}
	if len(kept) == 0 {
		return []connectorlib.Record{marker(channel, pos)}, nil
	}
	recs, err := s.maker.records(channel, pos, kept)
	if err != nil {
		return nil, err
	}
	m.records.Add(float64(len(recs)))
	return recs, nil
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
