package pubsub_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// topicSchemaID returns the current schema id of topic.
func topicSchemaID(t *testing.T, c *testClient, topic string) string {
	t.Helper()
	info, err := c.GetTopic(context.Background(), topic)
	if err != nil {
		t.Fatalf("GetTopic(%s): %v", topic, err)
	}
	return info.GetSchemaId()
}

func TestClient_Schema_Cached(t *testing.T) {
	t.Parallel()
	c := newClient(t, newSim(t))
	id := topicSchemaID(t, c, orderTopic)
	s1, err := c.Schema(context.Background(), id)
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	if s1.Kind() != cdc.KindPlatformEvent || s1.Name() != "Order__e" {
		t.Fatalf("Schema = %s (%v)", s1.Name(), s1.Kind())
	}
	s2, err := c.Schema(context.Background(), id)
	if err != nil || s2 != s1 {
		t.Fatalf("second Schema = %p, %v; want the cached %p", s2, err, s1)
	}
	if got := c.rpcs.count("GetSchema"); got != 1 {
		t.Fatalf("GetSchema sent %d times, want 1", got)
	}
}

func TestClient_Schema_ConcurrentCallsFetchOnce(t *testing.T) {
	t.Parallel()
	c := newClient(t, newSim(t))
	id := topicSchemaID(t, c, orderTopic)
	const callers = 32
	schemas := make([]*cdc.Schema, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			schemas[i], errs[i] = c.Schema(context.Background(), id)
		})
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || schemas[i] != schemas[0] {
			t.Fatalf("caller %d: %p, %v; want the shared %p", i, schemas[i], errs[i], schemas[0])
		}
	}
	if got := c.rpcs.count("GetSchema"); got != 1 {
		t.Fatalf("GetSchema sent %d times for %d concurrent callers, want 1", got, callers)
	}
}

// TestClient_Schema_UnavailableIsRetryableAndNotCached: a GetSchema that
// fails with UNAVAILABLE is retryable, and the next call fetches again.
func TestClient_Schema_UnavailableIsRetryableAndNotCached(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	id := topicSchemaID(t, c, orderTopic)
	sim.FailNext(sfsim.SurfacePubSub, 1, sfsim.Fault{Status: 503, Message: "maintenance"})
	_, err := c.Schema(context.Background(), id)
	if err == nil || !connectorlib.IsRetryable(err) {
		t.Fatalf("Schema during the fault = %v; want a retryable error", err)
	}
	if e := asError(t, err); e.Code != codes.Unavailable || e.ErrorCode != pubsub.ErrorCodeServiceUnavailable || e.RPCID == "" {
		t.Fatalf("*Error = %+v; want UNAVAILABLE, service unavailable, an rpc id", e)
	}
	if _, err := c.Schema(context.Background(), id); err != nil {
		t.Fatalf("Schema after the fault: %v", err)
	}
	if got := c.rpcs.count("GetSchema"); got != 2 {
		t.Fatalf("GetSchema sent %d times, want 2 (the failure is not cached)", got)
	}
}

func TestClient_Schema_UnknownIDIsPermanent(t *testing.T) {
	t.Parallel()
	c := newClient(t, newSim(t))
	for range 2 {
		_, err := c.Schema(context.Background(), "AAAAAAAAAAAAAAAAAAAAAA")
		if err == nil || connectorlib.IsRetryable(err) {
			t.Fatalf("Schema of an unknown id = %v; want a permanent error", err)
		}
		if e := asError(t, err); e.Code != codes.NotFound {
			t.Fatalf("*Error = %+v; want NOT_FOUND", e)
		}
	}
	if got := c.rpcs.count("GetSchema"); got != 2 {
		t.Fatalf("GetSchema sent %d times, want 2 (failures are not cached)", got)
	}
	if _, err := c.Schema(context.Background(), ""); err == nil || connectorlib.IsRetryable(err) {
		t.Fatalf("Schema(\"\") = %v; want a permanent error", err)
	}
}

// TestClient_Schema_ChangeMidStream: a field added to Account while a
// subscription runs gives later events a new schema id, fetched once;
// earlier events keep theirs, still cached.
func TestClient_Schema_ChangeMidStream(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	ctx := context.Background()
	sub := subscribe(t, c, earliest(accountTopic, 0))

	if _, err := sim.Create("Account", map[string]any{"Name": "Before"}); err != nil {
		t.Fatal(err)
	}
	before, _ := recvEvents(t, sub, 1)
	if _, _, err := c.DecodeChange(ctx, before[0]); err != nil {
		t.Fatalf("DecodeChange: %v", err)
	}

	err := sim.AddField("Account", salesforce.Field{Name: "Tier__c", Label: "Tier", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Create("Account", map[string]any{"Name": "After", "Tier__c": "Gold"}); err != nil {
		t.Fatal(err)
	}
	after, _ := recvEvents(t, sub, 1)
	if after[0].SchemaID == before[0].SchemaID {
		t.Fatalf("schema id %s did not change with the new field", after[0].SchemaID)
	}
	ev, schema, err := c.DecodeChange(ctx, after[0])
	if err != nil {
		t.Fatalf("DecodeChange after the change: %v", err)
	}
	if ev.Fields["Tier__c"] != "Gold" {
		t.Fatalf("Tier__c = %v, want Gold (schema %s)", ev.Fields["Tier__c"], schema.Name())
	}
	for _, e := range append(before, after...) { // both ids are cached now
		if _, _, err := c.DecodeChange(ctx, e); err != nil {
			t.Fatalf("DecodeChange again: %v", err)
		}
	}
	if got := c.rpcs.count("GetSchema"); got != 2 {
		t.Fatalf("GetSchema sent %d times, want 2 (one per schema id)", got)
	}
}

func TestClient_Schema_ContextEnds(t *testing.T) {
	t.Parallel()
	c := newClient(t, newSim(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Schema(ctx, "AAAAAAAAAAAAAAAAAAAAAA")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Schema with a cancelled ctx = %v; want context.Canceled", err)
	}
}
