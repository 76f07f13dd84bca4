package pubsubserver

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

// Subscribe serves one subscription: the first FetchRequest names the topic,
// the replay start (replay_preset and replay_id) and a first num_requested;
// later FetchRequests only add to num_requested (their replay fields are
// ignored; a topic name, if present, must match). The server owes the client
// the sum of num_requested minus what it has delivered, capped at 100, and
// never sends more than it owes.
//
// Every FetchResponse carries latest_replay_id, never empty: the position
// the subscription has reached, so that resuming after it (CUSTOM) loses
// nothing. That is the replay id of the last event sent, or the bus's newest
// replay id when everything up to it has been delivered or did not match
// the topic; before any event exists it is 0, encoded as 8 bytes. Replay
// ids are 8-byte big-endian integers.
//
// When no FetchResponse was sent for Config.KeepAlive the server sends an
// empty one (a keepalive). When the client is owed nothing and sends no
// FetchRequest within Config.IdleTimeout of the last FetchResponse that
// carried events, the server ends the stream with status OK; after the
// client closes its sending side, the stream ends once it is owed nothing.
func (s *Server) Subscribe(stream grpc.BidiStreamingServer[pubsubpb.FetchRequest, pubsubpb.FetchResponse]) error {
	rpcID := newRPCID()
	err := s.subscribe(stream, rpcID)
	if ctxErr := stream.Context().Err(); err != nil && ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}
	return toStatus(err, rpcID, stream.SetTrailer)
}

// subscription is the state of one Subscribe stream.
type subscription struct {
	s         *Server
	stream    grpc.BidiStreamingServer[pubsubpb.FetchRequest, pubsubpb.FetchResponse]
	rpcID     string
	topic     topic
	cursor    int64 // every matching event up to here has been sent
	owed      int   // events the client is still owed, at most maxOutstanding
	delivered int
	lastSend  time.Time // last FetchResponse, events or not
	idleSince time.Time // last FetchResponse that left owed at 0; zero while owed > 0
	enc       encoder
}

func (s *Server) subscribe(stream grpc.BidiStreamingServer[pubsubpb.FetchRequest, pubsubpb.FetchResponse], rpcID string) error {
	ctx := stream.Context()
	drop := s.dropped()
	if _, err := s.authenticate(ctx); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if err := s.fault(Call{Method: "Subscribe", Topic: first.GetTopicName(), Start: true}); err != nil {
		return err
	}
	t, err := s.resolveTopic(first.GetTopicName())
	if err != nil {
		return err
	}
	cursor, err := s.startCursor(first)
	if err != nil {
		return err
	}
	if first.GetNumRequested() <= 0 {
		return newError(codes.InvalidArgument, pubsub.ErrorCodeRequestedEventsInvalid,
			"num_requested must be greater than 0, got %d", first.GetNumRequested())
	}
	sub := &subscription{
		s: s, stream: stream, rpcID: rpcID, topic: t, cursor: cursor,
		owed: min(int(first.GetNumRequested()), maxOutstanding), lastSend: s.cfg.Now(),
		enc: encoder{s: s},
	}
	cr := &credits{wake: make(chan struct{}, 1)}
	go cr.receive(stream, t.name)
	return sub.run(ctx, cr, drop)
}

// startCursor validates the replay fields of the first FetchRequest and
// returns the replay id delivery starts after.
func (s *Server) startCursor(req *pubsubpb.FetchRequest) (int64, error) {
	id := req.GetReplayId()
	switch preset := req.GetReplayPreset(); preset {
	case pubsubpb.ReplayPreset_LATEST, pubsubpb.ReplayPreset_EARLIEST:
		if len(id) > 0 {
			return 0, newError(codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed,
				"replay_id is only allowed with replay_preset CUSTOM, got %s", preset)
		}
		if preset == pubsubpb.ReplayPreset_EARLIEST {
			return s.cfg.Bus.Earliest(), nil
		}
		return s.cfg.Bus.Latest(), nil
	case pubsubpb.ReplayPreset_CUSTOM:
		if len(id) == 0 {
			return 0, newError(codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed,
				"replay_preset CUSTOM requires a replay_id")
		}
		n, err := pubsub.DecodeReplayID(id)
		if err != nil {
			return 0, newError(codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed,
				"The Replay ID validation failed: %v", err)
		}
		if err := s.cfg.Bus.CheckReplayID(n); err != nil {
			return 0, replayCorrupted(n)
		}
		return n, nil
	default:
		return 0, newError(codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed,
			"unknown replay_preset %d", preset)
	}
}

// replayCorrupted is the error for a replay id outside the retention
// window, in the words of the Pub/Sub documentation.
func replayCorrupted(n int64) *Error {
	return newError(codes.InvalidArgument, pubsub.ErrorCodeReplayIDCorrupted,
		"The Replay ID validation failed. Ensure that the replay_id %d is valid and refers to an event that is within the retention window.", n)
}

