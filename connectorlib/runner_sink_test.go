package connectorlib

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

// ---- shared helpers (also used by runner_source_test.go) ----

// runHandle is a runner's Run executing in its own goroutine.
type runHandle struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// startRun runs run in a goroutine. The test's cleanup cancels it and waits
// for it, so no goroutine outlives the test.
func startRun(t *testing.T, run func(ctx context.Context) error) *runHandle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &runHandle{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		h.err = run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(60 * time.Second):
			t.Error("runner did not return within 60s of its context being cancelled")
		}
	})
	return h
}

// returned reports whether Run has returned.
func (h *runHandle) returned() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// wait waits up to within for Run to return and returns its error.
func (h *runHandle) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-h.done:
		return h.err
	case <-time.After(within):
		t.Fatalf("Run did not return within %s", within)
		return nil
	}
}

// stop cancels Run's context and returns its error, failing t when Run takes
// longer than within.
func (h *runHandle) stop(t *testing.T, within time.Duration) error {
	t.Helper()
	h.cancel()
	return h.wait(t, within)
}

// waitUntil polls cond every 10ms until it holds, failing t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metricValue sums the values of the counters and gauges named name in reg
// whose labels include every pair of labels.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// testDeps returns runner dependencies for cluster c with metrics in a fresh
// registry.
func testDeps(c *kafkatest.Cluster) (Deps, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return Deps{Kafka: c.Opts(), Metrics: NewMetrics(reg), Health: NewHealth(), Logger: testLogger()}, reg
}

// produceTo produces one record per value to partition p of topic and
// returns their offsets.
func produceTo(t *testing.T, c *kafkatest.Cluster, topic string, p int32, values ...string) []int64 {
	t.Helper()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: p, Key: []byte("k" + v), Value: []byte(v)}
	}
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce to %s/%d: %v", topic, p, err)
	}
	offs := make([]int64, len(res))
	for i, r := range res {
		offs[i] = r.Record.Offset
	}
	return offs
}

// values returns "v0".."v(n-1)".
func values(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "v" + strconv.Itoa(i)
	}
	return out
}

// dlqHeaders maps a dead letter's header keys to values.
func dlqHeaders(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// readTopic reads every committed record of topic.
func readTopic(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	if err := kafkaio.ReadCommitted(ctx, c.Admin(t), c.Opts(), topic, 10*time.Second, func(r *kgo.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return out
}

// committedOffsets returns the group's committed offset per partition of
// topic (partitions without a commit are absent).
func committedOffsets(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[int32]int64{}
	offs, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out // nothing committed yet
	}
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// endOffsets returns the end offset of every partition of topic.
func endOffsets(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// ---- in-memory sink ----

// sinkCall is one Sink.Write as the memSink saw it.
type sinkCall struct {
	start, end time.Time
	recs       []Record
	ctxErr     error // ctx.Err() when the Write returned
}

// memSink is a controllable in-memory Sink. behave decides the result of
// the n-th Write (0-based, across partitions); nil applies everything.
// Records count as applied as the returned error says: all for nil, all but
// the failed indexes for a well-formed *BatchError, none otherwise.
type memSink struct {
	behave func(ctx context.Context, n int, batch []Record) error

	mu          sync.Mutex
	calls       []sinkCall
	applied     map[partOffset]int
	active      map[int32]int // Writes in progress per partition
	running     int           // Writes in progress
	maxRunning  int
	partOverlap bool // two Writes of one partition overlapped
}

func newMemSink(behave func(ctx context.Context, n int, batch []Record) error) *memSink {
	return &memSink{behave: behave, applied: map[partOffset]int{}, active: map[int32]int{}}
}

func (s *memSink) Open(context.Context) error  { return nil }
func (s *memSink) Close(context.Context) error { return nil }

func (s *memSink) Write(ctx context.Context, batch []Record) error {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, sinkCall{start: time.Now(), recs: append([]Record(nil), batch...)})
	parts := map[int32]bool{}
	for _, r := range batch {
		parts[r.Partition] = true
	}
	for p := range parts {
		if s.active[p]++; s.active[p] > 1 {
			s.partOverlap = true
		}
	}
	s.running++
	s.maxRunning = max(s.maxRunning, s.running)
	s.mu.Unlock()

	var err error
	if s.behave != nil {
		err = s.behave(ctx, n, batch)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[n].end = time.Now()
	s.calls[n].ctxErr = ctx.Err()
	for p := range parts {
		s.active[p]--
	}
	s.running--
	var be *BatchError
	for i, r := range batch {
		switch {
		case err == nil:
		case errors.As(err, &be) && be.valid(len(batch)):
			if _, failed := be.Failed[i]; failed {
				continue
			}
		default:
			continue
		}
		s.applied[partOffset{r.Partition, r.Offset}]++
	}
	return err
}

func (s *memSink) snapshot() (calls []sinkCall, applied map[partOffset]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	applied = make(map[partOffset]int, len(s.applied))
	for k, v := range s.applied {
		applied[k] = v
	}
	return append([]sinkCall(nil), s.calls...), applied
}

func (s *memSink) appliedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.applied)
}

// attemptsOf returns how many Writes contained the record at po.
func (s *memSink) attemptsOf(po partOffset) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		for _, r := range c.recs {
			if r.Partition == po.p && r.Offset == po.o {
				n++
			}
		}
	}
	return n
}

