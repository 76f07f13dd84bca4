package pubsubserver

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

func TestNew_RequiresBusOrgAuth(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
}

func TestAuth_EveryRPC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	expired, _ := h.auth.IssueToken()
	h.auth.Expire(expired)
	cases := []struct {
		name                  string
		token, inst, tenantID string
	}{
		{"no token", "", testInstanceURL, testOrgID},
		{"no instance url", h.token, "", testOrgID},
		{"no tenant id", h.token, testInstanceURL, ""},
		{"unknown token", testOrgID[:15] + "!ARbogus", testInstanceURL, testOrgID},
		{"expired token", expired, testInstanceURL, testOrgID},
		{"other org", h.token, testInstanceURL, "00D000000000001AAA"},
		{"other instance", h.token, "https://elsewhere.example.com", testOrgID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := h.ctxWith(tc.token, tc.inst, tc.tenantID)
			var trailer metadata.MD
			_, err := h.client.GetTopic(ctx, &pubsubpb.TopicRequest{TopicName: orderTopic}, grpc.Trailer(&trailer))
			wantStatus(t, err, trailer, codes.Unauthenticated, pubsub.ErrorCodeAuthError)
			_, err = h.client.GetSchema(ctx, &pubsubpb.SchemaRequest{SchemaId: "x"}, grpc.Trailer(&trailer))
			wantStatus(t, err, trailer, codes.Unauthenticated, pubsub.ErrorCodeAuthError)
			_, err = h.client.Publish(ctx, &pubsubpb.PublishRequest{TopicName: orderTopic}, grpc.Trailer(&trailer))
			wantStatus(t, err, trailer, codes.Unauthenticated, pubsub.ErrorCodeAuthError)

			sub := h.subscribeCtx(t, ctx, &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 1})
			err = sub.end(5 * time.Second)
			wantStatus(t, err, sub.stream.Trailer(), codes.Unauthenticated, pubsub.ErrorCodeAuthError)

			ps, err := h.client.PublishStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ps.Recv()
			wantStatus(t, err, ps.Trailer(), codes.Unauthenticated, pubsub.ErrorCodeAuthError)
		})
	}
	t.Run("18-character tenant id and a trailing slash are fine", func(t *testing.T) {
		ctx := h.ctxWith(h.token, testInstanceURL+"/", testOrgID)
		if _, err := h.client.GetTopic(ctx, &pubsubpb.TopicRequest{TopicName: orderTopic}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGetTopic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	if err := h.bus.AddCustomChannel("/data/Sales__chn", "Account", "Contact"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		topic       string
		wantPublish bool
		wantSchema  bool
	}{
		{orderTopic, true, true},
		{accountTopic, false, true},
		{"/data/ContactChangeEvent", false, true},
		{bus.AllChangeEvents, false, false},
		{"/data/Sales__chn", false, false},
	}
	for _, tc := range cases {
		info, err := h.client.GetTopic(h.ctx(), &pubsubpb.TopicRequest{TopicName: tc.topic})
		if err != nil {
			t.Fatalf("%s: %v", tc.topic, err)
		}
		if info.GetTopicName() != tc.topic || info.GetCanPublish() != tc.wantPublish || !info.GetCanSubscribe() ||
			(info.GetSchemaId() != "") != tc.wantSchema || info.GetTenantGuid() != testOrgID {
			t.Errorf("%s: %v", tc.topic, info)
		}
		if tc.wantSchema {
			h.schema(info.GetSchemaId()) // GetSchema knows it
		}
	}
	var trailer metadata.MD
	_, err := h.client.GetTopic(h.ctx(), &pubsubpb.TopicRequest{TopicName: "/data/NopeChangeEvent"}, grpc.Trailer(&trailer))
	wantStatus(t, err, trailer, codes.NotFound, errorCodeTopicNotFound)
}

func TestGetTopic_SchemaMatchesEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.createAccounts("a")
	info, err := h.client.GetTopic(h.ctx(), &pubsubpb.TopicRequest{TopicName: accountTopic})
	if err != nil {
		t.Fatal(err)
	}
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 1})
	if got := sub.events(1)[0].GetEvent().GetSchemaId(); got != info.GetSchemaId() {
		t.Fatalf("event schema %s, topic schema %s", got, info.GetSchemaId())
	}
}

func TestGetSchema_Errors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	var trailer metadata.MD
	_, err := h.client.GetSchema(h.ctx(), &pubsubpb.SchemaRequest{SchemaId: "unknown"}, grpc.Trailer(&trailer))
	wantStatus(t, err, trailer, codes.NotFound, errorCodeSchemaPermission)
	_, err = h.client.GetSchema(h.ctx(), &pubsubpb.SchemaRequest{}, grpc.Trailer(&trailer))
	wantStatus(t, err, trailer, codes.InvalidArgument, errorCodeSchemaEmpty)
}

func TestGetSchema_KnowsCurrentSchemasUnasked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	// A second server over the same org derives the id; the first has never
	// handed it out but must still serve it.
	other, err := New(Config{Bus: h.bus, Org: h.org, Auth: h.auth})
	if err != nil {
		t.Fatal(err)
	}
	c, err := other.currentChangeCodec("Lead")
	if err != nil {
		t.Fatal(err)
	}
	if s := h.schema(c.schema.ID()); s.Name() != "LeadChangeEvent" {
		t.Fatalf("schema %s", s.Name())
	}
}

func TestManagedSubscribe_Unimplemented(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	stream, err := h.client.ManagedSubscribe(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantStatus(t, err, stream.Trailer(), codes.Unimplemented, "")
}

func TestDropStreams_EndsOpenStreamsOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{KeepAlive: 20 * time.Millisecond})
	h.publishOrders(500)
	idle := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: "/data/LeadChangeEvent", NumRequested: 1})
	idle.waitKeepAlive()
	busy := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 1})
	busy.events(1)
	ps, err := h.client.PublishStream(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	s := h.orderSchema(t)
	if err := ps.Send(&pubsubpb.PublishRequest{TopicName: orderTopic, Events: []*pubsubpb.ProducerEvent{orderEvent(t, s, "a", "O", 1)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Recv(); err != nil {
		t.Fatal(err)
	}

	h.srv.DropStreams()
	for _, sub := range []*subscriber{idle, busy} {
		err := sub.end(5 * time.Second)
		wantStatus(t, err, sub.stream.Trailer(), codes.Unavailable, pubsub.ErrorCodeServiceUnavailable)
	}
	_, err = ps.Recv()
	wantStatus(t, err, ps.Trailer(), codes.Unavailable, pubsub.ErrorCodeServiceUnavailable)

	again := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 3})
	again.events(3)
}