// run delivers events until the stream ends or drop is closed.
func (sub *subscription) run(ctx context.Context, cr *credits, drop <-chan struct{}) error {
	s := sub.s
	timer := time.NewTimer(s.cfg.KeepAlive)
	defer timer.Stop()
	// busWake is closed when the bus has an event newer than the last read;
	// it is armed only while the client is owed events.
	var busWake chan struct{}
	stopWait := func() {}
	defer func() { stopWait() }()

	for {
		select {
		case <-drop:
			return errDropped
		default:
		}
		add, eof, err := cr.take()
		if err != nil {
			return err
		}
		if add > 0 {
			// Invariant: never owe more than maxOutstanding in total.
			sub.owed = min(sub.owed+add, maxOutstanding)
			sub.idleSince = time.Time{}
		}
		if sub.owed == 0 && eof {
			return nil // the client can ask for nothing more
		}
		if sub.owed > 0 {
			sent, latest, err := sub.deliver()
			if err != nil {
				return err
			}
			if sent {
				continue
			}
			if busWake == nil {
				wctx, cancel := context.WithCancel(ctx)
				ch := make(chan struct{})
				go func() {
					if s.cfg.Bus.Wait(wctx, latest) == nil {
						close(ch)
					}
				}()
				busWake, stopWait = ch, cancel
			}
		}

		now := s.cfg.Now()
		if !sub.idleSince.IsZero() && !now.Before(sub.idleSince.Add(s.cfg.IdleTimeout)) {
			return nil // idle close: the client let its subscription lapse
		}
		keepAliveAt := sub.lastSend.Add(s.cfg.KeepAlive)
		if !now.Before(keepAliveAt) {
			if err := sub.send(nil); err != nil {
				return err
			}
			continue
		}
		wait := keepAliveAt.Sub(now)
		if !sub.idleSince.IsZero() {
			wait = min(wait, sub.idleSince.Add(s.cfg.IdleTimeout).Sub(now))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-drop:
			return errDropped
		case <-cr.wake:
		case <-busWake:
			stopWait()
			busWake, stopWait = nil, func() {}
		case <-timer.C:
		}
		timer.Stop()
	}
}

// deliver sends the next events the client is owed, if there are any. It
// reports whether it sent a response, and the bus's newest replay id.
func (sub *subscription) deliver() (bool, int64, error) {
	evs, latest, err := sub.s.cfg.Bus.Read(sub.topic.name, sub.cursor, sub.owed)
	if err != nil {
		if errors.Is(err, bus.ErrInvalidReplayID) {
			return false, latest, replayCorrupted(sub.cursor)
		}
		return false, latest, err
	}
	if len(evs) == 0 {
		// Nothing up to latest matches the topic.
		sub.cursor = max(sub.cursor, latest)
		return false, latest, nil
	}
	if err := sub.s.fault(Call{Method: "Subscribe", Topic: sub.topic.name, Delivered: sub.delivered}); err != nil {
		return false, latest, err
	}
	sub.enc.newBatch()
	out := make([]*pubsubpb.ConsumerEvent, len(evs))
	for i, ev := range evs {
		if out[i], err = sub.enc.encode(ev); err != nil {
			return false, latest, err
		}
	}
	sub.cursor = evs[len(evs)-1].ReplayID
	if len(evs) < sub.owed {
		// Read returned every matching event up to latest.
		sub.cursor = max(sub.cursor, latest)
	}
	// Invariant: a response never carries more events than the client is owed.
	sub.owed -= len(evs)
	sub.delivered += len(evs)
	if err := sub.send(out); err != nil {
		return false, latest, err
	}
	if sub.owed == 0 {
		sub.idleSince = sub.lastSend
	}
	return true, latest, nil
}

// send sends a FetchResponse with events (none for a keepalive).
func (sub *subscription) send(events []*pubsubpb.ConsumerEvent) error {
	err := sub.stream.Send(&pubsubpb.FetchResponse{
		Events:              events,
		LatestReplayId:      pubsub.EncodeReplayID(sub.cursor),
		RpcId:               sub.rpcID,
		PendingNumRequested: int32(sub.owed),
	})
	sub.lastSend = sub.s.cfg.Now()
	return err
}

// credits collects what later FetchRequests ask for. The receiving
// goroutine adds; the delivering loop takes.
type credits struct {
	mu   sync.Mutex
	n    int
	eof  bool
	err  error
	wake chan struct{} // signalled after every change
}

// receive reads FetchRequests until the stream ends or one is invalid.
func (c *credits) receive(stream grpc.BidiStreamingServer[pubsubpb.FetchRequest, pubsubpb.FetchResponse], topicName string) {
	for {
		req, err := stream.Recv()
		if err != nil {
			c.finish(err)
			return
		}
		if name := req.GetTopicName(); name != "" && name != topicName {
			c.finish(newError(codes.InvalidArgument, errorCodeFetchTopicMismatch,
				"topic_name %s does not match the subscription's topic %s", name, topicName))
			return
		}
		if n := req.GetNumRequested(); n <= 0 {
			c.finish(newError(codes.InvalidArgument, pubsub.ErrorCodeRequestedEventsInvalid,
				"num_requested must be greater than 0, got %d", n))
			return
		}
		c.mu.Lock()
		c.n = min(c.n+int(req.GetNumRequested()), maxOutstanding)
		c.mu.Unlock()
		c.signal()
	}
}

// finish records the end of the request stream: io.EOF when the client
// closed its side, else an error that ends the subscription.
func (c *credits) finish(err error) {
	c.mu.Lock()
	if errors.Is(err, io.EOF) {
		c.eof = true
	} else {
		c.err = err
	}
	c.mu.Unlock()
	c.signal()
}

func (c *credits) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take returns and clears the requested count, with whether the client has
// closed its side and any error that ends the subscription.
func (c *credits) take() (int, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n, c.eof, c.err
}