// failIndexes returns a BatchError failing with err every record of batch
// whose value is in bad, or nil when none is.
func failIndexes(batch []Record, err error, bad ...string) error {
	be := NewBatchError()
	for i, r := range batch {
		for _, b := range bad {
			if string(r.Value) == b {
				be.Add(i, err)
			}
		}
	}
	if be.Len() == 0 {
		return nil
	}
	return be
}

// sinkEnv is one sink test's cluster, topic and runner configuration.
type sinkEnv struct {
	c     *kafkatest.Cluster
	adm   *kadm.Client
	topic string
	cfg   SinkConfig
	deps  Deps
	reg   *prometheus.Registry
}

func newSinkEnv(t *testing.T, c *kafkatest.Cluster, partitions int32) *sinkEnv {
	t.Helper()
	topic := kafkatest.Topic(t, "in")
	c.CreateTopic(t, topic, partitions, nil)
	deps, reg := testDeps(c)
	return &sinkEnv{
		c: c, adm: c.Admin(t), topic: topic, deps: deps, reg: reg,
		cfg: SinkConfig{
			Name: kafkatest.Topic(t, "sink"), Topics: []string{topic}, DLQTopic: kafkatest.Topic(t, "dlq"),
			DLQPartitions: 1, BatchMaxRecords: 100, MaxPollRecords: 1000, Parallelism: 4,
			RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, RetryMaxAttempts: 3,
			OnRetryExhausted: ExhaustedDLQ, SessionTimeout: 6 * time.Second,
			ShutdownTimeout: 5 * time.Second, RestartBackoffMax: 100 * time.Millisecond,
		},
	}
}

func (e *sinkEnv) group() string { return "sfconnect-" + e.cfg.Name }

func (e *sinkEnv) start(t *testing.T, sink Sink) *runHandle {
	t.Helper()
	if err := e.cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	r := NewSinkRunner(e.cfg, sink, e.deps)
	return startRun(t, r.Run)
}

// waitCommitted waits until the group committed the end of every partition.
func (e *sinkEnv) waitCommitted(t *testing.T, timeout time.Duration) {
	t.Helper()
	ends := endOffsets(t, e.adm, e.topic)
	waitUntil(t, timeout, "the group committed the end of every partition", func() bool {
		got := committedOffsets(t, e.adm, e.group(), e.topic)
		for p, end := range ends {
			if got[p] != end {
				return false
			}
		}
		return true
	})
}

// ---- tests ----

