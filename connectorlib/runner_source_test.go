package connectorlib

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
)

// sourceEnv is one source test's cluster, target topic and runner
// configuration.
type sourceEnv struct {
	c     *kafkatest.Cluster
	adm   *kadm.Client
	topic string
	cfg   SourceConfig
}

func newSourceEnv(t *testing.T, c *kafkatest.Cluster, mode DeliveryMode) *sourceEnv {
	t.Helper()
	topic := kafkatest.Topic(t, "out")
	c.CreateTopic(t, topic, 4, nil)
	return &sourceEnv{
		c: c, adm: c.Admin(t), topic: topic,
		cfg: SourceConfig{
			Name: kafkatest.Topic(t, "src"), StreamGroup: "0", DeliveryMode: mode,
			OffsetsTopic: kafkatest.Topic(t, "offsets"), MaxInFlight: 1000,
			OffsetFlushInterval: 20 * time.Millisecond, TransactionTimeout: 10 * time.Second,
			TopicAutoCreate: true, TopicPartitions: 4, TopicReplication: -1,
			ShutdownTimeout: 5 * time.Second, RestartBackoffMax: 100 * time.Millisecond,
		},
	}
}

// start runs a SourceRunner over the sources factory builds.
func (e *sourceEnv) start(t *testing.T, factory SourceFactory, deps Deps) *runHandle {
	t.Helper()
	if err := e.cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return startRun(t, NewSourceRunner(e.cfg, factory, deps).Run)
}

// numbers builds numberSources over e's topic that report their acked
// count into acked.
func (e *sourceEnv) numbers(total, batch int, pace time.Duration, acked *atomic.Int64) SourceFactory {
	return func() (Source, error) {
		src := newNumberSource(e.topic, 2, total, batch, 13)
		src.pace = pace
		src.progress = func(n int) { acked.Store(int64(n)) }
		return src, nil
	}
}

// eventCounts reads e's topic read_committed and counts each event value.
func (e *sourceEnv) eventCounts(t *testing.T, total int) []int {
	t.Helper()
	seen := make([]int, total)
	for _, r := range readTopic(t, e.c, e.topic) {
		v, err := strconv.Atoi(string(r.Value))
		if err != nil || v < 0 || v >= total {
			t.Fatalf("unexpected event %q at %d/%d", r.Value, r.Partition, r.Offset)
		}
		seen[v]++
	}
	return seen
}

// checkExactlyOnce fails t unless every event 0..total-1 is in e's topic
// exactly once.
func (e *sourceEnv) checkExactlyOnce(t *testing.T, total int) {
	t.Helper()
	var missing, dups []int
	for v, n := range e.eventCounts(t, total) {
		switch {
		case n == 0:
			missing = append(missing, v)
		case n > 1:
			dups = append(dups, v)
		}
	}
	if len(missing) > 0 || len(dups) > 0 {
		t.Fatalf("read_committed output: %d events missing (first %v), %d duplicated (first %v)",
			len(missing), head(missing), len(dups), head(dups))
	}
}

func head(xs []int) []int { return xs[:min(len(xs), 5)] }

// produceFault makes the next Produce request to topic after the first
// skip ones fail once with code for every partition. It returns how many
// requests it failed (0 or 1).
func produceFault(t *testing.T, c *kafkatest.Cluster, topic string, skip int, code int16) *atomic.Int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	details, err := c.Admin(t).ListTopics(ctx, topic)
	if err == nil {
		err = details[topic].Err
	}
	if err != nil {
		t.Fatalf("describe %s: %v", topic, err)
	}
	id := details[topic].ID // Produce v13+ names topics by id only
	var seen, failed atomic.Int32
	c.Fake.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.ProduceRequest)
		ours := false
		for _, rt := range req.Topics {
			ours = ours || rt.Topic == topic || rt.TopicID == id
		}
		if !ours || int(seen.Add(1)) <= skip {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		failed.Add(1)
		return resp, nil, true
	})
	return &failed
}

// scriptSource returns the scripted results of Read in turn, then blocks
// until its context is done or it is closed. It records the last position
// acked per stream.
type scriptSource struct {
	script []scriptStep

	mu     sync.Mutex
	acks   map[string]Position
	closed chan struct{}
	once   sync.Once
}

type scriptStep struct {
	recs []Record
	err  error
}

func (s *scriptSource) Open(context.Context, Positions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acks = map[string]Position{}
	s.closed = make(chan struct{})
	return nil
}

