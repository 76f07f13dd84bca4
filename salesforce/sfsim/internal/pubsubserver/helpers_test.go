package pubsubserver

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/simclock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test identity.
const (
	testOrgID       = "00D5g000004ABCDEA4"
	testUserID      = "0055g00000AbCdEAAV"
	testInstanceURL = "https://127.0.0.1:8443"
	orderTopic      = "/event/Order__e"
	accountTopic    = "/data/AccountChangeEvent"
)

// orgOriginREST is the origin of the tests' writes.
var orgOriginREST = org.Origin{API: "rest", Version: "62.0", Client: "test"}

// orderFields are the custom fields of the Order__e platform event.
var orderFields = []salesforce.Field{
	{Name: "OrderNumber__c", Type: "string", Nillable: true},
	{Name: "Amount__c", Type: "double", Nillable: true},
}

// harness is a simulated org with a Pub/Sub server on 127.0.0.1 and a
// generated client authenticated as the org's user.
type harness struct {
	t      testing.TB
	clock  *simclock.Clock
	org    *org.Org
	bus    *bus.Bus
	auth   *auth.Provider
	srv    *Server
	client pubsubpb.PubSubClient
	token  string

	mu       sync.Mutex
	platform map[string][]salesforce.Field
}

// newHarness starts a server configured by cfg (Bus, Org, Auth,
// InstanceURL, Now and PlatformEvents are filled in when left zero).
func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clock: &simclock.Clock{}, platform: map[string][]salesforce.Field{"Order__e": orderFields}}
	o, err := org.New(org.Config{OrgID: testOrgID, UserID: testUserID, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.org = o
	h.bus = bus.New(bus.Config{Now: h.clock.Now}, o.Objects)
	o.OnCommit(h.bus.OnCommit)
	h.bus.AddPlatformEvent("Order__e")
	h.auth, err = auth.New(auth.Config{
		OrgID: testOrgID, UserID: testUserID, Username: "sim@example.com", Password: "pw",
		ClientID: "client", ClientSecret: "secret", InstanceURL: func() string { return testInstanceURL },
		Clock: h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.token, _ = h.auth.IssueToken()
	if cfg.Bus == nil {
		cfg.Bus = h.bus
	}
	if cfg.Org == nil {
		cfg.Org = h.org
	}
	if cfg.Auth == nil {
		cfg.Auth = h.auth
	}
	if cfg.InstanceURL == nil {
		cfg.InstanceURL = func() string { return testInstanceURL }
	}
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	if cfg.PlatformEvents == nil {
		cfg.PlatformEvents = h.platformEvents
	}
	h.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	h.srv.Register(gs)
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
	})
	h.client = pubsubpb.NewPubSubClient(conn)
	return h
}

func (h *harness) platformEvents() map[string][]salesforce.Field {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]salesforce.Field, len(h.platform))
	for k, v := range h.platform {
		out[k] = v
	}
	return out
}

// ctx returns a context with the auth metadata and a test timeout.
func (h *harness) ctx() context.Context {
	return h.ctxWith(h.token, testInstanceURL, testOrgID[:15])
}

func (h *harness) ctxWith(token, instanceURL, tenant string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, mdAccessToken, token, mdInstanceURL, instanceURL, mdTenantID, tenant)
}

// createAccounts commits one transaction creating an account per name.
func (h *harness) createAccounts(names ...string) []string {
	h.t.Helper()
	tx := h.org.Begin(orgOriginREST)
	var ids []string
	for _, n := range names {
		id, err := tx.Create("Account", map[string]any{"Name": n})
		if err != nil {
			tx.Rollback()
			h.t.Fatalf("create %s: %v", n, err)
		}
		ids = append(ids, id)
	}
	tx.Commit()
	return ids
}

// update commits one transaction updating one record.
func (h *harness) update(object, id string, fields map[string]any) {
	h.t.Helper()
	tx := h.org.Begin(org.Origin{API: "rest", Version: "62.0"})
	if err := tx.Update(object, id, fields); err != nil {
		tx.Rollback()
		h.t.Fatalf("update %s %s: %v", object, id, err)
	}
	tx.Commit()
}

// publishOrders publishes n Order__e events straight onto the bus.
func (h *harness) publishOrders(n int) []int64 {
	evs := make([]*bus.Event, n)
	for i := range evs {
		evs[i] = &bus.Event{Kind: bus.KindPlatform, Channel: orderTopic, Fields: map[string]any{
			"OrderNumber__c": "O-" + string(rune('A'+i%26)), "Amount__c": float64(i),
		}}
	}
	return h.bus.Publish(evs...)
}

// schema fetches and parses a schema with GetSchema.
func (h *harness) schema(id string) *cdc.Schema {
	h.t.Helper()
	info, err := h.client.GetSchema(h.ctx(), &pubsubpb.SchemaRequest{SchemaId: id})
	if err != nil {
		h.t.Fatalf("GetSchema(%s): %v", id, err)
	}
	if info.GetSchemaId() != id {
		h.t.Fatalf("GetSchema(%s) returned schema id %s", id, info.GetSchemaId())
	}
	s, err := cdc.ParseSchema(info.GetSchemaJson())
	if err != nil {
		h.t.Fatalf("parse schema %s: %v", id, err)
	}
	return s
}

// decodeChange decodes a change event with its schema from GetSchema.
func (h *harness) decodeChange(ce *pubsubpb.ConsumerEvent) (*cdc.Schema, *cdc.ChangeEvent) {
	h.t.Helper()
	s := h.schema(ce.GetEvent().GetSchemaId())
	ev, err := s.Decode(ce.GetEvent().GetPayload())
	if err != nil {
		h.t.Fatalf("decode event: %v", err)
	}
	return s, ev
}

