package source_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// The backlog benchmark's size: benchEvents Account creates (one change
// event each) in sfsim transactions of benchPerTx.
const (
	benchEvents = 200_000
	benchPerTx  = 1_000
)

// BenchmarkSource_Backlog drains a benchEvents backlog from sfsim into
// Kafka with the real sfconnect binary in exactly_once mode, and compares
// it with the ceiling: the same backlog drained by a bare Pub/Sub
// subscription (Appetite 100) that discards the events, raw and decoded.
// It reports events/s, the ceilings, the ratios (also after start-up),
// the source process's peak RSS (VmHWM), measured in a child process
// because this one also holds sfsim, and the CPU per event of the source,
// of sfsim (this process) and of the broker (TEST_KAFKA_PID); see
// docs/performance.md. Kafka is the real broker when TEST_KAFKA_BROKERS is set,
// else kfake (in this process).
//
// Goal: at least 50,000 events/s, at least 70% of the ceiling, under
// 150 MB RSS.
func BenchmarkSource_Backlog(b *testing.B) {
	c := kafkatest.Real(b)
	if c == nil {
		c = kafkatest.NewFake(b)
	}
	bin := sfconnectBinary(b)
	start := time.Now()
	sim, err := sfsim.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sim.Close() })
	if err := buildBenchBacklog(sim); err != nil {
		b.Fatal(err)
	}
	b.Logf("backlog of %d events built in %s; Kafka: %s", benchEvents, time.Since(start).Round(time.Millisecond), c.Kind)
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		b.Fatal(err)
	}

	var raw, decoded, runner, startup, rawSteady, runnerSteady time.Duration
	var rawSteadyEvents, runnerSteadyEvents float64
	var peakRSS, cpu, benchCPU, brokerCPU, txns, rawCPU float64
	b.ResetTimer()
	for range b.N {
		// The target topic is created first: on a real broker the first
		// transaction into a topic created a moment before stalls for the
		// client's metadata refresh (5 s, see the crash test), and a
		// backlog is normally drained into existing topics.
		name := kafkatest.Topic(b, "bench")
		c.CreateTopic(b, name+".Account", 6, nil)
		// Every drain starts on a collected heap: the first ceiling drain
		// otherwise paid for collecting the backlog's construction (it
		// measured 20-30% below the later ones).
		runtime.GC()
		cd := drainCeiling(b, sim, ca, false)
		raw += cd.elapsed
		rawCPU += cd.cpuSeconds
		rawSteady += cd.steady
		rawSteadyEvents += cd.steadyEvents
		runtime.GC()
		decoded += drainCeiling(b, sim, ca, true).elapsed
		runtime.GC()
		r := drainRunner(b, c, bin, sim, ca, name)
		runner += r.elapsed
		startup += r.firstRecord
		runnerSteady += r.steady
		runnerSteadyEvents += r.steadyEvents
		peakRSS = max(peakRSS, r.peakRSSMB)
		cpu += r.cpuSeconds
		benchCPU += r.benchCPUSeconds
		brokerCPU += r.brokerCPUSeconds
		txns += r.transactions
	}
	b.StopTimer()
	n := float64(b.N * benchEvents)
	rate, ceiling, ceilingDecode := n/runner.Seconds(), n/raw.Seconds(), n/decoded.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(ceiling, "ceiling_events/s")
	b.ReportMetric(ceilingDecode, "ceiling_decode_events/s")
	b.ReportMetric(rate/ceiling, "ratio_to_ceiling")
	b.ReportMetric(rate/ceilingDecode, "ratio_to_decode_ceiling")
	b.ReportMetric(peakRSS, "peak_rss_MB")
	b.ReportMetric(cpu*1e6/n, "source_cpu_us/event")
	b.ReportMetric(n/txns, "events/transaction")
	b.Logf("%s: source %.0f events/s (first record after %s), ceiling %.0f events/s raw, %.0f decoded: ratio %.2f (%.2f to decoded); peak RSS %.1f MB",
		c.Kind, rate, (startup / time.Duration(b.N)).Round(time.Millisecond), ceiling, ceilingDecode, rate/ceiling, rate/ceilingDecode, peakRSS)
	b.ReportMetric(rawCPU*1e6/n, "ceiling_cpu_us/event")
	// Without the start-up: from the first records seen to the last (for
	// the source: process start, Kafka producer id, positions; for the
	// ceiling: dial and subscribe). The headline figures above include it.
	steady, ceilingSteady := runnerSteadyEvents/runnerSteady.Seconds(), rawSteadyEvents/rawSteady.Seconds()
	b.ReportMetric(steady, "steady_events/s")
	b.ReportMetric(ceilingSteady, "ceiling_steady_events/s")
	b.ReportMetric(steady/ceilingSteady, "steady_ratio_to_ceiling")
	b.Logf("after start-up: source %.0f events/s, ceiling %.0f events/s: ratio %.2f", steady, ceilingSteady, steady/ceilingSteady)
	b.Logf("CPU per event of the raw ceiling (sfsim and the discarding subscriber): %.1f µs, %.2f cores busy",
		rawCPU*1e6/n, rawCPU/raw.Seconds())
	b.Logf("CPU per event while draining: source process %.1f µs, this process (sfsim%s) %.1f µs, broker %s; %.0f transactions of %.0f events",
		cpu*1e6/n, map[bool]string{true: ", kfake"}[c.Kind == kafkatest.KindFake], benchCPU*1e6/n, brokerShare(brokerCPU, n), txns/float64(b.N), n/txns)
	if brokerCPU >= 0 {
		b.ReportMetric(brokerCPU*1e6/n, "broker_cpu_us/event")
	}
}

