package source

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// pubsubStream is a channel subscription over the Pub/Sub API.
type pubsubStream struct {
	s       *Source
	client  *pubsub.Client
	sub     *pubsub.Subscription
	channel string
	last    connectorlib.Position // position of the last record returned

	// Decoding scratch, reused event after event: envelopes copy what they
	// keep.
	change cdc.FlatChange
	fields []cdc.FlatField
}

// pubsubOpener opens Pub/Sub subscriptions with client.
func pubsubOpener(s *Source, client *pubsub.Client) opener {
	return func(ctx context.Context, channel string, from connectorlib.Position, initial string) (stream, error) {
		cfg := pubsub.SubscribeConfig{Topic: channel, Appetite: s.cfg.Appetite}
		switch {
		case from != nil:
			cfg.Preset, cfg.ReplayID = pubsubpb.ReplayPreset_CUSTOM, from
		case initial == ReplayEarliest:
			cfg.Preset = pubsubpb.ReplayPreset_EARLIEST
		default:
			cfg.Preset = pubsubpb.ReplayPreset_LATEST
		}
		sub, err := client.Subscribe(ctx, cfg)
		if err != nil {
			return nil, mapPubSubErr(err)
		}
		return &pubsubStream{s: s, client: client, sub: sub, channel: channel, last: from}, nil
	}
}

func mapPubSubErr(err error) error {
	if errors.Is(err, pubsub.ErrInvalidReplayID) {
		return errors.Join(errInvalidReplay, err)
	}
	return err
}

// next implements stream: the records of one FetchResponse, or for a
// keepalive a position marker at latest_replay_id, which keeps a quiet
// channel's stored position inside the retention window.
func (p *pubsubStream) next(ctx context.Context) ([]connectorlib.Record, error) {
	b, err := p.sub.Recv(ctx)
	if err != nil {
		return nil, mapPubSubErr(err)
	}
	return p.batch(ctx, b)
}

// batch turns one FetchResponse into records: an event that cannot be
// decoded becomes a dead-letter record at its position, and the events
// after it are processed as usual.
func (p *pubsubStream) batch(ctx context.Context, b pubsub.Batch) ([]connectorlib.Record, error) {
	var err error
	if len(b.Events) == 0 {
		if len(b.LatestReplayID) == 0 || bytes.Equal(b.LatestReplayID, p.last) {
			return nil, nil
		}
		p.last = bytes.Clone(b.LatestReplayID)
		return []connectorlib.Record{marker(p.channel, p.last)}, nil
	}
	now := p.s.now()
	out := make([]connectorlib.Record, 0, len(b.Events)) // one record per event, usually
	for _, ev := range b.Events {
		pos := connectorlib.Position(bytes.Clone(ev.ReplayID))
		var envs []Envelope
		if strings.HasPrefix(p.channel, "/event/") {
			var schema *cdc.Schema
			p.fields, schema, err = p.client.DecodePlatformFlat(ctx, ev, p.fields)
			if err == nil {
				envs = []Envelope{platformEnvelope(p.channel, pos, ev.ID, p.fields, schema, now)}
			}
		} else {
			schema, derr := p.client.DecodeChangeFlat(ctx, ev, &p.change)
			if derr == nil {
				envs = changeEnvelopes(p.channel, pos, ev.ID, &p.change, schema, now)
			}
			err = derr
		}
		if err != nil {
			if connectorlib.IsRetryable(err) {
				return nil, err // the schema could not be fetched: retry, nothing is lost
			}
			out = append(out, p.s.deadLetter(p.channel, pos, ev.Payload, ev.SchemaID, err)...)
			continue
		}
		if out, err = p.s.process(ctx, p.channel, pos, envs, out); err != nil {
			return nil, err
		}
	}
	if len(out) > 0 {
		p.last = out[len(out)-1].Position
	}
	return out, nil
}

func (p *pubsubStream) close() { _ = p.sub.Close() }
