package salesforce_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	sfapi "github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// TestSink_PlatformEventMode publishes changes as WebAppChange__e events
// through the Pub/Sub API and reads them back from the event channel.
func TestSink_PlatformEventMode(t *testing.T) {
	sim := newSim(t, sfsim.PlatformEvent("WebAppChange__e",
		sfapi.Field{Name: "Name__c", Label: "Name", Type: "string", Length: 80, Nillable: true, Createable: true},
		sfapi.Field{Name: "Phone__c", Label: "Phone", Type: "string", Length: 40, Nillable: true, Createable: true},
	))
	cfg := baseConfig()
	cfg.Mode, cfg.PlatformEvent = sfsink.ModePlatformEvent, "WebAppChange__e"
	cfg.Fields = []string{"customer.name=Name__c", "customer.phone=Phone__c", "customer.city=City__c"}
	rest, tokens := restClient(t, sim, cfg.ClientID)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(sim.CACertPEM())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ps, err := pubsub.Dial(ctx, pubsub.DialConfig{Endpoint: sim.GRPCAddr(), Tokens: tokens, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	sink, err := sfsink.New(cfg, sfsink.Deps{Connector: "pe", REST: rest, Tokens: tokens, Publisher: ps, Conflicts: &memConflicts{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(ctx); err != nil {
		t.Fatal(err)
	}
	sub, err := ps.Subscribe(ctx, pubsub.SubscribeConfig{Topic: "/event/WebAppChange__e", Appetite: 10, Preset: pubsubpb.ReplayPreset_EARLIEST})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	now := time.Now()
	err = sink.Write(ctx, records(t, "webapp",
		upsert("customer", "e1", map[string]any{"name": "One", "phone": "1"}, now),
		upsert("customer", "e2", map[string]any{"city": "Nowhere"}, now), // City__c is not a field of the event
		upsert("customer", "e1", map[string]any{"name": "One again"}, now),
	))
	var be *connectorlib.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[1] == nil || connectorlib.IsRetryable(be.Failed[1]) {
		t.Fatalf("Write = %v; want index 1 failed permanently", err)
	}
	var names []any
	for len(names) < 2 {
		b, err := sub.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		for _, ev := range b.Events {
			pe, _, err := ps.DecodePlatform(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, pe.Fields["Name__c"])
		}
	}
	if len(names) != 2 || names[0] != "One" || names[1] != "One again" {
		t.Errorf("events carry names %v; want [One, One again] (every change, in order)", names)
	}
}
