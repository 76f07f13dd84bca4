package pubsubserver

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

// Publish publishes platform events. Each ProducerEvent's payload is decoded
// with the schema its schema_id names (the topic's current schema or an
// earlier one of the same event) and appended to the bus; its result
// carries the replay id (8 bytes) and, as correlation_key, the event's id
// (generated when the publisher left it empty). An event that does not
// decode, names a foreign schema or exceeds 1 MB gets an error in its own
// result and the others still publish. A request without events, an
// unknown topic, or a topic that is not a platform event fails the call.
func (s *Server) Publish(ctx context.Context, req *pubsubpb.PublishRequest) (*pubsubpb.PublishResponse, error) {
	rpcID := newRPCID()
	resp, err := s.publish(ctx, req, rpcID)
	return resp, toStatus(err, rpcID, unaryTrailer(ctx))
}

func (s *Server) publish(ctx context.Context, req *pubsubpb.PublishRequest, rpcID string) (*pubsubpb.PublishResponse, error) {
	if _, err := s.authenticate(ctx); err != nil {
		return nil, err
	}
	if err := s.fault(Call{Method: "Publish", Topic: req.GetTopicName(), Start: true}); err != nil {
		return nil, err
	}
	t, err := s.publishTopic(req.GetTopicName())
	if err != nil {
		return nil, err
	}
	return s.publishEvents(t, req.GetEvents(), rpcID)
}

// PublishStream publishes platform events over a stream: one
// PublishResponse per PublishRequest, in order, with the same per-event
// results as Publish. The first request names the topic; a later request
// naming another topic ends the stream with INVALID_ARGUMENT. The stream is
// not closed for inactivity.
func (s *Server) PublishStream(stream grpc.BidiStreamingServer[pubsubpb.PublishRequest, pubsubpb.PublishResponse]) error {
	rpcID := newRPCID()
	err := s.publishStream(stream, rpcID)
	if ctxErr := stream.Context().Err(); err != nil && ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}
	return toStatus(err, rpcID, stream.SetTrailer)
}

func (s *Server) publishStream(stream grpc.BidiStreamingServer[pubsubpb.PublishRequest, pubsubpb.PublishResponse], rpcID string) error {
	ctx := stream.Context()
	drop := s.dropped()
	if _, err := s.authenticate(ctx); err != nil {
		return err
	}
	// A goroutine receives so that DropStreams can end the stream while it
	// waits for a request.
	type received struct {
		req *pubsubpb.PublishRequest
		err error
	}
	reqs := make(chan received)
	go func() {
		for {
			req, err := stream.Recv()
			select {
			case reqs <- received{req, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	topicName := ""
	for answered := 0; ; answered++ {
		var r received
		select {
		case r = <-reqs:
		case <-drop:
			return errDropped
		case <-ctx.Done():
			return ctx.Err()
		}
		if errors.Is(r.err, io.EOF) {
			return nil
		}
		if r.err != nil {
			return r.err
		}
		name := r.req.GetTopicName()
		switch {
		case topicName == "":
			topicName = name
		case name != "" && name != topicName:
			return newError(codes.InvalidArgument, errorCodePublishTopicMismatch,
				"topic_name %s does not match the stream's topic %s", name, topicName)
		}
		if err := s.fault(Call{Method: "PublishStream", Topic: topicName, Start: answered == 0, Delivered: answered}); err != nil {
			return err
		}
		t, err := s.publishTopic(topicName)
		if err != nil {
			return err
		}
		resp, err := s.publishEvents(t, r.req.GetEvents(), rpcID)
		if err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// publishTopic resolves a topic events are published to and checks that it
// is a platform event.
func (s *Server) publishTopic(name string) (topic, error) {
	if name == "" {
		return topic{}, newError(codes.InvalidArgument, errorCodePublishTopicEmpty, "the topic name is blank")
	}
	t, err := s.resolveTopic(name)
	if err != nil {
		return topic{}, err
	}
	if t.kind != topicPlatform {
		return topic{}, newError(codes.PermissionDenied, errorCodeTopicPermission,
			"topic %s cannot be published to: only platform event topics (/event/…) accept events", name)
	}
	return t, nil
}

// publishEvents decodes and publishes the events of one request.
func (s *Server) publishEvents(t topic, events []*pubsubpb.ProducerEvent, rpcID string) (*pubsubpb.PublishResponse, error) {
	if len(events) == 0 {
		return nil, newError(codes.InvalidArgument, errorCodePublishEventCount, "the publish request has no events")
	}
	c, err := s.platformCodec(t.event)
	if err != nil {
		return nil, err
	}
	results := make([]*pubsubpb.PublishResult, len(events))
	var (
		accepted []*bus.Event
		index    []int // index of each accepted event in events
	)
	for i, pe := range events {
		id := pe.GetId()
		if id == "" {
			id = newRPCID() // "system generated guid"
		}
		results[i] = &pubsubpb.PublishResult{CorrelationKey: id}
		fields, err := s.decodePublished(t, c, pe)
		if err != nil {
			results[i].Error = &pubsubpb.Error{Code: pubsubpb.ErrorCode_PUBLISH, Msg: err.Error()}
			continue
		}
		accepted = append(accepted, &bus.Event{Kind: bus.KindPlatform, Channel: t.name, Fields: fields, EventUUID: id})
		index = append(index, i)
	}
	if len(accepted) > 0 {
		for k, replayID := range s.cfg.Bus.Publish(accepted...) {
			results[index[k]].ReplayId = pubsub.EncodeReplayID(replayID)
		}
	}
	return &pubsubpb.PublishResponse{Results: results, SchemaId: c.schema.ID(), RpcId: rpcID}, nil
}

// decodePublished decodes one published event with the schema its
// schema_id names, which must be a schema of the topic's event.
func (s *Server) decodePublished(t topic, current *platformCodec, pe *pubsubpb.ProducerEvent) (map[string]any, error) {
	if n := len(pe.GetPayload()); n > maxEventSize {
		return nil, fmt.Errorf("the event is %d bytes, more than the maximum event message size of 1 MB", n)
	}
	schema := current.schema
	if id := pe.GetSchemaId(); id != schema.ID() {
		old, ok := s.schemas.lookup(id)
		if id == "" || !ok || old.Name() != schema.Name() || old.Kind() != schema.Kind() {
			return nil, fmt.Errorf("schema_id %q is not a schema of %s (current: %s)", id, t.name, schema.ID())
		}
		schema = old
	}
	ev, err := schema.DecodePlatform(pe.GetPayload())
	if err != nil {
		return nil, fmt.Errorf("the payload does not decode with schema %s: %w", schema.ID(), err)
	}
	return ev.Fields, nil
}
