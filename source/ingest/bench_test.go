package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// The load: benchRequests Outbound Messages of one notification each, from
// benchClients concurrent senders over keep-alive connections on loopback,
// bounded by benchBudget.
const (
	benchRequests = 3000
	benchClients  = 32
	benchBudget   = 2 * time.Minute
)

// BenchmarkIngest_OutboundExactlyOnce measures the ingest endpoint on
// loopback: each request is answered only after its notification is
// committed in a Kafka transaction (exactly_once, on the real broker when
// TEST_KAFKA_BROKERS is set, as under `make bench`; kfake otherwise). The
// baseline, in the same run, is the same requests through the same
// handler, parsing and queue, acknowledged by a loop that reads and acks
// without Kafka. Reported: requests/s and p99 latency of both, the
// throughput ratio, and the process's peak RSS.
func BenchmarkIngest_OutboundExactlyOnce(b *testing.B) {
	c := kafkatest.Real(b)
	if c == nil {
		b.Log("no real broker (TEST_KAFKA_BROKERS unset): measuring against kfake")
		c = kafkatest.NewFake(b)
	}
	for i := 0; i < b.N; i++ {
		base := kafkatest.Topic(b, "bench")
		baseline := benchBaseline(b, testConfig(base+".baseline"))
		h := startIngest(b, c, testConfig(base), fmt.Sprintf("bench-%d", i), connectorlib.DeliveryExactlyOnce)
		kafka := benchLoad(b, h.srv.URL()+"/outbound?token="+testSecret, "k")
		h.close()
		b.ReportMetric(kafka.perSecond, "req/s")
		b.ReportMetric(float64(kafka.p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(kafka.p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(baseline.perSecond, "baseline-req/s")
		b.ReportMetric(float64(baseline.p99.Microseconds())/1000, "baseline-p99-ms")
		b.ReportMetric(kafka.perSecond/baseline.perSecond, "ratio")
		b.Logf("%s: exactly_once %.0f req/s (p50 %v, p99 %v); baseline without Kafka %.0f req/s (p99 %v); ratio %.3f; %d requests, %d clients",
			c.Kind, kafka.perSecond, kafka.p50, kafka.p99, baseline.perSecond, baseline.p99, kafka.perSecond/baseline.perSecond,
			benchRequests, benchClients)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB") // Linux reports KiB
	}
}

// benchBaseline runs the load against a receiver whose session is acked
// without Kafka.
func benchBaseline(b *testing.B, cfg Config) loadResult {
	b.Helper()
	rc := New(cfg, Deps{Connector: "baseline", Mode: connectorlib.DeliveryExactlyOnce})
	s := newSession(rc)
	s.nextSeq, s.seen, s.swept, s.open = 1, map[string]time.Time{}, time.Now(), true
	rc.attach(s)
	srv, err := NewServer(cfg, rc.Handler())
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	ctx, cancel := context.WithCancel(context.Background())
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		for {
			recs, err := s.Read(ctx)
			if err != nil {
				return
			}
			_ = s.Ack(ctx, stream, recs[len(recs)-1].Position)
		}
	}()
	res := benchLoad(b, srv.URL()+"/outbound?token="+testSecret, "b")
	cancel()
	<-acked
	_ = s.Close(context.Background())
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	return res
}

type loadResult struct {
	perSecond float64
	p50, p99  time.Duration
}

// benchLoad posts benchRequests Outbound Messages, each with its own
// notification id, and fails the benchmark on any answer but the Ack.
func benchLoad(b *testing.B, url, tag string) loadResult {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), benchBudget)
	defer cancel()
	bodies := make([][]byte, benchRequests)
	for i := range bodies {
		bodies[i] = outboundBody(sfsim.DefaultOrgID, fmt.Sprintf("04l%s%011d", tag, i))
	}
	// One request first, outside the clock: it creates the target and
	// dedup topics, which the load should not measure.
	warm, err := client.Post(url, "text/xml; charset=utf-8", bytes.NewReader(outboundBody(sfsim.DefaultOrgID, "04lwarm"+tag+"0000000")))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, warm.Body)
	_ = warm.Body.Close()
	if warm.StatusCode != http.StatusOK {
		b.Fatalf("warm-up request: %d", warm.StatusCode)
	}
	var (
		next    atomic.Int64
		mu      sync.Mutex
		lat     = make([]time.Duration, 0, benchRequests)
		failure error
		wg      sync.WaitGroup
	)
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= benchRequests || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "text/xml; charset=utf-8")
				resp, err := client.Do(req)
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("<Ack>true</Ack>")) {
						err = fmt.Errorf("request %d: %d %s", i, resp.StatusCode, body)
					}
				}
				d := time.Since(t0)
				mu.Lock()
				if err != nil && failure == nil {
					failure = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failure != nil {
		b.Fatal(failure)
	}
	if len(lat) != benchRequests {
		b.Fatalf("%d of %d requests within %v", len(lat), benchRequests, benchBudget)
	}
	slices.Sort(lat)
	return loadResult{
		perSecond: float64(len(lat)) / elapsed.Seconds(),
		p50:       lat[len(lat)/2],
		p99:       lat[len(lat)*99/100],
	}
}