func TestSinkRunner_Run_ThrottledIsRetriedAfterRetryAfter(t *testing.T) {
	t.Parallel()
	e := newSinkEnv(t, kafkatest.NewFake(t), 1)
	const retryAfter = 300 * time.Millisecond
	offs := produceTo(t, e.c, e.topic, 0, values(3)...)
	sink := newMemSink(func(_ context.Context, n int, _ []Record) error {
		if n == 0 {
			return Throttled(errors.New("429 REQUEST_LIMIT_EXCEEDED"), retryAfter)
		}
		return nil
	})
	h := e.start(t, sink)
	waitUntil(t, 15*time.Second, "every record is applied", func() bool { return sink.appliedCount() == len(offs) })
	e.waitCommitted(t, 10*time.Second)
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}

	calls, applied := sink.snapshot()
	if len(calls) < 2 {
		t.Fatalf("want a retry after the throttled write, got %d writes", len(calls))
	}
	if len(calls[0].recs) != len(calls[1].recs) || calls[1].recs[0].Offset != calls[0].recs[0].Offset {
		t.Fatalf("the retry did not repeat the throttled batch: %d then %d records", len(calls[0].recs), len(calls[1].recs))
	}
	if gap := calls[1].start.Sub(calls[0].end); gap < retryAfter {
		t.Fatalf("second attempt started %s after the throttled one, want >= Retry-After %s", gap, retryAfter)
	}
	for _, o := range offs {
		if applied[partOffset{0, o}] != 1 {
			t.Fatalf("record at offset %d applied %d times, want once", o, applied[partOffset{0, o}])
		}
	}
	if dl := readTopic(t, e.c, e.cfg.DLQTopic); len(dl) != 0 {
		t.Fatalf("throttled records were dead-lettered: %d dead letters", len(dl))
	}
	if got := metricValue(t, e.reg, "sfconnect_sink_retries_total", map[string]string{"class": string(ClassThrottled)}); got != float64(len(offs)) {
		t.Fatalf("sfconnect_sink_retries_total{class=throttled} = %v, want %d", got, len(offs))
	}
}

func TestSinkRunner_Run_RetryExhaustedIsDeadLettered(t *testing.T) {
	t.Parallel()
	e := newSinkEnv(t, kafkatest.NewFake(t), 1)
	e.cfg.RetryMaxAttempts = 4
	offs := produceTo(t, e.c, e.topic, 0, values(10)...)
	const bad = "v4"
	sink := newMemSink(func(_ context.Context, _ int, batch []Record) error {
		return failIndexes(batch, errors.New("503 service unavailable"), bad)
	})
	h := e.start(t, sink)
	e.waitCommitted(t, 15*time.Second)
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}

	_, applied := sink.snapshot()
	for i, o := range offs {
		want := 1
		if i == 4 {
			want = 0
		}
		if applied[partOffset{0, o}] != want {
			t.Errorf("record v%d applied %d times, want %d", i, applied[partOffset{0, o}], want)
		}
	}
	if got := sink.attemptsOf(partOffset{0, offs[4]}); got != e.cfg.RetryMaxAttempts {
		t.Errorf("failing record written %d times, want the budget of %d", got, e.cfg.RetryMaxAttempts)
	}
	dl := readTopic(t, e.c, e.cfg.DLQTopic)
	if len(dl) != 1 {
		t.Fatalf("want 1 dead letter, got %d", len(dl))
	}
	h4 := dlqHeaders(dl[0])
	want := map[string]string{
		HeaderDLQTopic: e.topic, HeaderDLQPartition: "0", HeaderDLQOffset: strconv.FormatInt(offs[4], 10),
		HeaderDLQConnector: e.cfg.Name, HeaderDLQErrorClass: string(ClassRetryExhausted),
		HeaderDLQErrorMessage: "503 service unavailable", HeaderDLQAttempts: strconv.Itoa(e.cfg.RetryMaxAttempts),
	}
	for k, v := range want {
		if h4[k] != v {
			t.Errorf("dead-letter header %s = %q, want %q", k, h4[k], v)
		}
	}
	if string(dl[0].Value) != bad || string(dl[0].Key) != "k"+bad {
		t.Errorf("dead letter carries key %q value %q, want the original k%s/%s", dl[0].Key, dl[0].Value, bad, bad)
	}
	if _, err := time.Parse(time.RFC3339Nano, h4[HeaderDLQTime]); err != nil {
		t.Errorf("dead-letter time header %q: %v", h4[HeaderDLQTime], err)
	}
	if got := metricValue(t, e.reg, "sfconnect_sink_dead_letters_total", map[string]string{"class": string(ClassRetryExhausted)}); got != 1 {
		t.Errorf("sfconnect_sink_dead_letters_total{class=retry_exhausted} = %v, want 1", got)
	}
}

