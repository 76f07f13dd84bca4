package pubsub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// backlogSize is the number of change events the drain benchmarks read:
// half Account creates, half updates of Phone and BillingCity (so every
// update carries a nested bitmap), as sfsim's own Pub/Sub benchmark.
const backlogSize = 200_000

// backlog is the Sim holding the benchmark's events, built once per test
// binary (building takes longer than draining) and closed by TestMain.
var (
	backlogOnce sync.Once
	backlogSim  *sfsim.Sim
	backlogErr  error
)

func sharedBacklog(b *testing.B) *sfsim.Sim {
	b.Helper()
	backlogOnce.Do(func() { backlogSim, backlogErr = buildBacklog() })
	if backlogErr != nil {
		b.Fatalf("build backlog: %v", backlogErr)
	}
	return backlogSim
}

// closeBacklog closes the benchmark's Sim, if one was built.
func closeBacklog() {
	if backlogSim != nil {
		_ = backlogSim.Close()
	}
}

func buildBacklog() (*sfsim.Sim, error) {
	sim, err := sfsim.New()
	if err != nil {
		return nil, err
	}
	const perTx = 100
	ids := make([]string, 0, backlogSize/2)
	for len(ids) < backlogSize/2 {
		err := sim.Transaction(func(tx *sfsim.Tx) error {
			for range perTx {
				n := len(ids)
				id, err := tx.Create("Account", map[string]any{
					"Name": fmt.Sprintf("Account %d", n), "Industry": "Banking", "Phone": "555-0100",
					"BillingStreet": "1 Main St", "BillingCity": "Springfield", "BillingPostalCode": "12345",
					"AnnualRevenue": float64(n * 1000), "NumberOfEmployees": float64(n % 5000), "Description": "benchmark account",
				})
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			_ = sim.Close()
			return nil, err
		}
	}
	for i := 0; i < len(ids); i += perTx {
		err := sim.Transaction(func(tx *sfsim.Tx) error {
			for k, id := range ids[i : i+perTx] {
				if err := tx.Update("Account", id, map[string]any{"Phone": fmt.Sprintf("555-%04d", (i+k)%10000), "BillingCity": fmt.Sprintf("City %d", i+k)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			_ = sim.Close()
			return nil, err
		}
	}
	if got := sim.LatestReplayID(); got != backlogSize {
		_ = sim.Close()
		return nil, fmt.Errorf("backlog has %d events, want %d", got, backlogSize)
	}
	return sim, nil
}

// BenchmarkSubscription_Drain drains 200,000 change events from EARLIEST
// over TLS on 127.0.0.1 with Appetite 100, without decoding: the ceiling
// of what the source connector can read from one Pub/Sub subscription.
func BenchmarkSubscription_Drain(b *testing.B) {
	benchmarkDrain(b, false)
}

// BenchmarkSubscription_DrainDecode is BenchmarkSubscription_Drain with
// every event decoded by DecodeChange (bitmaps to names included).
func BenchmarkSubscription_DrainDecode(b *testing.B) {
	benchmarkDrain(b, true)
}

func benchmarkDrain(b *testing.B, decode bool) {
	sim := sharedBacklog(b)
	c := newClient(b, sim)
	ctx := context.Background()
	var total int
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		sub, err := c.Subscribe(ctx, earliest(accountTopic, 100))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for n < backlogSize {
			batch, err := sub.Recv(ctx)
			if err != nil {
				b.Fatalf("Recv after %d events: %v", n, err)
			}
			if decode {
				for _, ev := range batch.Events {
					if _, _, err := c.DecodeChange(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
			}
			n += len(batch.Events)
		}
		_ = sub.Close()
		elapsed += time.Since(start)
		total += n
		if n != backlogSize {
			b.Fatalf("drained %d events, want %d", n, backlogSize)
		}
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
}
