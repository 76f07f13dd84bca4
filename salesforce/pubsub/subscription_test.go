package pubsub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

func TestClient_Subscribe_InvalidConfig(t *testing.T) {
	t.Parallel()
	// Nothing is sent: the endpoint is never dialled.
	c, err := pubsub.Dial(context.Background(), pubsub.DialConfig{Endpoint: "127.0.0.1:1", Tokens: &simTokens{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	id := pubsub.EncodeReplayID(42)
	for _, tc := range []struct {
		name     string
		cfg      pubsub.SubscribeConfig
		wantText string
	}{
		{name: "custom without replay id", cfg: pubsub.SubscribeConfig{Topic: orderTopic, Preset: pubsubpb.ReplayPreset_CUSTOM},
			wantText: "replay id: required with replay preset CUSTOM"},
		{name: "latest with replay id", cfg: pubsub.SubscribeConfig{Topic: orderTopic, Preset: pubsubpb.ReplayPreset_LATEST, ReplayID: id},
			wantText: "replay id: not allowed with replay preset LATEST"},
		{name: "earliest with replay id", cfg: pubsub.SubscribeConfig{Topic: orderTopic, Preset: pubsubpb.ReplayPreset_EARLIEST, ReplayID: id},
			wantText: "replay id: not allowed with replay preset EARLIEST"},
		{name: "unknown preset", cfg: pubsub.SubscribeConfig{Topic: orderTopic, Preset: 7}, wantText: "replay preset: unknown value 7"},
		{name: "no topic", cfg: pubsub.SubscribeConfig{}, wantText: "topic: required"},
		{name: "appetite over 100", cfg: pubsub.SubscribeConfig{Topic: orderTopic, Appetite: 101}, wantText: "appetite: must be between 1 and 100"},
		{name: "negative appetite", cfg: pubsub.SubscribeConfig{Topic: orderTopic, Appetite: -1}, wantText: "appetite: must be between 1 and 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub, err := c.Subscribe(context.Background(), tc.cfg)
			if err == nil {
				_ = sub.Close()
				t.Fatal("Subscribe succeeded")
			}
			if !errors.Is(err, pubsub.ErrInvalidConfig) || connectorlib.IsRetryable(err) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Subscribe error = %v; want permanent ErrInvalidConfig mentioning %q", err, tc.wantText)
			}
		})
	}
}

func TestSubscription_Earliest(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	want := publishOrders(t, sim, 5)
	events, _ := recvEvents(t, subscribe(t, c, earliest(orderTopic, 0)), 5)
	if got := replayIDs(t, events); !slices.Equal(got, want) {
		t.Fatalf("replay ids = %v, want %v", got, want)
	}
	for i, ev := range events {
		if ev.ID == "" || ev.SchemaID == "" || len(ev.Payload) == 0 {
			t.Fatalf("event %d = %+v; want id, schema id and payload", i, ev)
		}
	}
}

func TestSubscription_Latest(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	publishOrders(t, sim, 3)
	sub := subscribe(t, c, pubsub.SubscribeConfig{Topic: orderTopic, Preset: pubsubpb.ReplayPreset_LATEST})
	awaitKeepalive(t, sub) // the server has placed the subscription at the tip
	want := publishOrders(t, sim, 2)
	events, _ := recvEvents(t, sub, 2)
	if got := replayIDs(t, events); !slices.Equal(got, want) {
		t.Fatalf("replay ids = %v, want only the new events %v", got, want)
	}
}

func TestSubscription_Custom(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	ids := publishOrders(t, sim, 5)
	sub := subscribe(t, c, pubsub.SubscribeConfig{
		Topic: orderTopic, Preset: pubsubpb.ReplayPreset_CUSTOM, ReplayID: pubsub.EncodeReplayID(ids[1]),
	})
	events, _ := recvEvents(t, sub, 3)
	if got := replayIDs(t, events); !slices.Equal(got, ids[2:]) {
		t.Fatalf("replay ids = %v, want those after %d: %v", got, ids[1], ids[2:])
	}
}

// fetchRecorder records the FetchRequests of Subscribe streams, with the
// events received before each.
type fetchRecorder struct {
	mu       sync.Mutex
	requests []int32 // num_requested of each FetchRequest
	// maxOwed is the most the client was owed right after a request
	// (requested minus received, as the client sees it).
	maxOwed            int
	requested, arrived int
}

func (r *fetchRecorder) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &recordedStream{ClientStream: cs, r: r}, nil
}

type recordedStream struct {
	grpc.ClientStream
	r *fetchRecorder
}

