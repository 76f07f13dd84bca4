package pubsub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// TestClient_PublishEvents publishes Order__e events, one of which does not
// fit the schema, and reads the others back through a subscription.
func TestClient_PublishEvents(t *testing.T) {
	sim := newSim(t)
	c := newClient(t, sim)
	sub := subscribe(t, c, earliest(orderTopic, 10))
	awaitKeepalive(t, sub)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	now := time.Now().UnixMilli()
	events := []map[string]any{
		{"CreatedDate": now, "CreatedById": sim.UserID(), "OrderNumber__c": "O-1", "Amount__c": 12.5},
		{"CreatedDate": now, "CreatedById": sim.UserID(), "Shoe__c": "no such field"},
		{"CreatedDate": now, "CreatedById": sim.UserID(), "OrderNumber__c": "O-2", "Amount__c": int64(7)},
	}
	results, err := c.PublishEvents(ctx, orderTopic, events)
	if err != nil {
		t.Fatalf("PublishEvents: %v", err)
	}
	if results[0] != nil || results[2] != nil || results[1] == nil || connectorlib.IsRetryable(results[1]) {
		t.Fatalf("results %v; want events 0 and 2 published, 1 refused permanently", results)
	}
	got, _ := recvEvents(t, sub, 2)
	for i, want := range []string{"O-1 12.5", "O-2 7"} {
		pe, _, err := c.DecodePlatform(ctx, got[i])
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(pe.Fields["OrderNumber__c"], " ", pe.Fields["Amount__c"]); s != want {
			t.Errorf("event %d = %s; want %s", i, s, want)
		}
	}
	if _, err := c.PublishEvents(ctx, "/event/Missing__e", events[:1]); err == nil || connectorlib.IsRetryable(err) {
		t.Errorf("publishing to a missing event = %v; want a permanent error", err)
	}
}
