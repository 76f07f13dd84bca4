package pubsubserver

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

// topicKind is what a topic name denotes.
type topicKind int

const (
	// topicChange is one object's change events: /data/AccountChangeEvent.
	topicChange topicKind = iota + 1
	// topicMultiChange is a multi-entity change channel: /data/ChangeEvents
	// or a custom channel /data/Name__chn. Its events have the schemas of
	// their objects, so the topic has no single schema.
	topicMultiChange
	// topicPlatform is a platform event: /event/Order__e.
	topicPlatform
)

// topic is a resolved topic name.
type topic struct {
	name   string
	kind   topicKind
	object string // topicChange: the object, as the org spells it
	event  string // topicPlatform: the event name, Order__e
}

// resolveTopic maps a topic name to what it denotes. Names are
// case-sensitive, as Salesforce channel names are. PushTopic channels
// (/topic/…) exist only in the Streaming API, so they are not found here.
func (s *Server) resolveTopic(name string) (topic, error) {
	switch {
	case name == "":
		return topic{}, newError(codes.InvalidArgument, errorCodeTopicEmpty, "the topic name is blank")
	case name == bus.AllChangeEvents:
		return topic{name: name, kind: topicMultiChange}, nil
	case strings.HasPrefix(name, "/data/") && strings.HasSuffix(name, "__chn"):
		if s.cfg.Bus.Exists(name) {
			return topic{name: name, kind: topicMultiChange}, nil
		}
	case strings.HasPrefix(name, "/data/"):
		for _, o := range s.cfg.Org.Objects() {
			if bus.ChangeChannel(o) == name {
				return topic{name: name, kind: topicChange, object: o}, nil
			}
		}
	case strings.HasPrefix(name, "/event/"):
		ev := strings.TrimPrefix(name, "/event/")
		if _, ok := s.platformFields(ev); ok || s.cfg.Bus.Exists(name) {
			return topic{name: name, kind: topicPlatform, event: ev}, nil
		}
	}
	return topic{}, newError(codes.NotFound, errorCodeTopicNotFound, "topic %s not found", name)
}

// platformFields returns the custom fields of platform event ev (Order__e)
// and whether Config.PlatformEvents defines it.
func (s *Server) platformFields(ev string) ([]salesforce.Field, bool) {
	if s.cfg.PlatformEvents == nil {
		return nil, false
	}
	defs := s.cfg.PlatformEvents()
	if f, ok := defs[ev]; ok {
		return f, true
	}
	f, ok := defs["/event/"+ev]
	return f, ok
}

// GetTopic returns a topic's TopicInfo: the schema id of its current schema
// (empty for multi-entity change channels, whose events have one schema per
// object), can_publish for platform events only, and the org id as
// tenant_guid.
func (s *Server) GetTopic(ctx context.Context, req *pubsubpb.TopicRequest) (*pubsubpb.TopicInfo, error) {
	rpcID := newRPCID()
	info, err := s.getTopic(ctx, req, rpcID)
	return info, toStatus(err, rpcID, unaryTrailer(ctx))
}

func (s *Server) getTopic(ctx context.Context, req *pubsubpb.TopicRequest, rpcID string) (*pubsubpb.TopicInfo, error) {
	sess, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.fault(Call{Method: "GetTopic", Topic: req.GetTopicName(), Start: true}); err != nil {
		return nil, err
	}
	t, err := s.resolveTopic(req.GetTopicName())
	if err != nil {
		return nil, err
	}
	var schemaID string
	switch t.kind {
	case topicChange:
		c, err := s.currentChangeCodec(t.object)
		if err != nil {
			return nil, err
		}
		schemaID = c.schema.ID()
	case topicPlatform:
		c, err := s.platformCodec(t.event)
		if err != nil {
			return nil, err
		}
		schemaID = c.schema.ID()
	}
	return &pubsubpb.TopicInfo{
		TopicName:    t.name,
		TenantGuid:   sess.OrgID,
		CanPublish:   t.kind == topicPlatform,
		CanSubscribe: true,
		SchemaId:     schemaID,
		RpcId:        rpcID,
	}, nil
}
