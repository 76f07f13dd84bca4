package connectorlib

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

// What a sink does with records whose retry budget ran out.
const (
	// ExhaustedDLQ dead-letters them with class retry_exhausted and moves on.
	ExhaustedDLQ = "dlq"
	// ExhaustedStop keeps them uncommitted and restarts the session, so the
	// connector stalls (and lag alerts fire) until the target recovers.
	ExhaustedStop = "stop"
)

// SinkConfig configures a SinkRunner. Field tags name the environment
// variables (with the SFCONNECT_ prefix) that LoadEnv reads.
type SinkConfig struct {
	Name              string        `envconfig:"CONNECTOR_NAME" required:"true" desc:"Unique connector name; names the consumer group and the dead-letter topic by default."`
	Topics            []string      `envconfig:"SINK_TOPICS" required:"true" desc:"Comma-separated topics to consume."`
	Group             string        `envconfig:"SINK_GROUP" desc:"Consumer group; default sfconnect-<CONNECTOR_NAME>."`
	InstanceID        string        `envconfig:"SINK_GROUP_INSTANCE_ID" desc:"Static group membership id (for example the pod name of a StatefulSet): a restarted member gets its partitions back without a rebalance."`
	DLQTopic          string        `envconfig:"DLQ_TOPIC" desc:"Dead-letter topic; default sfconnect.dlq.<CONNECTOR_NAME>. Created if missing."`
	DLQPartitions     int32         `envconfig:"DLQ_PARTITIONS" default:"1" desc:"Partitions of an auto-created dead-letter topic."`
	BatchMaxRecords   int           `envconfig:"SINK_BATCH_MAX_RECORDS" default:"500" desc:"Most records passed to one Sink.Write."`
	MaxPollRecords    int           `envconfig:"SINK_MAX_POLL_RECORDS" default:"5000" desc:"Most records taken from Kafka per poll."`
	Parallelism       int           `envconfig:"SINK_PARALLELISM" default:"8" desc:"Partitions written concurrently; records of one partition are always written in order."`
	RetryInitial      time.Duration `envconfig:"SINK_RETRY_INITIAL" default:"200ms" desc:"First retry delay; doubles per attempt, with jitter."`
	RetryMax          time.Duration `envconfig:"SINK_RETRY_MAX" default:"30s" desc:"Cap on one retry delay."`
	RetryMaxAttempts  int           `envconfig:"SINK_RETRY_MAX_ATTEMPTS" default:"10" desc:"Retry budget: attempts per record, the first included (0: no bound)."`
	RetryMaxElapsed   time.Duration `envconfig:"SINK_RETRY_MAX_ELAPSED" default:"5m" desc:"Retry budget: time per batch (0: no bound)."`
	OnRetryExhausted  string        `envconfig:"SINK_ON_RETRY_EXHAUSTED" default:"dlq" desc:"dlq: dead-letter records whose budget ran out; stop: keep them and stall."`
	SessionTimeout    time.Duration `envconfig:"SINK_SESSION_TIMEOUT" default:"45s" desc:"Consumer group session timeout."`
	ShutdownTimeout   time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"Bound on draining (finish batch, commit) after SIGTERM."`
	RestartBackoffMax time.Duration `envconfig:"RESTART_BACKOFF_MAX" default:"30s" desc:"Cap on the delay between session restarts after errors."`
}

// Validate implements Validator.
func (c SinkConfig) Validate() error {
	var errs []error
	p := EnvPrefix + "_"
	if c.Name == "" {
		errs = append(errs, fmt.Errorf("%sCONNECTOR_NAME: must not be empty", p))
	}
	if len(c.Topics) == 0 || slices.Contains(c.Topics, "") {
		errs = append(errs, fmt.Errorf("%sSINK_TOPICS: must list at least one topic, without empty names", p))
	}
	if c.BatchMaxRecords < 1 {
		errs = append(errs, fmt.Errorf("%sSINK_BATCH_MAX_RECORDS: must be at least 1", p))
	}
	if c.MaxPollRecords < 1 {
		errs = append(errs, fmt.Errorf("%sSINK_MAX_POLL_RECORDS: must be at least 1", p))
	}
	if c.Parallelism < 1 {
		errs = append(errs, fmt.Errorf("%sSINK_PARALLELISM: must be at least 1", p))
	}
	if c.DLQPartitions < 1 {
		errs = append(errs, fmt.Errorf("%sDLQ_PARTITIONS: must be at least 1", p))
	}
	if c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial {
		errs = append(errs, fmt.Errorf("%sSINK_RETRY_INITIAL: must be positive and not above %sSINK_RETRY_MAX", p, p))
	}
	if c.RetryMaxAttempts < 0 || c.RetryMaxElapsed < 0 {
		errs = append(errs, fmt.Errorf("%sSINK_RETRY_MAX_ATTEMPTS and %sSINK_RETRY_MAX_ELAPSED: must not be negative", p, p))
	}
	if c.OnRetryExhausted != ExhaustedDLQ && c.OnRetryExhausted != ExhaustedStop {
		errs = append(errs, fmt.Errorf("%sSINK_ON_RETRY_EXHAUSTED: must be dlq or stop, got %q", p, c.OnRetryExhausted))
	}
	if c.RestartBackoffMax <= 0 {
		errs = append(errs, fmt.Errorf("%s_RESTART_BACKOFF_MAX: must be positive", EnvPrefix))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%sSHUTDOWN_TIMEOUT: must be positive", p))
	}
	return errors.Join(errs...)
}

// SinkRunner consumes Kafka topics in a consumer group and hands per-
// partition ordered batches to a Sink, retrying, dead-lettering and
// committing offsets only past records that are applied or dead-lettered.
type SinkRunner struct {
	cfg  SinkConfig
	deps Deps
	sink Sink
}

// NewSinkRunner returns a runner writing to sink.
func NewSinkRunner(cfg SinkConfig, sink Sink, deps Deps) *SinkRunner {
	deps.fill()
	return &SinkRunner{cfg: cfg, deps: deps, sink: sink}
}

func (r *SinkRunner) group() string {
	if r.cfg.Group != "" {
		return r.cfg.Group
	}
	return "sfconnect-" + r.cfg.Name
}

func (r *SinkRunner) dlqTopic() string {
	if r.cfg.DLQTopic != "" {
		return r.cfg.DLQTopic
	}
	return "sfconnect.dlq." + r.cfg.Name
}

// Run opens the sink and consumes until ctx is done or a terminal error
// occurs. A retryable failure (for example a dead letter that cannot be
// written) ends the session without committing past the failed record; the
// next session resumes from the committed offsets. When ctx is done Run
// finishes the batches in flight within ShutdownTimeout, commits, leaves
// the group and returns nil.
func (r *SinkRunner) Run(ctx context.Context) error {
	component := "sink:" + r.cfg.Name
	r.deps.Health.SetReady(component, false)
	if err := r.prepare(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := r.sink.Open(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("open sink %s: %w", r.cfg.Name, err)
	}
	defer func() { _ = r.sink.Close(context.WithoutCancel(ctx)) }()
	r.deps.Logger.Info("sink runner started", "connector", r.cfg.Name, "group", r.group(), "dlq", r.dlqTopic())
	backoff := Backoff{Initial: 500 * time.Millisecond, Max: r.cfg.RestartBackoffMax}
	for attempt := 1; ; attempt++ {
		started := time.Now()
		err := r.session(ctx)
		r.deps.Health.SetReady(component, false)
		if ctx.Err() != nil {
			if err != nil && !isStop(ctx, err) {
				return fmt.Errorf("drain sink %s: %w", r.cfg.Name, err)
			}
			return nil
		}
		if !IsRetryable(err) {
			r.deps.Health.Fail(err.Error())
			return fmt.Errorf("run sink %s: %w", r.cfg.Name, err)
		}
		r.deps.Metrics.SinkRestarts.WithLabelValues(r.cfg.Name).Inc()
		r.deps.Logger.Warn("sink session failed; resuming from the committed offsets",
			"connector", r.cfg.Name, "err", err, "attempt", attempt)
		if time.Since(started) > 2*r.cfg.RestartBackoffMax {
			attempt = 1 // the session was healthy for a while: start the backoff over
		}
		if sleep(ctx, backoff.Delay(attempt)) != nil {
			return nil
		}
	}
}

// prepare creates the dead-letter topic.
func (r *SinkRunner) prepare(ctx context.Context) error {
	cl, err := kgo.NewClient(r.deps.Kafka...)
	if err != nil {
		return Permanent(fmt.Errorf("create kafka client: %w", err))
	}
	defer cl.Close()
	if err := kafkaio.EnsureTopics(ctx, kadm.NewClient(cl), kafkaio.DLQTopic(r.dlqTopic(), r.cfg.DLQPartitions)); err != nil {
		return fmt.Errorf("ensure dead-letter topic: %w", err)
	}
	return nil
}

// session consumes with one group member until ctx is done or an error.
func (r *SinkRunner) session(ctx context.Context) error {
	drain, cancelDrain := drainContext(ctx, r.cfg.ShutdownTimeout)
	defer cancelDrain()
	commit := func(ctx context.Context, cl *kgo.Client) {
		outcome := "ok"
		if err := cl.CommitMarkedOffsets(ctx); err != nil {
			outcome = "error"
			r.deps.Logger.Warn("commit offsets failed", "connector", r.cfg.Name, "err", err)
		}
		r.deps.Metrics.SinkCommits.WithLabelValues(r.cfg.Name, outcome).Inc()
	}
	opts := append(append([]kgo.Opt(nil), r.deps.Kafka...),
		kgo.ConsumerGroup(r.group()),
		kgo.ConsumeTopics(r.cfg.Topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		// Only marked records are ever committed, by us after each poll and
		// by the periodic autocommit.
		kgo.AutoCommitMarks(),
		// Rebalances wait until the records of a poll are handled and
		// committed, so a revoked partition never loses or repeats work
		// in this member.
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(r.cfg.SessionTimeout),
		// Rebalances wait for the poll in hand (BlockRebalanceOnPoll), which
		// may be retrying for up to the retry budget: the group must wait as
		// long, or it would evict a member that is only retrying.
		kgo.RebalanceTimeout(max(time.Minute, r.cfg.RetryMaxElapsed+r.cfg.ShutdownTimeout)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Invariant: commit on revoke. Marked offsets belong only to
		// records applied or dead-lettered.
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
			commit(ctx, cl)
		}),
	)
	if r.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(r.cfg.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Permanent(fmt.Errorf("create consumer: %w", err))
	}
	// Closing runs the revoke callback (a final commit) and leaves the
	// group; it must not wait for a rebalance this member blocks.
	defer cl.CloseAllowingRebalance()
	r.deps.Health.SetReady("sink:"+r.cfg.Name, true)

	for {
		fs := cl.PollRecords(ctx, r.cfg.MaxPollRecords)
		if fs.IsClientClosed() || ctx.Err() != nil {
			commit(drain, cl)
			return ctx.Err()
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.deps.Logger.Warn("fetch error", "connector", r.cfg.Name, "topic", topic, "partition", p, "err", err)
			}
		})
		err := r.handleFetches(ctx, drain, cl, fs)
		commit(drain, cl)
		if err != nil {
			return err
		}
		cl.AllowRebalance()
	}
}

// handleFetches writes each partition's records, partitions in parallel up
// to Parallelism, and marks for commit what each partition finished.
func (r *SinkRunner) handleFetches(ctx, drain context.Context, cl *kgo.Client, fs kgo.Fetches) error {
	var parts []kgo.FetchTopicPartition
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) > 0 {
			parts = append(parts, p)
		}
	})
	sem := make(chan struct{}, r.cfg.Parallelism)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.handlePartition(ctx, drain, cl, p.Records); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-drain.Done():
		// Shutdown is bounded: a Write that ignores its context is left
		// behind, and nothing past its batch is committed by this session.
		return fmt.Errorf("write batches: shutdown timeout passed with writes in flight: %w", drain.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// handlePartition writes one partition's records in order, in batches.
func (r *SinkRunner) handlePartition(ctx, drain context.Context, cl *kgo.Client, krs []*kgo.Record) error {
	for len(krs) > 0 {
		n := min(len(krs), r.cfg.BatchMaxRecords)
		batch := make([]Record, n)
		for i, kr := range krs[:n] {
			batch[i] = fromKafka(kr)
		}
		if err := r.handleBatch(ctx, drain, cl, batch); err != nil {
			return err
		}
		// Invariant: offsets never pass an unapplied record. Every record of
		// the batch is applied or durably dead-lettered at this point.
		cl.MarkCommitRecords(krs[n-1])
		krs = krs[n:]
	}
	return nil
}

// handleBatch writes batch until every record is applied or dead-lettered.
// It returns an error when a record can be neither (dead letter unwritable,
// budget exhausted under the stop policy, or a stop while retrying).
func (r *SinkRunner) handleBatch(ctx, drain context.Context, cl *kgo.Client, batch []Record) error {
	name := r.cfg.Name
	budget := Backoff{Initial: r.cfg.RetryInitial, Max: r.cfg.RetryMax, MaxAttempts: r.cfg.RetryMaxAttempts, MaxElapsed: r.cfg.RetryMaxElapsed}
	pending := make([]int, len(batch)) // indexes into batch still to write
	for i := range pending {
		pending[i] = i
	}
	lastErr := make([]error, len(batch))
	start := time.Now()
	for attempt := 1; ; attempt++ {
		sub := make([]Record, len(pending))
		for i, idx := range pending {
			sub[i] = batch[idx]
		}
		t0 := time.Now()
		err := r.sink.Write(drain, sub)
		r.deps.Metrics.SinkWriteSeconds.WithLabelValues(name).Observe(time.Since(t0).Seconds())

		var retry []int
		var be *BatchError
		if errors.As(err, &be) && !be.valid(len(pending)) {
			// A sink bug: indexes outside the batch say nothing reliable
			// about which records were applied, so nothing counts as applied.
			err = fmt.Errorf("sink returned a batch error with indexes outside the batch of %d: %w", len(pending), err)
			be = nil
		}
		switch {
		case err == nil:
		case be != nil:
			for i, idx := range pending {
				ferr, failed := be.Failed[i]
				if !failed {
					continue
				}
				if !IsRetryable(ferr) {
					if err := r.deadLetter(drain, cl, &batch[idx], ClassPermanent, ferr, attempt); err != nil {
						return err
					}
					continue
				}
				lastErr[idx] = ferr
				retry = append(retry, idx)
			}
		case !IsRetryable(err):
			for _, idx := range pending {
				if err := r.deadLetter(drain, cl, &batch[idx], ClassPermanent, err, attempt); err != nil {
					return err
				}
			}
		default:
			for _, idx := range pending {
				lastErr[idx] = err
			}
			retry = pending
		}
		if applied := r.countApplied(err, be, len(pending)); applied > 0 {
			// A batch holds one partition's records, so one topic.
			r.deps.Metrics.SinkRecords.WithLabelValues(name, batch[0].Topic, "ok").Add(float64(applied))
		}
		if len(retry) == 0 {
			return nil
		}
		pending = retry
		if budget.Exhausted(attempt, start) {
			if r.cfg.OnRetryExhausted == ExhaustedStop {
				return fmt.Errorf("write %d records: retry budget exhausted: %w", len(pending), lastErr[pending[0]])
			}
			for _, idx := range pending {
				if err := r.deadLetter(drain, cl, &batch[idx], ClassRetryExhausted, lastErr[idx], attempt); err != nil {
					return err
				}
			}
			return nil
		}
		class := Classify(lastErr[pending[0]])
		r.deps.Metrics.SinkRetries.WithLabelValues(name, string(class)).Add(float64(len(pending)))
		delay := budget.Delay(attempt)
		if after, ok := RetryAfter(lastErr[pending[0]]); ok && after > delay {
			delay = after
		}
		// A stop abandons the retry: the batch stays uncommitted and is
		// redelivered after the restart.
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// countApplied returns how many of n written records a Write result
// reports as applied.
func (r *SinkRunner) countApplied(err error, be *BatchError, n int) int {
	switch {
	case err == nil:
		return n
	case be != nil:
		failed := 0
		for i := range be.Failed {
			if i >= 0 && i < n {
				failed++
			}
		}
		return n - failed
	}
	return 0
}

// fromKafka converts a consumed Kafka record to a sink record.
func fromKafka(kr *kgo.Record) Record {
	rec := Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key, Value: kr.Value, Time: kr.Timestamp}
	if len(kr.Headers) > 0 {
		rec.Headers = make([]Header, len(kr.Headers))
		for i, h := range kr.Headers {
			rec.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return rec
}
