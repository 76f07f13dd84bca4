package pubsubserver

import (
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// orderEvent encodes an Order__e payload with schema s.
func orderEvent(t *testing.T, s *cdc.Schema, id, number string, amount float64) *pubsubpb.ProducerEvent {
	t.Helper()
	payload, err := s.EncodePlatform(&cdc.PlatformEvent{Fields: map[string]any{
		"CreatedDate": time.Now().UnixMilli(), "CreatedById": testUserID, "OrderNumber__c": number, "Amount__c": amount,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &pubsubpb.ProducerEvent{Id: id, SchemaId: s.ID(), Payload: payload}
}

// orderSchema does what the Node client does before publishing: GetTopic,
// then GetSchema.
func (h *harness) orderSchema(t *testing.T) *cdc.Schema {
	t.Helper()
	info, err := h.client.GetTopic(h.ctx(), &pubsubpb.TopicRequest{TopicName: orderTopic})
	if err != nil {
		t.Fatal(err)
	}
	if !info.GetCanPublish() || !info.GetCanSubscribe() || info.GetTenantGuid() != testOrgID || info.GetRpcId() == "" {
		t.Fatalf("topic info %v", info)
	}
	return h.schema(info.GetSchemaId())
}

func TestPublish_ThenSubscribe(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{KeepAlive: 20 * time.Millisecond})
	s := h.orderSchema(t)
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 10})
	sub.waitKeepAlive()

	resp, err := h.client.Publish(h.ctx(), &pubsubpb.PublishRequest{TopicName: orderTopic, Events: []*pubsubpb.ProducerEvent{
		orderEvent(t, s, "3f1e9a52-0a5c-4c55-9e77-6f5b7e0c1a01", "O-1", 12.5),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetResults()) != 1 || resp.GetSchemaId() != s.ID() || resp.GetRpcId() == "" {
		t.Fatalf("publish response %v", resp)
	}
	res := resp.GetResults()[0]
	if res.GetError() != nil || len(res.GetReplayId()) != 8 || res.GetCorrelationKey() != "3f1e9a52-0a5c-4c55-9e77-6f5b7e0c1a01" {
		t.Fatalf("publish result %v", res)
	}

	ce := sub.events(1)[0]
	if ce.GetEvent().GetId() != res.GetCorrelationKey() || replayID(t, ce.GetReplayId()) != replayID(t, res.GetReplayId()) {
		t.Fatalf("received id %s replay %v, published %s replay %v", ce.GetEvent().GetId(), ce.GetReplayId(), res.GetCorrelationKey(), res.GetReplayId())
	}
	ev, err := h.schema(ce.GetEvent().GetSchemaId()).DecodePlatform(ce.GetEvent().GetPayload())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Fields["OrderNumber__c"] != "O-1" || ev.Fields["Amount__c"] != 12.5 || ev.Fields["CreatedById"] != testUserID {
		t.Fatalf("received %v", ev.Fields)
	}
}

func TestPublish_PerEventErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	s := h.orderSchema(t)
	good := orderEvent(t, s, "good", "O-1", 1)
	badPayload := &pubsubpb.ProducerEvent{Id: "bad-payload", SchemaId: s.ID(), Payload: []byte{0xff, 0xff}}
	foreign := orderEvent(t, s, "foreign-schema", "O-2", 2)
	foreign.SchemaId = "nope"
	huge := &pubsubpb.ProducerEvent{Id: "huge", SchemaId: s.ID(), Payload: make([]byte, maxEventSize+1)}
	noID := orderEvent(t, s, "", "O-3", 3)

	resp, err := h.client.Publish(h.ctx(), &pubsubpb.PublishRequest{TopicName: orderTopic,
		Events: []*pubsubpb.ProducerEvent{good, badPayload, foreign, huge, noID}})
	if err != nil {
		t.Fatal(err)
	}
	rs := resp.GetResults()
	if len(rs) != 5 {
		t.Fatalf("%d results", len(rs))
	}
	for i, wantErr := range []bool{false, true, true, true, false} {
		r := rs[i]
		if (r.GetError() != nil) != wantErr {
			t.Errorf("result %d: error %v, want error %v", i, r.GetError(), wantErr)
		}
		if wantErr && (r.GetError().GetCode() != pubsubpb.ErrorCode_PUBLISH || len(r.GetReplayId()) != 0) {
			t.Errorf("result %d: %v", i, r)
		}
		if !wantErr && len(r.GetReplayId()) != 8 {
			t.Errorf("result %d: replay id %v", i, r.GetReplayId())
		}
	}
	if rs[0].GetCorrelationKey() != "good" || rs[1].GetCorrelationKey() != "bad-payload" || rs[4].GetCorrelationKey() == "" {
		t.Errorf("correlation keys %q %q %q", rs[0].GetCorrelationKey(), rs[1].GetCorrelationKey(), rs[4].GetCorrelationKey())
	}
	if !strings.Contains(rs[3].GetError().GetMsg(), "1 MB") {
		t.Errorf("oversize message %q", rs[3].GetError().GetMsg())
	}
	if h.bus.Latest() != 2 {
		t.Fatalf("bus has %d events, want the 2 good ones", h.bus.Latest())
	}
}

func TestPublish_OldSchemaStillAccepted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	old := h.orderSchema(t)
	h.mu.Lock()
	h.platform["Order__e"] = append(append([]salesforce.Field(nil), orderFields...), salesforce.Field{Name: "Note__c", Type: "string", Nillable: true})
	h.mu.Unlock()
	current := h.orderSchema(t)
	if current.ID() == old.ID() {
		t.Fatal("adding a field did not change the schema id")
	}
	resp, err := h.client.Publish(h.ctx(), &pubsubpb.PublishRequest{TopicName: orderTopic, Events: []*pubsubpb.ProducerEvent{orderEvent(t, old, "x", "O-1", 1)}})
	if err != nil || resp.GetResults()[0].GetError() != nil || resp.GetSchemaId() != current.ID() {
		t.Fatalf("publish with the previous schema: %v %v", resp, err)
	}
}

func TestPublish_CallErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	s := h.orderSchema(t)
	cases := []struct {
		name      string
		req       *pubsubpb.PublishRequest
		wantCode  codes.Code
		wantError string
	}{
		{"unknown topic", &pubsubpb.PublishRequest{TopicName: "/event/Nope__e", Events: []*pubsubpb.ProducerEvent{orderEvent(t, s, "a", "x", 1)}},
			codes.NotFound, errorCodeTopicNotFound},
		{"change event topic", &pubsubpb.PublishRequest{TopicName: accountTopic, Events: []*pubsubpb.ProducerEvent{orderEvent(t, s, "a", "x", 1)}},
			codes.PermissionDenied, errorCodeTopicPermission},
		{"no events", &pubsubpb.PublishRequest{TopicName: orderTopic},
			codes.InvalidArgument, errorCodePublishEventCount},
		{"blank topic", &pubsubpb.PublishRequest{Events: []*pubsubpb.ProducerEvent{orderEvent(t, s, "a", "x", 1)}},
			codes.InvalidArgument, errorCodePublishTopicEmpty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var trailer metadata.MD
			_, err := h.client.Publish(h.ctx(), tc.req, grpc.Trailer(&trailer))
			wantStatus(t, err, trailer, tc.wantCode, tc.wantError)
		})
	}
}