func (s *scriptSource) Read(ctx context.Context) ([]Record, error) {
	s.mu.Lock()
	if len(s.script) > 0 {
		st := s.script[0]
		s.script = s.script[1:]
		s.mu.Unlock()
		return st.recs, st.err
	}
	s.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closed:
		return nil, errors.New("read: source closed")
	}
}

func (s *scriptSource) Ack(_ context.Context, stream string, upTo Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acks[stream] = upTo
	return nil
}

func (s *scriptSource) Close(context.Context) error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *scriptSource) acked(stream string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.acks[stream])
}

func TestSourceRunner_Run_ZombieIsFenced(t *testing.T) {
	t.Parallel()
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		e := newSourceEnv(t, c, DeliveryExactlyOnce)
		const total = 1000
		var ackedA, ackedB atomic.Int64
		depsA, _ := testDeps(c)
		depsB, _ := testDeps(c)
		a := e.start(t, e.numbers(total, 20, 2*time.Millisecond, &ackedA), depsA)
		waitUntil(t, 15*time.Second, "runner A committed 200 events", func() bool { return ackedA.Load() >= 200 })

		b := e.start(t, e.numbers(total, 20, 2*time.Millisecond, &ackedB), depsB)
		errA := a.wait(t, 15*time.Second)
		if !errors.Is(errA, ErrFenced) {
			t.Fatalf("zombie runner A returned %v, want an error wrapping ErrFenced", errA)
		}
		if IsRetryable(errA) {
			t.Errorf("fenced error %v is classified retryable", errA)
		}
		if live, why := depsA.Health.Live(); live {
			t.Error("fenced runner A still reports live")
		} else {
			t.Logf("A fenced at %d acked events: %s", ackedA.Load(), strings.SplitN(why, "\n", 2)[0])
		}
		waitUntil(t, 20*time.Second, "runner B committed every event", func() bool { return ackedB.Load() == total })
		if b.returned() {
			t.Fatalf("runner B stopped: %v", b.err)
		}
		if err := b.stop(t, 10*time.Second); err != nil {
			t.Fatalf("runner B Run: %v", err)
		}
		e.checkExactlyOnce(t, total)
	})
}

func TestSourceRunner_Run_BackoffIsNotAFailure(t *testing.T) {
	t.Parallel()
	for _, mode := range []DeliveryMode{DeliveryExactlyOnce, DeliveryAtLeastOnce} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			c := kafkatest.NewFake(t)
			e := newSourceEnv(t, c, mode)
			rec := func(p string) []Record {
				return []Record{{Stream: "s", Position: Position(p), Topic: e.topic, Value: []byte(p)}}
			}
			var opened atomic.Int32
			var src atomic.Pointer[scriptSource]
			factory := func() (Source, error) {
				opened.Add(1)
				s := &scriptSource{script: []scriptStep{
					{err: ErrBackoff}, {err: ErrBackoff}, {recs: rec("1")},
					{err: fmt.Errorf("poll channel: %w", ErrBackoff)}, {recs: rec("2")},
				}}
				src.Store(s)
				return s, nil
			}
			deps, reg := testDeps(c)
			h := e.start(t, factory, deps)
			waitUntil(t, 15*time.Second, "position 2 is acked", func() bool {
				s := src.Load()
				return s != nil && s.acked("s") == "2"
			})
			if err := h.stop(t, 10*time.Second); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if n := opened.Load(); n != 1 {
				t.Errorf("source opened %d times, want 1: ErrBackoff restarted the session", n)
			}
			if got := metricValue(t, reg, "sfconnect_source_restarts_total", nil); got != 0 {
				t.Errorf("sfconnect_source_restarts_total = %v, want 0", got)
			}
			var got []string
			for _, r := range readTopic(t, c, e.topic) {
				got = append(got, string(r.Value))
			}
			if strings.Join(got, ",") != "1,2" {
				t.Errorf("topic holds %v, want [1 2]", got)
			}
		})
	}
}