func (s *recordedStream) SendMsg(m any) error {
	if req, ok := m.(*pubsubpb.FetchRequest); ok {
		s.r.mu.Lock()
		s.r.requests = append(s.r.requests, req.GetNumRequested())
		s.r.requested += int(req.GetNumRequested())
		s.r.maxOwed = max(s.r.maxOwed, s.r.requested-s.r.arrived)
		s.r.mu.Unlock()
	}
	return s.ClientStream.SendMsg(m)
}

func (s *recordedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if resp, ok := m.(*pubsubpb.FetchResponse); ok && err == nil {
		s.r.mu.Lock()
		s.r.arrived += len(resp.GetEvents())
		s.r.mu.Unlock()
	}
	return err
}

// TestSubscription_FlowControl_Appetite10 drains a backlog of 1000 events
// with Appetite 10: the server never owes more than 10, batches never
// carry more, and every event arrives once, in order.
func TestSubscription_FlowControl_Appetite10(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	rec := &fetchRecorder{}
	tc := &testClient{tokens: &simTokens{sim: sim}, rpcs: &rpcCounter{}}
	c, err := pubsub.DialWithOptions(context.Background(), dialConfig(t, sim, tc.tokens), grpc.WithChainStreamInterceptor(rec.stream))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	tc.Client = c

	const backlog, appetite = 1000, 10
	want := publishOrders(t, sim, backlog)
	events, batches := recvEvents(t, subscribe(t, tc, earliest(orderTopic, appetite)), backlog)
	if got := replayIDs(t, events); !slices.Equal(got, want) {
		t.Fatalf("events out of order or missing: got %d events, first mismatch in %v", len(got), fmt.Sprint(firstMismatch(got, want)))
	}
	for i, b := range batches {
		if b.PendingNumRequested > appetite || b.PendingNumRequested < 0 {
			t.Fatalf("batch %d: server's pending_num_requested = %d, want 0..%d", i, b.PendingNumRequested, appetite)
		}
		if len(b.Events) > appetite {
			t.Fatalf("batch %d carries %d events, more than the appetite %d", i, len(b.Events), appetite)
		}
		if len(b.LatestReplayID) == 0 || b.RPCID == "" {
			t.Fatalf("batch %d: latest replay id %x, rpc id %q; want both", i, b.LatestReplayID, b.RPCID)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.maxOwed > appetite {
		t.Fatalf("the client was owed up to %d events, more than the appetite %d", rec.maxOwed, appetite)
	}
	if rec.requests[0] != appetite {
		t.Fatalf("first FetchRequest asked for %d, want %d", rec.requests[0], appetite)
	}
	for i, n := range rec.requests[1:] {
		if n < appetite/2 || n > appetite {
			t.Fatalf("FetchRequest %d asked for %d; a renewal asks for %d..%d", i+1, n, appetite/2, appetite)
		}
	}
	t.Logf("%d events in %d batches, %d FetchRequests", backlog, len(batches), len(rec.requests))
}

// TestSubscription_Keepalive_LatestReplayID: keepalives carry no events
// and a non-empty latest replay id, the tip of the bus.
func TestSubscription_Keepalive_LatestReplayID(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.StreamTimeouts(0, 50*time.Millisecond, 0))
	c := newClient(t, sim)
	ids := publishOrders(t, sim, 2)
	sub := subscribe(t, c, pubsub.SubscribeConfig{Topic: orderTopic}) // LATEST
	for range 3 {
		b := awaitKeepalive(t, sub)
		if len(b.LatestReplayID) == 0 {
			t.Fatal("keepalive with an empty latest replay id")
		}
		if n, err := pubsub.DecodeReplayID(b.LatestReplayID); err != nil || n != ids[1] {
			t.Fatalf("keepalive latest replay id = %d, %v; want the tip %d", n, err, ids[1])
		}
		if !bytes.Equal(sub.LatestReplayID(), b.LatestReplayID) {
			t.Fatalf("LatestReplayID() = %x, want the last batch's %x", sub.LatestReplayID(), b.LatestReplayID)
		}
	}
}

// TestSubscription_RenewsWithinIdleWindow: with a 300 ms idle close, a
// subscription whose events were all delivered (owed 0 on the server) stays
// open for many idle windows, because Recv renews the request at once.
func TestSubscription_RenewsWithinIdleWindow(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.StreamTimeouts(300*time.Millisecond, 50*time.Millisecond, 0))
	c := newClient(t, sim)
	sub := subscribe(t, c, earliest(orderTopic, 2))
	for round := range 3 {
		want := publishOrders(t, sim, 2) // exactly the appetite: the server is then owed 0
		events, _ := recvEvents(t, sub, 2)
		if got := replayIDs(t, events); !slices.Equal(got, want) {
			t.Fatalf("round %d: replay ids = %v, want %v", round, got, want)
		}
		// Stay connected through two idle windows, reading keepalives.
		deadline := time.Now().Add(700 * time.Millisecond)
		for time.Now().Before(deadline) {
			b, err := recv(sub)
			if err != nil {
				t.Fatalf("round %d: Recv while idle: %v", round, err)
			}
			if !b.Keepalive() {
				t.Fatalf("round %d: unexpected events %v", round, b.Events)
			}
		}
	}
}

