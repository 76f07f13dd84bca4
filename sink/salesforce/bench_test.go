package salesforce_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// Benchmark scenario: 10,000 web-app changes over 2,000 existing Accounts,
// written in batches of 500 (SINK_BATCH_MAX_RECORDS' default).
const (
	benchChanges = 10_000
	benchRecords = 2_000
	benchBatch   = 500
)

// modeledRTT is a network round trip to Salesforce assumed for the modeled
// throughput figures: the simulator answers over loopback, where a request
// costs well under a millisecond of network, while a real org is tens to
// hundreds of milliseconds away. The modeled figures add calls x
// modeledRTT to the measured time; they are derived, not measured.
const modeledRTT = 100 * time.Millisecond

// benchWorkload returns the scenario's changes, the same for every run
// (fixed seed): random records, random fields among name, phone, city and
// employees.
func benchWorkload(b *testing.B) []connectorlib.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now()
	changes := make([]ch, benchChanges)
	for i := range changes {
		x := fmt.Sprintf("bench-%04d", rng.IntN(benchRecords))
		f := map[string]any{}
		switch rng.IntN(4) {
		case 0:
			f["name"] = fmt.Sprintf("Account %d", i)
		case 1:
			f["phone"] = fmt.Sprintf("+1 555 %04d", i%10000)
		case 2:
			f["city"] = []string{"Oslo", "Paris", "Lyon", "Bergen", "Turin"}[rng.IntN(5)]
		default:
			f["employees"] = int64(rng.IntN(5000))
		}
		changes[i] = upsert("customer", x, f, t0.Add(time.Duration(i)*time.Millisecond))
		changes[i]["idempotency_key"] = fmt.Sprintf("bench-%d", i)
	}
	return records(b, "webapp", changes...)
}

// benchOrg starts an org holding the scenario's 2,000 Accounts, with a
// daily API limit high enough for the baseline.
func benchOrg(b *testing.B) *sfsim.Sim {
	sim := newSim(b, sfsim.APILimit(10_000_000))
	err := sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range benchRecords {
			if _, err := tx.Create("Account", map[string]any{"Name": fmt.Sprintf("seed %d", i), "External_Id__c": fmt.Sprintf("bench-%04d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return sim
}

// runSink writes the workload through a sink with cfg and returns the API
// requests counted at the simulator and the time it took.
func runSink(b *testing.B, cfg sfsink.Config, work []connectorlib.Record) (calls int, took time.Duration) {
	e := newEnvOn(b, benchOrg(b), cfg)
	before := e.apiUsed()
	start := time.Now()
	for i := 0; i < len(work); i += benchBatch {
		if err := e.write(b, work[i:min(i+benchBatch, len(work))]); err != nil {
			b.Fatalf("Write: %v", err)
		}
	}
	took = time.Since(start)
	calls = e.apiUsed() - before
	_ = e.sim.Close() // free the org now, not when the benchmark ends: peak RSS is reported
	return calls, took
}

// runPerChange is the baseline: one REST call per change, an upsert by
// external id (PATCH /sobjects/Account/External_Id__c/{value}), as a sink
// without batching or coalescing makes.
func runPerChange(b *testing.B, work []connectorlib.Record) (calls int, took time.Duration) {
	sim := benchOrg(b)
	rest, _ := restClient(b, sim, "baseline")
	used0, _ := sim.APIUsage()
	dec := sfsink.JSONDecoder{}
	names := map[string]string{"name": "Name", "phone": "Phone", "city": "BillingCity", "employees": "NumberOfEmployees"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	for _, r := range work {
		c, err := dec.Decode(r.Value)
		if err != nil {
			b.Fatal(err)
		}
		body := map[string]any{}
		for k, v := range c.Fields {
			body[names[k]] = v
		}
		if err := rest.Do(ctx, "PATCH", "/sobjects/Account/External_Id__c/"+url.PathEscape(c.ExternalID), body, nil); err != nil {
			b.Fatalf("PATCH: %v", err)
		}
	}
	took = time.Since(start)
	used1, _ := sim.APIUsage()
	_ = sim.Close()
	return used1 - used0, took
}

// BenchmarkSalesforceSink_APIEfficiency writes 10,000 changes over 2,000
// records and reports the Salesforce API requests made (counted at the
// simulator), requests per 1,000 changes, changes per second, and both as
// ratios to one REST call per change measured in the same run, plus the
// throughput modeled with a 100 ms round trip per request. Variants:
// the default (last_writer_wins with one lookup per batch, collection
// writes packed into /composite), unpacked collections, and webapp_wins
// (no lookup).
func BenchmarkSalesforceSink_APIEfficiency(b *testing.B) {
	work := benchWorkload(b)
	for b.Loop() {
		cfg := baseConfig()
		calls, took := runSink(b, cfg, work)
		unpacked := cfg
		unpacked.Pack = false
		unpackedCalls, unpackedTook := runSink(b, unpacked, work)
		noLookup := cfg
		noLookup.ConflictPolicy = sfsink.PolicyWebAppWins
		noLookupCalls, _ := runSink(b, noLookup, work)
		baseCalls, baseTook := runPerChange(b, work)

		perSec := func(d time.Duration) float64 { return benchChanges / d.Seconds() }
		b.ReportMetric(float64(calls), "api-calls")
		b.ReportMetric(float64(calls)*1000/benchChanges, "calls/1000changes")
		b.ReportMetric(perSec(took), "changes/s")
		b.ReportMetric(float64(unpackedCalls)*1000/benchChanges, "unpacked-calls/1000changes")
		b.ReportMetric(perSec(unpackedTook), "unpacked-changes/s")
		b.ReportMetric(float64(noLookupCalls)*1000/benchChanges, "webapp_wins-calls/1000changes")
		b.ReportMetric(float64(baseCalls), "baseline-api-calls")
		b.ReportMetric(perSec(baseTook), "baseline-changes/s")
		b.ReportMetric(float64(baseCalls)/float64(calls), "calls-saved-x")
		b.ReportMetric(perSec(took)/perSec(baseTook), "throughput-vs-baseline-x")
		modeled := func(d time.Duration, calls int) float64 { return perSec(d + time.Duration(calls)*modeledRTT) }
		b.ReportMetric(modeled(took, calls), "changes/s@100msRTT")
		b.ReportMetric(modeled(baseTook, baseCalls), "baseline-changes/s@100msRTT")
		b.ReportMetric(modeled(took, calls)/modeled(baseTook, baseCalls), "throughput-vs-baseline-x@100msRTT")
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB") // Linux reports KiB
	}
}