func TestPublishStream_OneResponsePerRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	s := h.orderSchema(t)
	stream, err := h.client.PublishStream(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	// Pipelined: both requests go before any response is read.
	reqs := []*pubsubpb.PublishRequest{
		{TopicName: orderTopic, Events: []*pubsubpb.ProducerEvent{orderEvent(t, s, "a", "O-1", 1), orderEvent(t, s, "b", "O-2", 2)}},
		{Events: []*pubsubpb.ProducerEvent{orderEvent(t, s, "c", "O-3", 3)}},
	}
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	var last int64
	for range reqs {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetResults() {
			if r.GetError() != nil || replayID(t, r.GetReplayId()) <= last {
				t.Fatalf("result %v", r)
			}
			last = replayID(t, r.GetReplayId())
			keys = append(keys, r.GetCorrelationKey())
		}
	}
	if strings.Join(keys, ",") != "a,b,c" {
		t.Fatalf("correlation keys %v", keys)
	}
	// A later request naming another topic ends the stream.
	if err := stream.Send(&pubsubpb.PublishRequest{TopicName: "/event/Other__e", Events: reqs[1].Events}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantStatus(t, err, stream.Trailer(), codes.InvalidArgument, errorCodePublishTopicMismatch)

	// A clean close ends with OK.
	stream, err = h.client.PublishStream(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after CloseSend: %v, want EOF", err)
	}
}