// TestSubscription_SlowCaller_IdleClose documents the limit of
// backpressure: a caller that takes the last owed events and then does not
// call Recv for longer than the idle window gets the events, then
// ErrStreamClosed (retryable).
func TestSubscription_SlowCaller_IdleClose(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.StreamTimeouts(200*time.Millisecond, time.Hour, 0))
	c := newClient(t, sim)
	publishOrders(t, sim, 2)
	sub := subscribe(t, c, earliest(orderTopic, 2))
	time.Sleep(time.Second) // the server sent both events, owes 0, and gives up
	events, _ := recvEvents(t, sub, 2)
	_, err := recv(sub)
	if !errors.Is(err, pubsub.ErrStreamClosed) || !connectorlib.IsRetryable(err) {
		t.Fatalf("Recv after the idle close = %v (%d events before); want retryable ErrStreamClosed", err, len(events))
	}
}

// TestSubscription_ExpiredTokens_NewSubscribeReauthenticates: after the
// sessions expire, a new subscription is refused once, invalidates the
// token and works with a fresh one. The stream that was already open is
// not re-authenticated: sfsim keeps it (Salesforce may end it, which Recv
// reports as a retryable ErrAuth).
func TestSubscription_ExpiredTokens_NewSubscribeReauthenticates(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	old := subscribe(t, c, earliest(orderTopic, 0))
	recvEvents(t, old, len(publishOrders(t, sim, 1)))

	sim.ExpireTokens()
	want := publishOrders(t, sim, 2)
	sub := subscribe(t, c, pubsub.SubscribeConfig{
		Topic: orderTopic, Preset: pubsubpb.ReplayPreset_CUSTOM, ReplayID: pubsub.EncodeReplayID(want[0] - 1),
	})
	events, _ := recvEvents(t, sub, 2)
	if got := replayIDs(t, events); !slices.Equal(got, want) {
		t.Fatalf("replay ids = %v, want %v", got, want)
	}
	if got := c.tokens.invalidations.Load(); got != 1 {
		t.Fatalf("Invalidate called %d times, want 1", got)
	}
	if got := c.tokens.sessions.Load(); got != 3 {
		t.Fatalf("Session called %d times, want 3 (old stream, refused stream, fresh stream)", got)
	}
}

func TestSubscription_InvalidReplayID(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.Retention(time.Hour))
	c := newClient(t, sim)
	ids := publishOrders(t, sim, 3)
	for _, tc := range []struct {
		name          string
		replayID      func() []byte
		wantErrorCode string
	}{
		{name: "future", replayID: func() []byte { return pubsub.EncodeReplayID(ids[2] + 1000) }, wantErrorCode: pubsub.ErrorCodeReplayIDCorrupted},
		{name: "malformed", replayID: func() []byte { return []byte{1, 2, 3} }, wantErrorCode: pubsub.ErrorCodeReplayIDValidationFailed},
		{name: "outside retention", replayID: func() []byte {
			sim.AdvanceClock(2 * time.Hour) // every event so far is purged
			publishOrders(t, sim, 1)
			return pubsub.EncodeReplayID(ids[0])
		}, wantErrorCode: pubsub.ErrorCodeReplayIDCorrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := subscribe(t, c, pubsub.SubscribeConfig{Topic: orderTopic, Preset: pubsubpb.ReplayPreset_CUSTOM, ReplayID: tc.replayID()})
			_, err := recv(sub)
			if !errors.Is(err, pubsub.ErrInvalidReplayID) {
				t.Fatalf("Recv = %v; want ErrInvalidReplayID", err)
			}
			if connectorlib.IsRetryable(err) || connectorlib.Code(err) != tc.wantErrorCode {
				t.Fatalf("error %v: retryable %v, code %q; want permanent with %s", err, connectorlib.IsRetryable(err), connectorlib.Code(err), tc.wantErrorCode)
			}
			if e := asError(t, err); e.Code != codes.InvalidArgument || e.RPCID == "" || !strings.Contains(err.Error(), e.RPCID) {
				t.Fatalf("*Error = %+v; want INVALID_ARGUMENT with its rpc id in the text %q", e, err)
			}
			if _, again := recv(sub); !errors.Is(again, pubsub.ErrInvalidReplayID) {
				t.Fatalf("second Recv = %v; want the same error", again)
			}
		})
	}
}