func TestSinkRunner_Run_RetryExhaustedStopKeepsOffsetAndRestarts(t *testing.T) {
	t.Parallel()
	e := newSinkEnv(t, kafkatest.NewFake(t), 1)
	e.cfg.OnRetryExhausted = ExhaustedStop
	e.cfg.RetryMaxAttempts = 2
	e.cfg.BatchMaxRecords = 3
	offs := produceTo(t, e.c, e.topic, 0, values(10)...)
	const badIdx = 5
	failing := offs[badIdx]
	sink := newMemSink(func(_ context.Context, _ int, batch []Record) error {
		return failIndexes(batch, errors.New("connection reset"), "v"+strconv.Itoa(badIdx))
	})
	h := e.start(t, sink)

	restarts := func() float64 {
		return metricValue(t, e.reg, "sfconnect_sink_restarts_total", map[string]string{"connector": e.cfg.Name})
	}
	// While the runner keeps failing and restarting, the committed offset
	// never passes the failing record.
	deadline := time.Now().Add(15 * time.Second)
	for restarts() < 3 {
		if h.returned() {
			t.Fatalf("Run returned while the target was failing: %v", h.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %v session restarts after 15s", restarts())
		}
		if got, ok := committedOffsets(t, e.adm, e.group(), e.topic)[0]; ok && got > failing {
			t.Fatalf("committed offset %d passed the failing record at %d", got, failing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := sink.attemptsOf(partOffset{0, failing}); got < 2*e.cfg.RetryMaxAttempts {
		t.Errorf("failing record written %d times over 3 sessions, want >= %d", got, 2*e.cfg.RetryMaxAttempts)
	}
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, ok := committedOffsets(t, e.adm, e.group(), e.topic)[0]; !ok || got > failing || got < offs[3] {
		t.Fatalf("after stop the committed offset is %d (set %v), want in [%d, %d]: past the applied first batch, not past the failing record",
			got, ok, offs[3], failing)
	}
	_, applied := sink.snapshot()
	for po := range applied {
		if po.o > failing {
			t.Errorf("record at offset %d, after the stalled record %d, was applied", po.o, failing)
		}
	}
	if dl := readTopic(t, e.c, e.cfg.DLQTopic); len(dl) != 0 {
		t.Fatalf("stop policy dead-lettered %d records", len(dl))
	}
}

func TestSinkRunner_Run_PermanentBatchErrorDeadLettersBatch(t *testing.T) {
	t.Parallel()
	e := newSinkEnv(t, kafkatest.NewFake(t), 1)
	offs := produceTo(t, e.c, e.topic, 0, values(5)...)
	sink := newMemSink(func(context.Context, int, []Record) error {
		return PermanentCode("INVALID_FIELD", errors.New("400 bad request: No such column 'Foo__c'"))
	})
	h := e.start(t, sink)
	e.waitCommitted(t, 15*time.Second)
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}

	calls, applied := sink.snapshot()
	if len(applied) != 0 {
		t.Fatalf("a rejected batch counted as applied: %v", applied)
	}
	seen := map[int64]int{}
	for _, c := range calls {
		for _, r := range c.recs {
			seen[r.Offset]++
		}
	}
	dl := readTopic(t, e.c, e.cfg.DLQTopic)
	dead := map[string]bool{}
	for _, r := range dl {
		h := dlqHeaders(r)
		if h[HeaderDLQErrorClass] != string(ClassPermanent) || h[HeaderDLQErrorCode] != "INVALID_FIELD" || h[HeaderDLQAttempts] != "1" {
			t.Errorf("dead letter %s has class %q code %q attempts %q, want permanent INVALID_FIELD 1",
				r.Value, h[HeaderDLQErrorClass], h[HeaderDLQErrorCode], h[HeaderDLQAttempts])
		}
		dead[h[HeaderDLQOffset]] = true
	}
	for _, o := range offs {
		if !dead[strconv.FormatInt(o, 10)] {
			t.Errorf("record at offset %d was not dead-lettered", o)
		}
		if seen[o] != 1 {
			t.Errorf("permanently failing record at offset %d was written %d times, want once (no retry)", o, seen[o])
		}
	}
	if len(dl) != len(offs) {
		t.Errorf("want %d dead letters, got %d", len(offs), len(dl))
	}
}

func TestSinkRunner_Run_OutOfRangeBatchErrorIsRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  func(n int) *BatchError
	}{
		{"IndexPastEnd", func(n int) *BatchError {
			be := NewBatchError()
			be.Add(n, Permanent(errors.New("bad record")))
			return be
		}},
		{"NegativeIndex", func(int) *BatchError {
			be := NewBatchError()
			be.Add(-1, errors.New("bad record"))
			return be
		}},
		{"NoFailures", func(int) *BatchError { return NewBatchError() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSinkEnv(t, kafkatest.NewFake(t), 1)
			offs := produceTo(t, e.c, e.topic, 0, values(3)...)
			sink := newMemSink(func(_ context.Context, n int, batch []Record) error {
				if n == 0 {
					return tc.bad(len(batch))
				}
				return nil
			})
			h := e.start(t, sink)
			e.waitCommitted(t, 15*time.Second)
			if err := h.stop(t, 10*time.Second); err != nil {
				t.Fatalf("Run: %v", err)
			}
			calls, applied := sink.snapshot()
			if len(calls) < 2 {
				t.Fatalf("an untrustworthy batch error was taken as success: %d write(s)", len(calls))
			}
			first := map[int64]bool{}
			for _, r := range calls[0].recs {
				first[r.Offset] = true
			}
			for _, r := range calls[1].recs {
				if !first[r.Offset] {
					t.Fatalf("retry wrote offset %d, not part of the first batch", r.Offset)
				}
			}
			if len(calls[1].recs) != len(calls[0].recs) {
				t.Fatalf("retry held %d records, want the whole batch of %d", len(calls[1].recs), len(calls[0].recs))
			}
			for _, o := range offs {
				if applied[partOffset{0, o}] != 1 {
					t.Errorf("record at offset %d applied %d times, want once", o, applied[partOffset{0, o}])
				}
			}
			if got := metricValue(t, e.reg, "sfconnect_sink_records_total", map[string]string{"outcome": "ok"}); got != float64(len(offs)) {
				t.Errorf("sfconnect_sink_records_total{outcome=ok} = %v, want %d (the untrusted attempt counts nothing)", got, len(offs))
			}
			if dl := readTopic(t, e.c, e.cfg.DLQTopic); len(dl) != 0 {
				t.Errorf("%d records were dead-lettered on an untrustworthy batch error", len(dl))
			}
		})
	}
}

// TestBatchError_Valid_NilEntryIsNotTrusted pins what the runner relies on
// to reject a malformed per-record result: a failure entry without an error
// says nothing about that record. Trusting it makes handleBatch dead-letter
// the record with a nil cause, and deadLetterRecord calls cause.Error().
func TestBatchError_Valid_NilEntryIsNotTrusted(t *testing.T) {
	t.Parallel()
	be := NewBatchError()
	be.Add(0, nil)
	if be.valid(2) {
		t.Fatal("a BatchError whose failure has a nil error is accepted; the runner would dead-letter with a nil cause and panic in deadLetterRecord")
	}
}

func TestSinkRunner_Run_WritesPartitionsInOrder(t *testing.T) {
	t.Parallel()
	const parts, perPart = 4, 150
	e := newSinkEnv(t, kafkatest.NewFake(t), parts)
	e.cfg.BatchMaxRecords = 7
	e.cfg.Parallelism = 3
	e.cfg.MaxPollRecords = 200
	for p := range int32(parts) {
		produceTo(t, e.c, e.topic, p, values(perPart)...)
	}
	sink := newMemSink(func(context.Context, int, []Record) error {
		time.Sleep(time.Millisecond) // let writes of different partitions overlap
		return nil
	})
	h := e.start(t, sink)
	waitUntil(t, 20*time.Second, "every record is applied", func() bool { return sink.appliedCount() == parts*perPart })
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}

	calls, _ := sink.snapshot()
	next := map[int32]int64{}
	for i, c := range calls {
		if len(c.recs) == 0 || len(c.recs) > e.cfg.BatchMaxRecords {
			t.Fatalf("write %d held %d records, want 1..%d", i, len(c.recs), e.cfg.BatchMaxRecords)
		}
		p := c.recs[0].Partition
		for _, r := range c.recs {
			if r.Partition != p || r.Topic != e.topic {
				t.Fatalf("write %d mixes %s/%d with %s/%d", i, e.topic, p, r.Topic, r.Partition)
			}
			if r.Offset != next[p] {
				t.Fatalf("partition %d: write %d delivered offset %d, want %d (offset order, no gaps)", p, i, r.Offset, next[p])
			}
			next[p]++
		}
	}
	for p := range int32(parts) {
		if next[p] != perPart {
			t.Errorf("partition %d: %d records delivered, want %d", p, next[p], perPart)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.partOverlap {
		t.Error("two writes of the same partition ran concurrently")
	}
	if sink.maxRunning > e.cfg.Parallelism {
		t.Errorf("%d writes ran concurrently, want at most SINK_PARALLELISM=%d", sink.maxRunning, e.cfg.Parallelism)
	}
}

func TestSinkRunner_Run_ShutdownFinishesWriteInProgress(t *testing.T) {
	t.Parallel()
	e := newSinkEnv(t, kafkatest.NewFake(t), 1)
	e.cfg.ShutdownTimeout = 5 * time.Second
	produceTo(t, e.c, e.topic, 0, values(5)...)
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	sink := newMemSink(func(ctx context.Context, _ int, _ []Record) error {
		once.Do(func() { close(started) })
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	h := e.start(t, sink)
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("no Write started")
	}
	h.cancel()
	stopped := time.Now()
	time.Sleep(300 * time.Millisecond)
	if h.returned() {
		t.Fatalf("Run returned while a Write was in progress: %v", h.err)
	}
	close(release)
	if err := h.wait(t, e.cfg.ShutdownTimeout); err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
	t.Logf("Run returned %s after the stop", time.Since(stopped))
	calls, applied := sink.snapshot()
	if calls[0].ctxErr != nil {
		t.Fatalf("the Write in progress saw its context end (%v) before the drain timeout", calls[0].ctxErr)
	}
	for _, o := range calls[0].recs {
		if applied[partOffset{0, o.Offset}] != 1 {
			t.Fatalf("record at offset %d of the drained write not applied", o.Offset)
		}
	}
	last := calls[0].recs[len(calls[0].recs)-1].Offset
	if got := committedOffsets(t, e.adm, e.group(), e.topic)[0]; got != last+1 {
		t.Fatalf("committed offset after drain = %d, want %d (past the drained write)", got, last+1)
	}
}

func TestSinkRunner_Run_ShutdownIsBoundedByTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// honoursCtx: the blocked Write returns when its context ends;
		// otherwise it ignores it and stays blocked until the test ends.
		honoursCtx bool
	}{
		{"WriteHonoursContext", true},
		{"WriteIgnoresContext", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSinkEnv(t, kafkatest.NewFake(t), 1)
			e.cfg.ShutdownTimeout = time.Second
			offs := produceTo(t, e.c, e.topic, 0, values(3)...)
			started := make(chan struct{})
			release := make(chan struct{})
			var once sync.Once
			sink := newMemSink(func(ctx context.Context, _ int, _ []Record) error {
				once.Do(func() { close(started) })
				if tc.honoursCtx {
					<-ctx.Done()
					return ctx.Err()
				}
				<-release
				return errors.New("released at the end of the test")
			})
			h := e.start(t, sink)
			// Registered after startRun's cleanup, so it runs first: the
			// stuck Write is released once the test is judged, then Run
			// is awaited.
			t.Cleanup(func() { close(release) })
			select {
			case <-started:
			case <-time.After(15 * time.Second):
				t.Fatal("no Write started")
			}
			h.cancel()
			stopped := time.Now()
			const slack = 4 * time.Second
			select {
			case <-h.done:
			case <-time.After(e.cfg.ShutdownTimeout + slack):
				t.Fatalf("Run still running %s after the stop, with SHUTDOWN_TIMEOUT=%s: shutdown is not bounded", time.Since(stopped), e.cfg.ShutdownTimeout)
			}
			t.Logf("Run returned %s after the stop: %v", time.Since(stopped), h.err)
			if got := committedOffsets(t, e.adm, e.group(), e.topic)[0]; got > offs[0] {
				t.Fatalf("committed offset %d passes the unfinished record at %d", got, offs[0])
			}
		})
	}
}

