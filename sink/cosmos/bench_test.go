package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// The benchmark's workload.
const (
	benchRecords    = 5_000
	benchChanges    = 50_000
	benchPartitions = 3   // Kafka partitions, written concurrently as the runner does
	benchBatch      = 500 // SINK_BATCH_MAX_RECORDS default
)

// benchWorkload returns benchChanges change records over benchRecords
// Accounts, split by key into benchPartitions partitions in offset order:
// every record is created, then updated at random (some updates null a
// field).
func benchWorkload() [][]connectorlib.Record {
	rng := rand.New(rand.NewPCG(7, 11))
	parts := make([][]connectorlib.Record, benchPartitions)
	for n := range benchChanges {
		var e ev
		id := fmt.Sprintf("001B%014d", n%benchRecords)
		if n < benchRecords {
			e = ev{ct: "CREATE", id: id, ts: int64(1_000_000 + n), cn: int64(n), fields: map[string]any{
				"Name": "Account " + strconv.Itoa(n), "Industry": "Retail", "Phone": "555-0100", "NumberOfEmployees": n,
				"Description": strings.Repeat("d", 200), "BillingAddress.City": "Paris"}}
		} else {
			id = fmt.Sprintf("001B%014d", rng.IntN(benchRecords))
			f := map[string]any{"NumberOfEmployees": rng.IntN(100000), "LastModifiedDate": "2026-11-23T10:00:00.000Z"}
			var nulled []string
			if rng.IntN(10) == 0 {
				f["Phone"] = nil
				nulled = []string{"Phone"}
			}
			e = ev{ct: "UPDATE", id: id, ts: int64(1_000_000 + n), cn: int64(n), fields: f, nulled: nulled}
		}
		h := fnv.New32a()
		_, _ = h.Write([]byte(id))
		p := int(h.Sum32() % benchPartitions)
		parts[p] = append(parts[p], connectorlib.Record{Topic: "bench", Partition: int32(p), Offset: int64(len(parts[p])), Key: []byte(id), Value: e.value()})
	}
	return parts
}

// BenchmarkCosmosSink_50kChanges5kRecords applies benchChanges changes over
// benchRecords records to the local Cosmos DB stand-in, with the sink as
// the runner drives it (partitions concurrently, batches of benchBatch),
// and with a naive baseline in the same run: one upsert at a time, in
// offset order, of the full document kept in memory. It reports both rates,
// their ratio and the process's peak RSS. BENCH_COSMOS_CONCURRENCY
// overrides COSMOS_CONCURRENCY (the stand-in is one Node.js thread, so it
// prefers fewer requests in flight than Cosmos DB does).
func BenchmarkCosmosSink_50kChanges5kRecords(b *testing.B) {
	srv := cosmosServer(b)
	parts := benchWorkload()
	var sinkRate, naiveRate float64
	for i := 0; b.Loop(); i++ {
		s := openSink(b, srv, func(c *Config) {
			if v := os.Getenv("BENCH_COSMOS_CONCURRENCY"); v != "" {
				c.Concurrency, _ = strconv.Atoi(v)
			}
		})
		start := time.Now()
		var wg sync.WaitGroup
		for _, recs := range parts {
			wg.Go(func() {
				for len(recs) > 0 {
					n := min(benchBatch, len(recs))
					if err := s.Write(context.Background(), recs[:n]); err != nil {
						b.Errorf("Write: %v", err)
						return
					}
					recs = recs[n:]
				}
			})
		}
		wg.Wait()
		sinkRate = benchChanges / time.Since(start).Seconds()
		if i == 0 {
			var ops []string
			for _, op := range []string{"read", "query", "create", "replace", "delete", "patch"} {
				ops = append(ops, fmt.Sprintf("%s %.0f", op, testutil.ToFloat64(s.metrics.RequestCharge.WithLabelValues(op))))
			}
			b.Logf("sink requests (1 RU each on the stand-in): %s", strings.Join(ops, ", "))
		}

		base := openSink(b, srv, nil)
		start = time.Now()
		naiveUpserts(b, base, parts)
		naiveRate = benchChanges / time.Since(start).Seconds()

		if i == 0 {
			got, want := allDocs(b, s), allDocs(b, base)
			if len(got) != benchRecords || len(want) != benchRecords {
				b.Fatalf("documents: sink %d, baseline %d; want %d", len(got), len(want), benchRecords)
			}
			for id, w := range want {
				if d := diffDocs(w, got[id]); d != "" {
					b.Fatalf("document %s: sink and baseline differ: %s", id, d)
				}
			}
		}
	}
	b.ReportMetric(sinkRate, "docs/s")
	b.ReportMetric(naiveRate, "naive_docs/s")
	b.ReportMetric(sinkRate/naiveRate, "x_naive")
	b.ReportMetric(peakRSSMB(), "peak_RSS_MB")
}

// naiveUpserts is the baseline: every change, in offset order across all
// partitions, upserts the record's whole document, built in memory (no
// read, no version check).
func naiveUpserts(b *testing.B, s *Sink, parts [][]connectorlib.Record) {
	docs := map[string]map[string]any{}
	for _, recs := range parts {
		for _, r := range recs {
			var env envelope
			if err := json.Unmarshal(r.Value, &env); err != nil {
				b.Fatal(err)
			}
			id := string(r.Key)
			d := docs[id]
			if d == nil || env.ChangeType == "CREATE" {
				d = map[string]any{"id": id, "sobject": env.Entity}
				docs[id] = d
			}
			for k, v := range env.Fields {
				d[k] = v
			}
			d[metaField] = meta{version: version{TS: env.Header.CommitTimestamp.UnixMilli(), CN: env.Header.CommitNumber}, Versioned: true}
			body, err := json.Marshal(d)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.container.UpsertItem(context.Background(), azcosmos.NewPartitionKeyString(id), body, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// peakRSSMB returns the process's peak resident set size (VmHWM) in MiB,
// or 0 where /proc is not available.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