// TestSubscription_DropStreams_Retryable: a stream the server drops (as in
// a restart) ends with a retryable error that names the RPC.
func TestSubscription_DropStreams_Retryable(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	sub := subscribe(t, c, earliest(orderTopic, 0))
	recvEvents(t, sub, len(publishOrders(t, sim, 1)))
	sim.DropStreams()
	var err error
	for err == nil {
		_, err = recv(sub) // keepalives sent before the drop may come first
	}
	if !connectorlib.IsRetryable(err) || connectorlib.Classify(err) != connectorlib.ClassRetryable {
		t.Fatalf("Recv after DropStreams = %v; want retryable", err)
	}
	e := asError(t, err)
	if e.Code != codes.Unavailable || e.ErrorCode != pubsub.ErrorCodeServiceUnavailable || e.RPCID == "" {
		t.Fatalf("*Error = %+v; want UNAVAILABLE, service unavailable, an rpc id", e)
	}
	if !strings.Contains(err.Error(), "rpc id "+e.RPCID) {
		t.Fatalf("error text %q lacks the rpc id", err)
	}
}

// TestSubscription_FailNext_Unavailable: a subscription refused as
// UNAVAILABLE at its start is retryable.
func TestSubscription_FailNext_Unavailable(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	sim.FailNext(sfsim.SurfacePubSub, 1, sfsim.Fault{Status: 503, Message: "try later"})
	_, err := recv(subscribe(t, c, earliest(orderTopic, 0)))
	if !connectorlib.IsRetryable(err) || status.Code(err) != codes.Unavailable {
		t.Fatalf("Recv = %v; want retryable UNAVAILABLE", err)
	}
}

// TestSubscription_RecvContext_KeepsStream: a Recv whose ctx ends returns
// ctx's error and leaves the subscription working; nothing is lost.
func TestSubscription_RecvContext_KeepsStream(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.StreamTimeouts(0, time.Hour, 0))
	c := newClient(t, sim)
	sub := subscribe(t, c, earliest(orderTopic, 0))
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := sub.Recv(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv on a quiet topic = %v; want DeadlineExceeded", err)
		}
	}
	want := publishOrders(t, sim, 3)
	events, _ := recvEvents(t, sub, 3)
	if got := replayIDs(t, events); !slices.Equal(got, want) {
		t.Fatalf("replay ids = %v, want %v", got, want)
	}
}

func TestSubscription_Close_UnblocksRecv(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.StreamTimeouts(0, time.Hour, 0))
	c := newClient(t, sim)
	sub := subscribe(t, c, earliest(orderTopic, 0))
	errc := make(chan error, 1)
	go func() {
		_, err := sub.Recv(context.Background())
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, pubsub.ErrClosed) {
			t.Fatalf("Recv = %v; want ErrClosed", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Recv still blocked after Close")
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// firstMismatch returns the first index where got and want differ, with
// both values, or -1 and the lengths.
func firstMismatch(got, want []int64) [3]int64 {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return [3]int64{int64(i), got[i], want[i]}
		}
	}
	return [3]int64{-1, int64(len(got)), int64(len(want))}
}

// TestSubscription_RefusedAtStart_ReauthenticatesOnce: a subscription
// refused as UNAUTHENTICATED before its first response invalidates the
// token and reopens once, transparently to Recv.
func TestSubscription_RefusedAtStart_ReauthenticatesOnce(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	want := publishOrders(t, sim, 2)
	sim.FailNext(sfsim.SurfacePubSub, 1, sfsim.Fault{Status: 401, ErrorCode: pubsub.ErrorCodeAuthError, Message: "session expired"})
	events, _ := recvEvents(t, subscribe(t, c, earliest(orderTopic, 0)), 2)
	if got := replayIDs(t, events); !slices.Equal(got, want) {
		t.Fatalf("replay ids = %v, want %v", got, want)
	}
	if got := c.tokens.invalidations.Load(); got != 1 {
		t.Fatalf("Invalidate called %d times, want 1", got)
	}
}
