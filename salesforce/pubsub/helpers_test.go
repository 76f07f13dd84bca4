package pubsub_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// The tests of this package run the client against a real sfsim on free
// loopback ports, over TLS with the sim's certificate unless a test says
// otherwise.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(cleanupM{m})
}

// cleanupM runs the tests, then closes what benchmarks shared, before
// goleak looks for leaks.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	closeBacklog()
	return code
}

// waitFor bounds every wait for an answer from the sim.
const waitFor = 10 * time.Second

// Topics the tests use.
const (
	orderTopic   = "/event/Order__e"
	accountTopic = "/data/AccountChangeEvent"
)

// orderFields are the custom fields of the Order__e platform event.
var orderFields = []salesforce.Field{
	{Name: "OrderNumber__c", Label: "Order Number", Type: "string", Length: 40, Nillable: true, Createable: true},
	{Name: "Amount__c", Label: "Amount", Type: "double", Nillable: true, Createable: true},
}

// newSim starts a Sim with Order__e, keepalives every 200 ms (so a first
// Recv on a quiet topic proves the subscription is established) and opts;
// it is closed when the test ends.
func newSim(t testing.TB, opts ...sfsim.Opt) *sfsim.Sim {
	t.Helper()
	all := append([]sfsim.Opt{
		sfsim.PlatformEvent("Order__e", orderFields...),
		sfsim.StreamTimeouts(0, 200*time.Millisecond, 0),
	}, opts...)
	sim, err := sfsim.New(all...)
	if err != nil {
		t.Fatalf("sfsim.New: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// simTokens is a salesforce.TokenProvider backed by sim.Token(): it caches
// one token until it is invalidated, and counts what it is asked.
type simTokens struct {
	sim *sfsim.Sim

	mu    sync.Mutex
	token string
	// fixed, when set, is returned instead of a sim token (a bad token).
	fixed string

	sessions      atomic.Int32
	invalidations atomic.Int32
}

var _ salesforce.TokenProvider = (*simTokens)(nil)

func (p *simTokens) Session(ctx context.Context) (salesforce.Session, error) {
	if err := ctx.Err(); err != nil {
		return salesforce.Session{}, err
	}
	p.sessions.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.fixed != "":
		p.token = p.fixed
	case p.token == "":
		p.token = p.sim.Token()
	}
	return salesforce.Session{
		AccessToken: p.token, InstanceURL: p.sim.URL(), OrgID: p.sim.OrgID(), UserID: p.sim.UserID(), IssuedAt: time.Now(),
	}, nil
}

func (p *simTokens) Invalidate(token string) {
	p.invalidations.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.token == token {
		p.token = ""
	}
}

// rpcCounter counts unary RPCs by method name (GetSchema, GetTopic).
type rpcCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *rpcCounter) interceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[method[strings.LastIndex(method, "/")+1:]]++
	c.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c *rpcCounter) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[method]
}

// testClient is a Client with its token provider and RPC counter.
type testClient struct {
	*pubsub.Client
	tokens *simTokens
	rpcs   *rpcCounter
}

// newClient dials sim (TLS with its certificate, or plaintext when it has
// none); the client is closed when the test ends.
func newClient(t testing.TB, sim *sfsim.Sim) *testClient {
	t.Helper()
	tc := &testClient{tokens: &simTokens{sim: sim}, rpcs: &rpcCounter{}}
	c, err := pubsub.DialWithOptions(context.Background(), dialConfig(t, sim, tc.tokens), grpc.WithChainUnaryInterceptor(tc.rpcs.interceptor))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	tc.Client = c
	return tc
}

// dialConfig is the DialConfig for sim: TLS trusting its certificate, or
// plaintext when it has none.
func dialConfig(t testing.TB, sim *sfsim.Sim, tokens salesforce.TokenProvider) pubsub.DialConfig {
	t.Helper()
	cfg := pubsub.DialConfig{Endpoint: sim.GRPCAddr(), Tokens: tokens}
	if pem := sim.CACertPEM(); pem != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatal("CACertPEM: no certificate")
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return cfg
}

// subscribe opens a subscription that is closed when the test ends.
func subscribe(t testing.TB, c *testClient, cfg pubsub.SubscribeConfig) *pubsub.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sub, err := c.Subscribe(ctx, cfg)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", cfg.Topic, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// recv is one Recv bounded by waitFor.
func recv(sub *pubsub.Subscription) (pubsub.Batch, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return sub.Recv(ctx)
}

// recvEvents receives until n events arrived (keepalives skipped) and
// returns them with every batch seen.
func recvEvents(t testing.TB, sub *pubsub.Subscription, n int) ([]pubsub.Event, []pubsub.Batch) {
	t.Helper()
	var events []pubsub.Event
	var batches []pubsub.Batch
	for len(events) < n {
		b, err := recv(sub)
		if err != nil {
			t.Fatalf("Recv after %d of %d events: %v", len(events), n, err)
		}
		batches = append(batches, b)
		events = append(events, b.Events...)
	}
	if len(events) != n {
		t.Fatalf("received %d events, want %d", len(events), n)
	}
	return events, batches
}

// awaitKeepalive receives until a batch without events arrives, which
// proves the subscription is established on the server.
func awaitKeepalive(t testing.TB, sub *pubsub.Subscription) pubsub.Batch {
	t.Helper()
	for {
		b, err := recv(sub)
		if err != nil {
			t.Fatalf("Recv (waiting for a keepalive): %v", err)
		}
		if b.Keepalive() {
			return b
		}
	}
}

// publishOrders publishes n Order__e events and returns their replay ids.
func publishOrders(t testing.TB, sim *sfsim.Sim, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range n {
		id, err := sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": fmt.Sprintf("O-%d", i), "Amount__c": float64(i)})
		if err != nil {
			t.Fatalf("PublishPlatformEvent: %v", err)
		}
		ids[i] = id
	}
	return ids
}

// replayIDs decodes the replay ids of events.
func replayIDs(t testing.TB, events []pubsub.Event) []int64 {
	t.Helper()
	out := make([]int64, len(events))
	for i, ev := range events {
		n, err := pubsub.DecodeReplayID(ev.ReplayID)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		out[i] = n
	}
	return out
}

// asError returns the *pubsub.Error in err's chain, failing the test
// without one.
func asError(t testing.TB, err error) *pubsub.Error {
	t.Helper()
	var e *pubsub.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) holds no *pubsub.Error", err, err)
	}
	return e
}

// earliest is the SubscribeConfig of a subscription from EARLIEST.
func earliest(topic string, appetite int) pubsub.SubscribeConfig {
	return pubsub.SubscribeConfig{Topic: topic, Preset: pubsubpb.ReplayPreset_EARLIEST, Appetite: appetite}
}