// buildBenchBacklog creates benchEvents Accounts, benchPerTx per
// transaction.
func buildBenchBacklog(sim *sfsim.Sim) error {
	for i := 0; i < benchEvents; i += benchPerTx {
		err := sim.Transaction(func(tx *sfsim.Tx) error {
			for n := i; n < i+benchPerTx; n++ {
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
			return err
		}
	}
	if got := sim.LatestReplayID(); got != benchEvents {
		return fmt.Errorf("backlog has %d events, want %d", got, benchEvents)
	}
	return nil
}

// ceilingDrain is what drainCeiling measured.
type ceilingDrain struct {
	elapsed      time.Duration
	cpuSeconds   float64 // this process (sfsim and the subscriber)
	steady       time.Duration
	steadyEvents float64 // after the first batch, in steady
}

// drainCeiling drains the backlog from EARLIEST with a bare subscription
// (Appetite 100), decoding every event (as the source does) when decode is
// set, and returns how
// long that took and the CPU seconds this process (sfsim and the
// subscriber) used meanwhile.
func drainCeiling(b *testing.B, sim *sfsim.Sim, ca string, decode bool) ceilingDrain {
	b.Helper()
	auth := salesforce.AuthConfig{
		LoginURL: sim.URL(), Flow: salesforce.FlowClientCredentials, ClientID: sfsim.DefaultClientID,
		ClientSecret: sfsim.DefaultClientSecret, CAFile: ca,
	}
	tokens, err := salesforce.NewAuthenticator(auth)
	if err != nil {
		b.Fatal(err)
	}
	hc, err := auth.HTTPClient()
	if err != nil {
		b.Fatal(err)
	}
	tr := hc.Transport.(*http.Transport)
	defer tr.CloseIdleConnections()
	ctx := context.Background()
	cpu0 := selfCPU()
	start := time.Now()
	cl, err := pubsub.Dial(ctx, pubsub.DialConfig{Endpoint: sim.GRPCAddr(), TLS: tr.TLSClientConfig.Clone(), Tokens: tokens})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	sub, err := cl.Subscribe(ctx, pubsub.SubscribeConfig{Topic: crashChannel, Preset: pubsubpb.ReplayPreset_EARLIEST, Appetite: 100})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	n, firstN := 0, 0
	var first time.Time
	var flat cdc.FlatChange
	for n < benchEvents {
		batch, err := sub.Recv(ctx)
		if err != nil {
			b.Fatalf("Recv after %d events: %v", n, err)
		}
		if decode {
			// The decoder the source uses.
			for _, ev := range batch.Events {
				if _, err := cl.DecodeChangeFlat(ctx, ev, &flat); err != nil {
					b.Fatal(err)
				}
			}
		}
		n += len(batch.Events)
		if first.IsZero() && n > 0 {
			first, firstN = time.Now(), n
		}
	}
	end := time.Now()
	return ceilingDrain{elapsed: end.Sub(start), cpuSeconds: selfCPU() - cpu0, steady: end.Sub(first), steadyEvents: float64(n - firstN)}
}

// selfCPU returns the CPU seconds this process has used (user and
// system).
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

type runnerDrain struct {
	elapsed, firstRecord  time.Duration
	steady                time.Duration // from the first scrape that saw records to the end
	steadyEvents          float64       // the records in steady
	peakRSSMB, cpuSeconds float64       // of the source process
	benchCPUSeconds       float64       // of this process (sfsim, kfake) meanwhile
	brokerCPUSeconds      float64       // of the real broker meanwhile; -1 when unknown
	transactions          float64
}

// envKafkaPID names the real broker's process id, which
// scripts/kafka/start.sh exports: with it the benchmark reports the
// broker's share of the CPU, which on a small machine bounds what the
// source can reach.
const envKafkaPID = "TEST_KAFKA_PID"

// brokerCPU returns the CPU seconds the real broker has used so far, or -1
// when its process is not known.
func brokerCPU(b *testing.B) float64 {
	pid, err := strconv.Atoi(os.Getenv(envKafkaPID))
	if err != nil {
		return -1
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return -1
	}
	return procCPU(b, pid)
}

func brokerShare(seconds, events float64) string {
	if seconds < 0 {
		return "unknown (no " + envKafkaPID + ")"
	}
	return fmt.Sprintf("%.1f µs", seconds*1e6/events)
}

// drainRunner runs `sfconnect source` (exactly_once) until every event of
// the backlog is committed to Kafka, as its metrics count, and returns how
// long that took from the process start, with its peak RSS.
func drainRunner(b *testing.B, c *kafkatest.Cluster, bin string, sim *sfsim.Sim, ca, name string) runnerDrain {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opsAddr := freeAddr(b)
	env := []string{
		"SFCONNECT_CONNECTOR_NAME=" + name,
		"SFCONNECT_KAFKA_BROKERS=" + strings.Join(c.Seeds(), ","),
		"SFCONNECT_DELIVERY_MODE=exactly_once",
		"SFCONNECT_SALESFORCE_LOGIN_URL=" + sim.URL(),
		"SFCONNECT_SALESFORCE_CLIENT_ID=" + sfsim.DefaultClientID,
		"SFCONNECT_SALESFORCE_CLIENT_SECRET=" + sfsim.DefaultClientSecret,
		"SFCONNECT_SALESFORCE_CA_FILE=" + ca,
		"SFCONNECT_SOURCE_CHANNELS=" + crashChannel,
		"SFCONNECT_SOURCE_PUBSUB_ENDPOINT=" + sim.GRPCAddr(),
		"SFCONNECT_SOURCE_INITIAL_REPLAY=earliest",
		"SFCONNECT_SOURCE_TOPIC_TEMPLATE=" + name + ".{entity}",
		"SFCONNECT_LOG_FORMAT=text",
		"SFCONNECT_OPS_ADDR=" + opsAddr,
	}
	self0 := selfCPU()
	broker0 := brokerCPU(b)
	p := startSource(b, bin, env)
	// Scraping costs the child CPU (a few percent at every 25 ms): it is
	// uncompressed, and paced by the progress, often while far from the
	// end and every 10 ms near it, so the end is still seen within 10 ms.
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	var res runnerDrain
	firstN := 0.0
	for {
		m, err := scrapeMetrics(hc, opsAddr)
		n := m["sfconnect_source_records_total"]
		if n > 0 && res.firstRecord == 0 {
			res.firstRecord, firstN = time.Since(p.started), n
		}
		if n >= benchEvents {
			res.elapsed = time.Since(p.started)
			res.steady, res.steadyEvents = res.elapsed-res.firstRecord, n-firstN
			res.transactions = m[`sfconnect_source_transactions_total{outcome="commit"}`]
			break
		}
		if p.exited() || ctx.Err() != nil {
			b.Fatalf("source stopped or timed out at %.0f records (scrape: %v):\n%s", n, err, p.stderr.tail())
		}
		time.Sleep(scrapePause(n, time.Since(p.started)))
	}
	res.peakRSSMB, res.cpuSeconds = procStats(b, p.cmd.Process.Pid)
	res.brokerCPUSeconds = -1
	if broker0 >= 0 {
		res.brokerCPUSeconds = brokerCPU(b) - broker0
	}
	res.benchCPUSeconds = selfCPU() - self0
	// The positions must agree with the metrics: the last event committed.
	store := offsetstore.NewKafka(c.Client(b), c.Opts(), "sfconnect.offsets."+name+".0", name)
	ps, err := store.Load(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if got, err := pubsub.DecodeReplayID(replayIDOf(ps[crashChannel])); err != nil || got != benchEvents {
		b.Fatalf("stored position %x (%v), want replay id %d", ps[crashChannel], err, benchEvents)
	}
	if code := p.terminate(b, 30*time.Second); code != 0 {
		b.Fatalf("source exited %d after SIGTERM:\n%s", code, p.stderr.tail())
	}
	return res
}

// scrapePause is how long to wait before the next scrape, when done of
// benchEvents records took elapsed: half the time the rest should take at
// the rate so far, between 10 and 250 ms.
func scrapePause(done float64, elapsed time.Duration) time.Duration {
	const lo, hi = 10 * time.Millisecond, 250 * time.Millisecond
	if done <= 0 {
		return lo * 2
	}
	rest := time.Duration(float64(elapsed) * (benchEvents - done) / done / 2)
	return min(max(rest, lo), hi)
}

// scrapeMetrics reads the child's /metrics into sums by metric name, and
// by name and outcome label for the transactions.
func scrapeMetrics(hc *http.Client, opsAddr string) (map[string]float64, error) {
	resp, err := hc.Get("http://" + opsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sfconnect_source_") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		metric, labels, _ := strings.Cut(line, "{")
		out[metric] += v
		if strings.Contains(labels, `outcome="commit"`) {
			out[metric+`{outcome="commit"}`] += v
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out, sc.Err()
}

// procStats returns a running process's peak resident set size in MB
// (VmHWM) and the CPU time it used in seconds (procCPU).
func procStats(b *testing.B, pid int) (peakMB, cpuSeconds float64) {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	peakMB = -1
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			peakMB = kb / 1024
		}
	}
	if peakMB < 0 {
		b.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	return peakMB, procCPU(b, pid)
}

// procCPU returns the CPU time a running process has used in seconds (user
// and system).
func procCPU(b *testing.B, pid int) float64 {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 14th and 15th fields, in clock ticks (100 a second on
	// Linux).
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}
