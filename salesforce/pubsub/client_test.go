package pubsub_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

func TestDial_InvalidConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      pubsub.DialConfig
		wantText string
	}{
		{name: "no endpoint", cfg: pubsub.DialConfig{Tokens: &simTokens{}}, wantText: "endpoint: required"},
		{name: "no tokens", cfg: pubsub.DialConfig{Endpoint: "127.0.0.1:1"}, wantText: "tokens: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := pubsub.Dial(context.Background(), tc.cfg)
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial succeeded")
			}
			if !errors.Is(err, pubsub.ErrInvalidConfig) || connectorlib.IsRetryable(err) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Dial error = %v; want permanent ErrInvalidConfig mentioning %q", err, tc.wantText)
			}
		})
	}
}

func TestClient_GetTopic(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	info, err := c.GetTopic(context.Background(), orderTopic)
	if err != nil {
		t.Fatalf("GetTopic: %v", err)
	}
	if info.GetTopicName() != orderTopic || !info.GetCanSubscribe() || info.GetSchemaId() == "" || info.GetTenantGuid() != sim.OrgID() {
		t.Fatalf("GetTopic = %v", info)
	}
	if got := c.tokens.invalidations.Load(); got != 0 {
		t.Fatalf("Invalidate called %d times, want 0", got)
	}
}

func TestClient_GetTopic_NotFoundIsPermanent(t *testing.T) {
	t.Parallel()
	c := newClient(t, newSim(t))
	_, err := c.GetTopic(context.Background(), "/event/Nope__e")
	if err == nil {
		t.Fatal("GetTopic of an unknown topic succeeded")
	}
	if connectorlib.IsRetryable(err) {
		t.Fatalf("error %v is retryable, want permanent", err)
	}
	e := asError(t, err)
	if e.Code != codes.NotFound || e.ErrorCode == "" || e.RPCID == "" {
		t.Fatalf("*Error = %+v; want NOT_FOUND with an error code and an rpc id", e)
	}
	if got := connectorlib.Code(err); got != e.ErrorCode {
		t.Fatalf("connectorlib.Code = %q, want the error-code trailer %q", got, e.ErrorCode)
	}
	if !strings.Contains(err.Error(), e.RPCID) {
		t.Fatalf("error text %q lacks the rpc id %s", err, e.RPCID)
	}
}

// TestClient_GetTopic_ExpiredToken_ReauthenticatesOnce: a unary call
// refused as UNAUTHENTICATED invalidates the token and succeeds with a
// fresh session.
func TestClient_GetTopic_ExpiredToken_ReauthenticatesOnce(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	if _, err := c.GetTopic(context.Background(), orderTopic); err != nil {
		t.Fatalf("GetTopic: %v", err)
	}
	sim.ExpireTokens()
	if _, err := c.GetTopic(context.Background(), orderTopic); err != nil {
		t.Fatalf("GetTopic after ExpireTokens: %v", err)
	}
	if got := c.tokens.invalidations.Load(); got != 1 {
		t.Fatalf("Invalidate called %d times, want 1", got)
	}
	if got := c.rpcs.count("GetTopic"); got != 3 {
		t.Fatalf("GetTopic sent %d times, want 3 (one, then refused and retried)", got)
	}
}

// TestClient_BadToken_ErrAuth: a token refused again after Invalidate is a
// permanent ErrAuth, for unary calls and subscriptions, and the token
// never shows in the error.
func TestClient_BadToken_ErrAuth(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	const secret = "00D8a00000SIMRGEA5!not-a-live-token-3f9a"
	c.tokens.fixed = secret

	_, err := c.GetTopic(context.Background(), orderTopic)
	if !errors.Is(err, pubsub.ErrAuth) || connectorlib.IsRetryable(err) {
		t.Fatalf("GetTopic error = %v; want permanent ErrAuth", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "not-a-live-token") {
		t.Fatalf("error text contains the token: %q", err)
	}
	if got := c.tokens.invalidations.Load(); got != 1 {
		t.Fatalf("Invalidate called %d times after GetTopic, want 1", got)
	}

	sub := subscribe(t, c, earliest(orderTopic, 0))
	_, err = recv(sub)
	if !errors.Is(err, pubsub.ErrAuth) || connectorlib.IsRetryable(err) {
		t.Fatalf("Recv error = %v; want permanent ErrAuth", err)
	}
	if strings.Contains(err.Error(), "not-a-live-token") {
		t.Fatalf("error text contains the token: %q", err)
	}
	if got := c.tokens.invalidations.Load(); got != 2 {
		t.Fatalf("Invalidate called %d times in all, want 2", got)
	}
	if _, again := recv(sub); !errors.Is(again, pubsub.ErrAuth) {
		t.Fatalf("second Recv = %v; want the same ErrAuth", again)
	}
}

// TestClient_Plaintext runs against a sim without TLS (TLS nil).
func TestClient_Plaintext(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.Plaintext())
	if sim.CACertPEM() != nil {
		t.Fatal("plaintext sim has a certificate")
	}
	c := newClient(t, sim)
	if _, err := c.GetTopic(context.Background(), orderTopic); err != nil {
		t.Fatalf("GetTopic: %v", err)
	}
	want := publishOrders(t, sim, 3)
	events, _ := recvEvents(t, subscribe(t, c, earliest(orderTopic, 0)), 3)
	got := replayIDs(t, events)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replay ids = %v, want %v", got, want)
		}
	}
	pe, _, err := c.DecodePlatform(context.Background(), events[0])
	if err != nil || pe.Fields["OrderNumber__c"] != "O-0" {
		t.Fatalf("DecodePlatform = %v, %v", pe, err)
	}
}

func TestClient_Close(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	sub := subscribe(t, c, earliest(orderTopic, 0))
	awaitKeepalive(t, sub)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.GetTopic(context.Background(), orderTopic); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("GetTopic after Close = %v; want ErrClosed", err)
	}
	if _, err := recv(sub); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("Recv after the client's Close = %v; want ErrClosed", err)
	}
	if _, err := c.Subscribe(context.Background(), earliest(orderTopic, 0)); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v; want ErrClosed", err)
	}
}
