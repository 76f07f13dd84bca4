package source

import (
	"context"
	"errors"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/cometd"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
)

// cometdStream is a channel subscription over the Streaming API.
type cometdStream struct {
	s       *Source
	sub     *cometd.Subscription
	channel string
}

// cometdOpener opens CometD subscriptions, one client session per channel.
// Positions are CometD replay ids stored as 8-byte big-endian numbers, the
// same form as Pub/Sub replay ids.
func cometdOpener(s *Source, newClient func() *cometd.Client) opener {
	return func(ctx context.Context, channel string, from connectorlib.Position, initial string) (stream, error) {
		replayFrom := int64(-1)
		switch {
		case from != nil:
			n, err := pubsub.DecodeReplayID(from)
			if err != nil {
				return nil, connectorlib.Permanent(err)
			}
			replayFrom = n
		case initial == ReplayEarliest:
			replayFrom = -2
		}
		sub, err := newClient().Subscribe(ctx, channel, replayFrom)
		if err != nil {
			return nil, mapCometDErr(err)
		}
		return &cometdStream{s: s, sub: sub, channel: channel}, nil
	}
}

func mapCometDErr(err error) error {
	if errors.Is(err, cometd.ErrInvalidReplayID) {
		return errors.Join(errInvalidReplay, err)
	}
	return err
}

// next implements stream.
func (c *cometdStream) next(ctx context.Context) ([]connectorlib.Record, error) {
	msgs, err := c.sub.Recv(ctx)
	if err != nil {
		return nil, mapCometDErr(err)
	}
	now := c.s.now()
	var out []connectorlib.Record
	for _, m := range msgs {
		pos := connectorlib.Position(pubsub.EncodeReplayID(m.ReplayID))
		envs, err := cometdEnvelopes(c.channel, pos, m.Data, now)
		if err != nil {
			out = append(out, c.s.deadLetter(c.channel, pos, m.Data, "", err)...)
			continue
		}
		if out, err = c.s.process(ctx, c.channel, pos, envs, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *cometdStream) close() { _ = c.sub.Close(context.Background()) }
