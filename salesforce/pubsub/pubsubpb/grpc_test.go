package pubsubpb_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testTopic = "/event/Order__e"

// topicServer is a minimal PubSub server: GetTopic knows one topic, and
// Subscribe answers the first FetchRequest with one event, or with the
// replay-id-corrupted error for a CUSTOM replay id.
type topicServer struct {
	pubsubpb.UnimplementedPubSubServer
}

func (topicServer) GetTopic(ctx context.Context, req *pubsubpb.TopicRequest) (*pubsubpb.TopicInfo, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get("accesstoken")) == 0 || len(md.Get("instanceurl")) == 0 || len(md.Get("tenantid")) == 0 {
		return nil, status.Error(codes.Unauthenticated, "missing auth metadata")
	}
	if req.GetTopicName() != testTopic {
		return nil, status.Errorf(codes.NotFound, "topic %s not found", req.GetTopicName())
	}
	return &pubsubpb.TopicInfo{
		TopicName:    req.GetTopicName(),
		TenantGuid:   md.Get("tenantid")[0],
		CanPublish:   true,
		CanSubscribe: true,
		SchemaId:     "schema-1",
		RpcId:        "rpc-1",
	}, nil
}

func (topicServer) Subscribe(stream grpc.BidiStreamingServer[pubsubpb.FetchRequest, pubsubpb.FetchResponse]) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	if req.GetReplayPreset() == pubsubpb.ReplayPreset_CUSTOM {
		stream.SetTrailer(metadata.Pairs(pubsub.ErrorCodeKey, pubsub.ErrorCodeReplayIDCorrupted))
		return status.Error(codes.InvalidArgument, "replay id corrupted")
	}
	return stream.Send(&pubsubpb.FetchResponse{
		Events: []*pubsubpb.ConsumerEvent{{
			Event:    &pubsubpb.ProducerEvent{Id: "e1", SchemaId: "schema-1", Payload: []byte{2, 'h', 'i'}},
			ReplayId: pubsub.EncodeReplayID(7),
		}},
		LatestReplayId:      pubsub.EncodeReplayID(7),
		RpcId:               "rpc-2",
		PendingNumRequested: req.GetNumRequested() - 1,
	})
}

// newTestClient serves topicServer over an in-memory listener and returns a
// client connected to it, with the three auth metadata entries on ctx.
func newTestClient(t *testing.T) (pubsubpb.PubSubClient, context.Context) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pubsubpb.RegisterPubSubServer(srv, topicServer{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("close client: %v", err)
		}
		srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("serve: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	ctx = metadata.AppendToOutgoingContext(ctx,
		"accesstoken", "00D000000000001!token",
		"instanceurl", "https://example.my.salesforce.com",
		"tenantid", "00D000000000001",
	)
	return pubsubpb.NewPubSubClient(conn), ctx
}

func TestPubSubClient_GetTopic_RoundTrip(t *testing.T) {
	client, ctx := newTestClient(t)

	got, err := client.GetTopic(ctx, &pubsubpb.TopicRequest{TopicName: testTopic})
	if err != nil {
		t.Fatalf("GetTopic: %v", err)
	}
	want := &pubsubpb.TopicInfo{
		TopicName: testTopic, TenantGuid: "00D000000000001", CanPublish: true, CanSubscribe: true,
		SchemaId: "schema-1", RpcId: "rpc-1",
	}
	if !proto.Equal(got, want) {
		t.Fatalf("GetTopic = %v, want %v", got, want)
	}

	_, err = client.GetTopic(ctx, &pubsubpb.TopicRequest{TopicName: "/event/Missing__e"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetTopic(missing) error = %v, want NotFound", err)
	}

	_, err = client.GetSchema(ctx, &pubsubpb.SchemaRequest{SchemaId: "schema-1"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("GetSchema error = %v, want Unimplemented", err)
	}
}

func TestPubSubClient_Subscribe_RoundTrip(t *testing.T) {
	client, ctx := newTestClient(t)

	stream, err := client.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := stream.Send(&pubsubpb.FetchRequest{TopicName: testTopic, NumRequested: 5}); err != nil {
		t.Fatalf("send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	if len(resp.GetEvents()) != 1 || resp.GetEvents()[0].GetEvent().GetId() != "e1" || resp.GetPendingNumRequested() != 4 {
		t.Fatalf("response = %v", resp)
	}
	n, err := pubsub.DecodeReplayID(resp.GetLatestReplayId())
	if err != nil || n != 7 {
		t.Fatalf("latest replay id = %d, %v; want 7", n, err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatalf("close send: %v", err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("recv after server end = %v, want io.EOF", err)
	}
}

func TestPubSubClient_Subscribe_ErrorCodeTrailer(t *testing.T) {
	client, ctx := newTestClient(t)

	stream, err := client.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	req := &pubsubpb.FetchRequest{
		TopicName:    testTopic,
		ReplayPreset: pubsubpb.ReplayPreset_CUSTOM,
		ReplayId:     pubsub.EncodeReplayID(1),
		NumRequested: 1,
	}
	if err := stream.Send(req); err != nil {
		t.Fatalf("send: %v", err)
	}
	_, err = stream.Recv()
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("recv error = %v, want InvalidArgument", err)
	}
	got := stream.Trailer().Get(pubsub.ErrorCodeKey)
	if len(got) != 1 || got[0] != pubsub.ErrorCodeReplayIDCorrupted {
		t.Fatalf("trailer %s = %v, want [%s]", pubsub.ErrorCodeKey, got, pubsub.ErrorCodeReplayIDCorrupted)
	}
}
