package connectorlib

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

// benchRecords is the size of one measured run: large enough that session
// start-up (topic creation, producer id) is a small part of it.
const benchRecords = 200_000

// BenchmarkSourceRunner measures the source runner's throughput on kfake in
// both delivery modes and reports it as a ratio to a baseline measured in
// the same run: the same records produced with a plain idempotent kgo
// client, no runtime around it. Machines here are noisy; the ratio is the
// figure to compare across runs.
func BenchmarkSourceRunner(b *testing.B) {
	for _, mode := range []DeliveryMode{DeliveryExactlyOnce, DeliveryAtLeastOnce} {
		b.Run(string(mode), func(b *testing.B) {
			c := kafkatest.NewFake(b)
			var base, runner time.Duration
			for i := range b.N {
				base += baselineProduce(b, c, fmt.Sprintf("base-%d", i))
				runner += runnerProduce(b, c, mode, fmt.Sprintf("run-%d", i))
			}
			n := float64(b.N * benchRecords)
			b.ReportMetric(n/runner.Seconds(), "records/s")
			b.ReportMetric(n/base.Seconds(), "baseline_records/s")
			b.ReportMetric(base.Seconds()/runner.Seconds(), "ratio_to_baseline")
		})
	}
}

func benchRecord(topic string, e int) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%03d", e%97), Value: []byte(strconv.Itoa(e))}
}

// baselineProduce produces benchRecords records with a bare client and
// returns how long that took until all were acknowledged.
func baselineProduce(b *testing.B, c *kafkatest.Cluster, topic string) time.Duration {
	c.CreateTopic(b, topic, 4, nil)
	cl := c.Client(b)
	var wg sync.WaitGroup
	wg.Add(benchRecords)
	start := time.Now()
	for e := range benchRecords {
		cl.Produce(context.Background(), benchRecord(topic, e), func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	return time.Since(start)
}

// runnerProduce runs the source runner until a numberSource of benchRecords
// events is fully acknowledged and returns how long that took.
func runnerProduce(b *testing.B, c *kafkatest.Cluster, mode DeliveryMode, name string) time.Duration {
	topic := name + ".out"
	c.CreateTopic(b, topic, 4, nil)
	cfg := testSourceConfig(name, name+".offsets", mode)
	cfg.MaxInFlight = 20_000
	done := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewSourceRunner(cfg, func() (Source, error) {
		src := newNumberSource(topic, 1, benchRecords, 1000, 97)
		src.progress = func(acked int) {
			if acked == benchRecords {
				once.Do(func() { close(done) })
			}
		}
		return src, nil
	}, Deps{Kafka: c.Opts()})
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- r.Run(ctx) }()
	select {
	case <-done:
	case err := <-errc:
		b.Fatalf("runner stopped early: %v", err)
	case <-time.After(2 * time.Minute):
		b.Fatal("runner did not finish")
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return elapsed
}
