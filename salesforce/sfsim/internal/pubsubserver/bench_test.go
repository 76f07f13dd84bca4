package pubsubserver

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/simclock"
)

// backlogSize is the number of change events BenchmarkSubscribe_Backlog
// drains: half creates, half updates of two fields (one an address
// component, so every update carries a nested bitmap).
const backlogSize = 200_000

// backlog is the org and bus holding the benchmark's events, built once
// per test binary because building it takes longer than draining it.
var backlog = sync.OnceValues(func() (*backlogOrg, error) {
	clock := &simclock.Clock{}
	o, err := org.New(org.Config{OrgID: testOrgID, UserID: testUserID, Now: clock.Now})
	if err != nil {
		return nil, err
	}
	b := bus.New(bus.Config{Now: clock.Now}, o.Objects)
	o.OnCommit(b.OnCommit)
	const perTx = 100
	ids := make([]string, 0, backlogSize/2)
	for len(ids) < backlogSize/2 {
		tx := o.Begin(orgOriginREST)
		for range perTx {
			n := len(ids)
			id, err := tx.Create("Account", map[string]any{
				"Name": fmt.Sprintf("Account %d", n), "Industry": "Banking", "Phone": "555-0100",
				"BillingStreet": "1 Main St", "BillingCity": "Springfield", "BillingPostalCode": "12345",
				"AnnualRevenue": float64(n * 1000), "NumberOfEmployees": float64(n % 5000), "Description": "benchmark account",
			})
			if err != nil {
				tx.Rollback()
				return nil, err
			}
			ids = append(ids, id)
		}
		tx.Commit()
	}
	for i := 0; i < len(ids); i += perTx {
		tx := o.Begin(orgOriginREST)
		for k, id := range ids[i : i+perTx] {
			if err := tx.Update("Account", id, map[string]any{"Phone": fmt.Sprintf("555-%04d", (i+k)%10000), "BillingCity": fmt.Sprintf("City %d", i+k)}); err != nil {
				tx.Rollback()
				return nil, err
			}
		}
		tx.Commit()
	}
	if got := b.Latest(); got != backlogSize {
		return nil, fmt.Errorf("backlog has %d events, want %d", got, backlogSize)
	}
	return &backlogOrg{clock: clock, org: o, bus: b}, nil
})

type backlogOrg struct {
	clock *simclock.Clock
	org   *org.Org
	bus   *bus.Bus
}

// BenchmarkSubscribe_Backlog drains a backlog of 200,000 change events
// from EARLIEST over a real gRPC connection on 127.0.0.1, requesting 100
// events at a time as the Node client does, and discarding them. Each
// iteration uses a fresh Server, so every event is encoded (no warm cache).
func BenchmarkSubscribe_Backlog(b *testing.B) {
	bl, err := backlog()
	if err != nil {
		b.Fatal(err)
	}
	provider, err := auth.New(auth.Config{
		OrgID: testOrgID, UserID: testUserID, Username: "sim@example.com", Password: "pw",
		ClientID: "client", ClientSecret: "secret", InstanceURL: func() string { return testInstanceURL }, Clock: bl.clock.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	token, _ := provider.IssueToken()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer()
	var current *Server
	var mu sync.Mutex
	// The registered service delegates to a Server replaced per iteration.
	pubsubpb.RegisterPubSubServer(gs, &swappable{get: func() *Server { mu.Lock(); defer mu.Unlock(); return current }})
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := pubsubpb.NewPubSubClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), mdAccessToken, token, mdInstanceURL, testInstanceURL, mdTenantID, testOrgID)

	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		srv, err := New(Config{Bus: bl.bus, Org: bl.org, Auth: provider, Now: bl.clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		current = srv
		mu.Unlock()
		b.StartTimer()
		if n, err := drain(ctx, client, accountTopic, backlogSize); err != nil {
			b.Fatalf("after %d events: %v", n, err)
		}
	}
	b.ReportMetric(float64(backlogSize)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// drain subscribes from EARLIEST and receives total events, requesting 100
// whenever the previous 100 have arrived.
func drain(ctx context.Context, client pubsubpb.PubSubClient, topic string, total int) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Subscribe(ctx)
	if err != nil {
		return 0, err
	}
	const batch = 100
	if err := stream.Send(&pubsubpb.FetchRequest{TopicName: topic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: batch}); err != nil {
		return 0, err
	}
	got, owed := 0, batch
	for got < total {
		r, err := stream.Recv()
		if err != nil {
			return got, err
		}
		got += len(r.GetEvents())
		owed -= len(r.GetEvents())
		if owed == 0 && got < total {
			if err := stream.Send(&pubsubpb.FetchRequest{NumRequested: batch}); err != nil {
				return got, err
			}
			owed = batch
		}
	}
	return got, nil
}

// swappable forwards Subscribe to the current Server.
type swappable struct {
	pubsubpb.UnimplementedPubSubServer
	get func() *Server
}

func (s *swappable) Subscribe(stream grpc.BidiStreamingServer[pubsubpb.FetchRequest, pubsubpb.FetchResponse]) error {
	return s.get().Subscribe(stream)
}

// BenchmarkEncode_AccountUpdate compares the compiled change event encoder
// with cdc.Schema.Encode on one backlog update event (two changed fields,
// one an address component).
func BenchmarkEncode_AccountUpdate(b *testing.B) {
	bl, err := backlog()
	if err != nil {
		b.Fatal(err)
	}
	evs, _, err := bl.bus.Read(accountTopic, backlogSize-1, 1)
	if err != nil || len(evs) != 1 {
		b.Fatalf("read: %v", err)
	}
	ev := evs[0]
	srv, err := New(Config{Bus: bl.bus, Org: bl.org, Auth: &auth.Provider{}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := srv.changeCodecFor(ev.Describe)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("compiled", func(b *testing.B) {
		var scratch encodeScratch
		b.ReportAllocs()
		for range b.N {
			if _, err := c.encode(ev, &scratch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cdc", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var bitmaps [3][]string
			for i, names := range [3][]string{ev.Header.NulledFields, ev.Header.DiffFields, ev.Header.ChangedFields} {
				bitmaps[i], _ = c.bitmap(names)
			}
			if _, err := c.encodeWithCDC(ev, bitmaps); err != nil {
				b.Fatal(err)
			}
		}
	})
}