// subscriber is a Subscribe stream whose responses a goroutine collects.
type subscriber struct {
	t       testing.TB
	stream  grpc.BidiStreamingClient[pubsubpb.FetchRequest, pubsubpb.FetchResponse]
	resps   chan *pubsubpb.FetchResponse
	done    chan struct{}
	err     error // the stream's end; valid once done is closed
	pending int32 // pending_num_requested of the last response
}

// subscribe opens a stream and sends first; t is the (sub)test using it.
func (h *harness) subscribe(t testing.TB, first *pubsubpb.FetchRequest) *subscriber {
	return h.subscribeCtx(t, h.ctx(), first)
}

func (h *harness) subscribeCtx(t testing.TB, ctx context.Context, first *pubsubpb.FetchRequest) *subscriber {
	t.Helper()
	stream, err := h.client.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// io.EOF means the server already ended the stream (an auth failure, for
	// example); Recv reports how.
	if err := stream.Send(first); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	sub := &subscriber{t: t, stream: stream, resps: make(chan *pubsubpb.FetchResponse, 1000), done: make(chan struct{})}
	go func() {
		defer close(sub.done)
		for {
			r, err := stream.Recv()
			if err != nil {
				sub.err = err
				return
			}
			sub.resps <- r
		}
	}()
	return sub
}

// request asks for n more events.
func (s *subscriber) request(n int32) {
	s.t.Helper()
	if err := s.stream.Send(&pubsubpb.FetchRequest{NumRequested: n}); err != nil {
		<-s.done
		s.t.Fatalf("send: %v; the stream ended with %v", err, s.err)
	}
}

// next returns the next response, or fails after timeout.
func (s *subscriber) next(timeout time.Duration) *pubsubpb.FetchResponse {
	s.t.Helper()
	select {
	case r := <-s.resps:
		checkResponse(s.t, r)
		return r
	case <-s.done:
		select {
		case r := <-s.resps:
			checkResponse(s.t, r)
			return r
		default:
		}
		s.t.Fatalf("stream ended: %v", s.err)
	case <-time.After(timeout):
		s.t.Fatalf("no response within %s", timeout)
	}
	return nil
}

// events receives responses until n events arrived, checking that
// pending_num_requested counts down with them and that no response
// overshoots.
func (s *subscriber) events(n int) []*pubsubpb.ConsumerEvent {
	s.t.Helper()
	var out []*pubsubpb.ConsumerEvent
	for len(out) < n {
		r := s.next(10 * time.Second)
		if len(r.GetEvents()) == 0 {
			continue // keepalive
		}
		out = append(out, r.GetEvents()...)
		if len(out) > n {
			s.t.Fatalf("received %d events, want %d", len(out), n)
		}
		s.pending = r.GetPendingNumRequested()
	}
	return out
}

// waitKeepAlive waits for an empty response. The first one shows that the
// subscription has started, so a LATEST subscription gets what is published
// afterwards. The harness must have a short KeepAlive.
func (s *subscriber) waitKeepAlive() {
	s.t.Helper()
	for {
		if r := s.next(10 * time.Second); len(r.GetEvents()) == 0 {
			return
		}
	}
}

// quiet checks that no response with events arrives for d.
func (s *subscriber) quiet(d time.Duration) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case r := <-s.resps:
			if len(r.GetEvents()) > 0 {
				s.t.Fatalf("got %d unrequested events", len(r.GetEvents()))
			}
		case <-s.done:
			s.t.Fatalf("stream ended: %v", s.err)
		case <-deadline:
			return
		}
	}
}

// end waits for the stream to end and returns its error (nil for OK).
func (s *subscriber) end(timeout time.Duration) error {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.t.Fatalf("stream still open after %s", timeout)
	}
	if errors.Is(s.err, io.EOF) {
		return nil
	}
	return s.err
}

// checkResponse checks what every FetchResponse must carry.
func checkResponse(t testing.TB, r *pubsubpb.FetchResponse) {
	t.Helper()
	if len(r.GetLatestReplayId()) != 8 {
		t.Fatalf("latest_replay_id is %d bytes, want 8", len(r.GetLatestReplayId()))
	}
	if r.GetRpcId() == "" {
		t.Fatal("rpc_id is empty")
	}
	if p := r.GetPendingNumRequested(); p < 0 || p > maxOutstanding {
		t.Fatalf("pending_num_requested %d out of range", p)
	}
	for _, ce := range r.GetEvents() {
		if len(ce.GetReplayId()) != 8 || ce.GetEvent().GetId() == "" || ce.GetEvent().GetSchemaId() == "" {
			t.Fatalf("malformed event %v", ce)
		}
	}
}

// replayID decodes a replay id, failing the test on error.
func replayID(t testing.TB, b []byte) int64 {
	t.Helper()
	n, err := pubsub.DecodeReplayID(b)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wantStatus checks a call's error: its gRPC code, its error-code trailer
// and the rpcId in its message.
func wantStatus(t testing.TB, err error, trailer metadata.MD, code codes.Code, errorCode string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	if !strings.Contains(st.Message(), "rpcId: ") {
		t.Errorf("message %q has no rpcId", st.Message())
	}
	if got := trailer.Get(pubsub.ErrorCodeKey); errorCode != "" && (len(got) != 1 || got[0] != errorCode) {
		t.Errorf("error-code trailer %v, want %s", got, errorCode)
	}
}