func TestSourceRunner_Run_ReadErrorRestartsSession(t *testing.T) {
	t.Parallel()
	for _, mode := range []DeliveryMode{DeliveryExactlyOnce, DeliveryAtLeastOnce} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			c := kafkatest.NewFake(t)
			e := newSourceEnv(t, c, mode)
			rec := func(p string) Record {
				return Record{Stream: "s", Position: Position(p), Topic: e.topic, Value: []byte(p)}
			}
			var opened atomic.Int32
			var src atomic.Pointer[scriptSource]
			factory := func() (Source, error) {
				s := &scriptSource{script: []scriptStep{{recs: []Record{rec("1")}}, {err: errors.New("read channel: connection reset")}}}
				if opened.Add(1) > 1 {
					// The next session resumes; the source replays
					// from the stored position, here simply position 2.
					s.script = []scriptStep{{recs: []Record{rec("2")}}}
				}
				src.Store(s)
				return s, nil
			}
			deps, reg := testDeps(c)
			h := e.start(t, factory, deps)
			waitUntil(t, 8*time.Second, "a new session acked position 2", func() bool {
				s := src.Load()
				return opened.Load() >= 2 && s.acked("s") == "2"
			})
			if err := h.stop(t, 10*time.Second); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := metricValue(t, reg, "sfconnect_source_restarts_total", map[string]string{"class": string(ClassRetryable)}); got != 1 {
				t.Errorf("sfconnect_source_restarts_total{class=retryable} = %v, want 1", got)
			}
			seen := map[string]int{}
			for _, r := range readTopic(t, c, e.topic) {
				seen[string(r.Value)]++
			}
			if seen["1"] != 1 || seen["2"] != 1 {
				t.Errorf("topic holds %v, want 1 and 2 once each", seen)
			}
		})
	}
}

func TestSourceRunner_Run_InvalidRecordIsPermanent(t *testing.T) {
	t.Parallel()
	for _, mode := range []DeliveryMode{DeliveryExactlyOnce, DeliveryAtLeastOnce} {
		for _, tc := range []struct {
			name  string
			spoil func(r *Record)
		}{
			{"NoStream", func(r *Record) { r.Stream = "" }},
			{"NoPosition", func(r *Record) { r.Position = nil }},
			{"NoTopic", func(r *Record) { r.Topic = "" }},
		} {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c := kafkatest.NewFake(t)
				e := newSourceEnv(t, c, mode)
				var opened atomic.Int32
				factory := func() (Source, error) {
					opened.Add(1)
					good := Record{Stream: "s", Position: Position("1"), Topic: e.topic, Value: []byte("1")}
					bad := Record{Stream: "s", Position: Position("2"), Topic: e.topic, Value: []byte("2")}
					tc.spoil(&bad)
					return &scriptSource{script: []scriptStep{{recs: []Record{good}}, {recs: []Record{bad}}}}, nil
				}
				deps, reg := testDeps(c)
				h := e.start(t, factory, deps)
				err := h.wait(t, 8*time.Second)
				if err == nil {
					t.Fatal("Run returned nil for a source record missing a required field")
				}
				if IsRetryable(err) || Classify(err) != ClassPermanent {
					t.Errorf("Run returned %v (class %s), want a permanent error", err, Classify(err))
				}
				if n := opened.Load(); n != 1 {
					t.Errorf("source opened %d times, want 1 (no restart)", n)
				}
				if got := metricValue(t, reg, "sfconnect_source_restarts_total", nil); got != 0 {
					t.Errorf("sfconnect_source_restarts_total = %v, want 0", got)
				}
				if live, _ := deps.Health.Live(); live {
					t.Error("health still live after a terminal error")
				}
			})
		}
	}
}

func TestSourceRunner_Run_ExactlyOnceSurvivesFailedTransaction(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newSourceEnv(t, c, DeliveryExactlyOnce)
	const total = 600
	failed := produceFault(t, c, e.topic, 5, kerr.InvalidRecord.Code)
	var acked atomic.Int64
	deps, reg := testDeps(c)
	h := e.start(t, e.numbers(total, 20, time.Millisecond, &acked), deps)
	waitUntil(t, 20*time.Second, "every event is committed", func() bool { return acked.Load() == total })
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if failed.Load() != 1 {
		t.Fatalf("the produce fault fired %d times, want 1", failed.Load())
	}
	if got := metricValue(t, reg, "sfconnect_source_restarts_total", map[string]string{"connector": e.cfg.Name}); got < 1 {
		t.Errorf("sfconnect_source_restarts_total = %v after a failed transaction, want >= 1", got)
	}
	if got := metricValue(t, reg, "sfconnect_source_transactions_total", map[string]string{"outcome": "abort"}); got < 1 {
		t.Errorf("sfconnect_source_transactions_total{outcome=abort} = %v, want >= 1", got)
	}
	e.checkExactlyOnce(t, total)
}