func TestSinkRunner_Run_TwoMembersLoseNothingOnRebalance(t *testing.T) {
	t.Parallel()
	const parts = 6
	e := newSinkEnv(t, kafkatest.NewFake(t), parts)
	e.cfg.MaxPollRecords = 50
	e.cfg.BatchMaxRecords = 10
	// Members learn of a rebalance on their next heartbeat; the 3s default
	// would dominate the test's run time.
	e.deps.Kafka = append(e.deps.Kafka, kgo.HeartbeatInterval(200*time.Millisecond))

	// Both members share one applied set.
	shared := newMemSink(nil)
	a, b := &tagSink{memSink: shared}, &tagSink{memSink: shared}

	// Produce continuously until told to stop.
	pr := e.c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var produced atomic.Int64
	stopProd := make(chan struct{})
	prodDone := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		ctx := context.Background()
		for i := 0; ; i++ {
			select {
			case <-stopProd:
				prodDone <- nil
				return
			default:
			}
			r := &kgo.Record{Topic: e.topic, Partition: rng.Int32N(parts), Value: []byte(strconv.Itoa(i))}
			if err := pr.ProduceSync(ctx, r).FirstErr(); err != nil {
				prodDone <- err
				return
			}
			produced.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()

	ha := e.start(t, a)
	waitUntil(t, 15*time.Second, "member A applied records", func() bool { return a.count.Load() > 0 })
	hb := e.start(t, b)
	waitUntil(t, 15*time.Second, "member B got partitions and applied records", func() bool { return b.count.Load() > 0 })
	aAtB := a.count.Load()
	waitUntil(t, 15*time.Second, "member A kept applying after the rebalance", func() bool { return a.count.Load() > aAtB+20 })
	// A leaves while records keep coming; B takes over its partitions.
	if err := ha.stop(t, 10*time.Second); err != nil {
		t.Fatalf("member A Run: %v", err)
	}
	bAtLeave := b.count.Load()
	waitUntil(t, 15*time.Second, "member B kept applying after A left", func() bool { return b.count.Load() > bAtLeave+50 })
	close(stopProd)
	if err := <-prodDone; err != nil {
		t.Fatalf("produce: %v", err)
	}
	ends := endOffsets(t, e.adm, e.topic)
	var total int64
	for _, end := range ends {
		total += end
	}
	if total != produced.Load() {
		t.Fatalf("end offsets sum to %d, produced %d", total, produced.Load())
	}
	waitUntil(t, 20*time.Second, "every produced record is applied", func() bool { return int64(shared.appliedCount()) == total })
	if err := hb.stop(t, 10*time.Second); err != nil {
		t.Fatalf("member B Run: %v", err)
	}

	_, applied := shared.snapshot()
	dups := 0
	for p, end := range ends {
		for o := range end {
			n := applied[partOffset{p, o}]
			if n == 0 {
				t.Fatalf("record %d/%d never applied", p, o)
			}
			dups += n - 1
		}
	}
	committed := committedOffsets(t, e.adm, e.group(), e.topic)
	for p, end := range ends {
		if committed[p] != end {
			t.Errorf("partition %d: committed %d, end %d", p, committed[p], end)
		}
	}
	t.Logf("%d records over %d partitions; A applied %d, B %d; %d redelivered", total, parts, a.count.Load(), b.count.Load(), dups)
}

// tagSink counts the records one member applied into a shared memSink.
type tagSink struct {
	*memSink
	count atomic.Int64
}

func (s *tagSink) Write(ctx context.Context, batch []Record) error {
	err := s.memSink.Write(ctx, batch)
	if err == nil {
		s.count.Add(int64(len(batch)))
	}
	return err
}

// testLogger shows the runners' warnings in the test output when
// CONNECTORLIB_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("CONNECTORLIB_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
