package source

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// eventPathEvents is how many events BenchmarkSource_EventPath turns into
// records per iteration: ten full Pub/Sub batches.
const eventPathEvents = 1000

// BenchmarkSource_EventPath measures the source's own work per event,
// in this process alone: received Pub/Sub batches (Account creates, as in
// BenchmarkSource_Backlog) decoded, turned into envelopes, encoded as JSON
// and made into records. Neither gRPC nor Kafka is in the loop, so the
// figure moves with the source's code only, also on a busy machine where
// the end-to-end benchmark's figures are noisy.
func BenchmarkSource_EventPath(b *testing.B) {
	sim, err := sfsim.New(sfsim.Plaintext())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sim.Close() })
	err = sim.Transaction(func(tx *sfsim.Tx) error {
		for n := range eventPathEvents {
			if _, err := tx.Create("Account", map[string]any{
				"Name": fmt.Sprintf("Account %d", n), "Industry": "Banking", "Phone": "555-0100",
				"BillingStreet": "1 Main St", "BillingCity": "Springfield", "BillingPostalCode": "12345",
				"AnnualRevenue": float64(n * 1000), "NumberOfEmployees": float64(n % 5000), "Description": "benchmark account",
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	auth := salesforce.AuthConfig{LoginURL: sim.URL(), Flow: salesforce.FlowClientCredentials,
		ClientID: sfsim.DefaultClientID, ClientSecret: sfsim.DefaultClientSecret}
	tokens, err := salesforce.NewAuthenticator(auth)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cfg := Config{
		Channels: []string{"/data/AccountChangeEvent"}, Transport: TransportPubSub, PubSubEndpoint: sim.GRPCAddr(),
		PubSubPlaintext: true, Appetite: 100, InitialReplay: ReplayEarliest, OnInvalidReplay: ReplayFail,
		TopicTemplate: "salesforce.{entity}", LoopAction: LoopDrop, GapRepair: true,
	}
	conn, err := New(ctx, cfg, Deps{Connector: "bench", Tokens: tokens})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	src, err := conn.Factory()()
	if err != nil {
		b.Fatal(err)
	}
	s := src.(*Source)
	s.commits, s.current = map[string]time.Time{}, map[string]connectorlib.Position{} // as Open sets them
	st, err := s.open(ctx, cfg.Channels[0], nil, ReplayEarliest)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.close)
	p := st.(*pubsubStream)
	var batches []pubsub.Batch
	for n := 0; n < eventPathEvents; {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		bt, err := p.sub.Recv(rctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, bt)
		n += len(bt.Events)
	}
	// The loop's own CPU time (its thread's), besides the wall time: on a
	// machine shared with other work, wall time mostly measures the others.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(rusageThread, &ru0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, bt := range batches {
			recs, err := p.batch(ctx, bt)
			if err != nil || len(recs) != len(bt.Events) {
				b.Fatalf("%d records from %d events: %v", len(recs), len(bt.Events), err)
			}
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(rusageThread, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*eventPathEvents), "ns/event")
	b.ReportMetric(float64(cpu)/float64(b.N*eventPathEvents), "cpu-ns/event")
}

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1