func TestSourceRunner_Run_AutoPicksExactlyOnceOnKfake(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newSourceEnv(t, c, DeliveryAuto)
	const total = 100
	var acked atomic.Int64
	deps, reg := testDeps(c)
	logs := &syncBuffer{}
	deps.Logger = slog.New(slog.NewTextHandler(logs, nil))
	h := e.start(t, e.numbers(total, 10, 0, &acked), deps)
	waitUntil(t, 15*time.Second, "every event is committed", func() bool { return acked.Load() == total })
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(logs.String(), "mode=exactly_once") {
		t.Errorf("start-up log does not report mode=exactly_once:\n%s", logs.String())
	}
	if got := metricValue(t, reg, "sfconnect_source_transactions_total", map[string]string{"outcome": "commit"}); got < 1 {
		t.Errorf("no committed transaction (sfconnect_source_transactions_total{outcome=commit} = %v): auto did not pick exactly_once", got)
	}
	e.checkExactlyOnce(t, total)
}

// ackAuditSource wraps a numberSource and, on every Ack, checks against
// Kafka that every record of the stream up to the acked position is in the
// target topic and that the position is stored.
type ackAuditSource struct {
	*numberSource
	audit func(ctx context.Context, stream string, upTo int) error
	acks  *atomic.Int32
}

func (s *ackAuditSource) Ack(ctx context.Context, stream string, upTo Position) error {
	i, err := strconv.Atoi(string(upTo))
	if err != nil {
		return err
	}
	if err := s.audit(ctx, stream, i); err != nil {
		return Permanent(err) // stop the runner: the test fails on it
	}
	s.acks.Add(1)
	return s.numberSource.Ack(ctx, stream, upTo)
}

func TestSourceRunner_Run_AtLeastOnceAcksOnlyDurablePrefix(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newSourceEnv(t, c, DeliveryAtLeastOnce)
	e.cfg.OffsetFlushInterval = 30 * time.Millisecond
	const total, streams = 3000, 2
	// One produce request fails mid-run: records after it may land while
	// it does not, so the contiguous prefix is what the acks must respect.
	failed := produceFault(t, c, e.topic, 10, kerr.InvalidRecord.Code)

	reader := c.Client(t)
	store := offsetstore.NewKafka(reader, c.Opts(), e.cfg.OffsetsTopic, e.cfg.Name)
	var violations []string
	var vmu sync.Mutex
	audit := func(ctx context.Context, stream string, upTo int) error {
		s, err := strconv.Atoi(strings.TrimPrefix(stream, "numbers-"))
		if err != nil {
			return err
		}
		have := map[int]bool{}
		if err := kafkaio.ReadCommitted(ctx, e.adm, c.Opts(), e.topic, 10*time.Second, func(r *kgo.Record) error {
			if v, err := strconv.Atoi(string(r.Value)); err == nil && v%streams == s {
				have[v/streams] = true
			}
			return nil
		}); err != nil {
			return fmt.Errorf("audit read: %w", err)
		}
		var problems []string
		for i := 0; i <= upTo; i++ {
			if !have[i] {
				problems = append(problems, fmt.Sprintf("ack %s up to %d while its record %d is not in Kafka", stream, upTo, i))
				break
			}
		}
		stored, err := store.Load(ctx)
		if err != nil {
			return fmt.Errorf("audit load: %w", err)
		}
		if p, err := strconv.Atoi(string(stored[stream])); err != nil || p < upTo {
			problems = append(problems, fmt.Sprintf("ack %s up to %d while the stored position is %q", stream, upTo, stored[stream]))
		}
		if len(problems) > 0 {
			vmu.Lock()
			violations = append(violations, problems...)
			vmu.Unlock()
			return errors.New(strings.Join(problems, "; "))
		}
		return nil
	}
	var acked atomic.Int64
	var acks atomic.Int32
	factory := func() (Source, error) {
		src := newNumberSource(e.topic, streams, total, 25, 13)
		src.pace = time.Millisecond
		src.progress = func(n int) { acked.Store(int64(n)) }
		return &ackAuditSource{numberSource: src, audit: audit, acks: &acks}, nil
	}
	deps, reg := testDeps(c)
	h := e.start(t, factory, deps)
	waitUntil(t, 25*time.Second, "every event is acked", func() bool {
		if h.returned() {
			t.Fatalf("Run returned: %v", h.err)
		}
		return acked.Load() == total
	})
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	vmu.Lock()
	defer vmu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("%d acks ran ahead of Kafka or the store, first: %s", len(violations), violations[0])
	}
	if failed.Load() != 1 {
		t.Errorf("the produce fault fired %d times, want 1", failed.Load())
	}
	restarts := metricValue(t, reg, "sfconnect_source_restarts_total", nil)
	for v, n := range e.eventCounts(t, total) {
		if n == 0 {
			t.Fatalf("event %d lost", v)
		}
	}
	t.Logf("%d acks audited, %v session restarts", acks.Load(), restarts)
}
