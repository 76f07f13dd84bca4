package connectorlib

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
)

// DeliveryMode chooses how the source runner makes records and positions
// durable together.
type DeliveryMode string

// Delivery modes.
const (
	// DeliveryAuto picks exactly_once when the broker supports
	// transactions, else at_least_once.
	DeliveryAuto DeliveryMode = "auto"
	// DeliveryExactlyOnce produces each batch and its positions in one
	// Kafka transaction: a read_committed consumer sees every record once.
	DeliveryExactlyOnce DeliveryMode = "exactly_once"
	// DeliveryAtLeastOnce produces, waits for acks, then stores the
	// position of the contiguous acked prefix: nothing is lost, a crash may
	// repeat records written after the last stored position.
	DeliveryAtLeastOnce DeliveryMode = "at_least_once"
)

// SourceConfig configures a SourceRunner. Field tags name the environment
// variables (with the SFCONNECT_ prefix) that LoadEnv reads.
type SourceConfig struct {
	Name                  string        `envconfig:"CONNECTOR_NAME" required:"true" desc:"Unique connector name; keys its positions and its transactional id."`
	StreamGroup           string        `envconfig:"SOURCE_STREAM_GROUP" default:"0" desc:"Which group of streams this process serves; with CONNECTOR_NAME it forms the stable transactional id, so a second copy of the same group fences the first."`
	DeliveryMode          DeliveryMode  `envconfig:"DELIVERY_MODE" default:"auto" desc:"exactly_once, at_least_once, or auto (exactly_once where the broker supports transactions)."`
	OffsetsTopic          string        `envconfig:"OFFSETS_TOPIC" desc:"Compacted topic holding this connector's source positions; created if missing. Default sfconnect.offsets.<CONNECTOR_NAME>.<SOURCE_STREAM_GROUP>. Never share it with another transactional writer: its open transactions would hold back the positions this connector restores."`
	MaxInFlight           int           `envconfig:"SOURCE_MAX_IN_FLIGHT" default:"10000" desc:"Records read but not yet acknowledged by Kafka (at_least_once); reading pauses at this bound."`
	OffsetFlushInterval   time.Duration `envconfig:"SOURCE_OFFSET_FLUSH_INTERVAL" default:"1s" desc:"How often acknowledged positions are stored (at_least_once)."`
	TransactionTimeout    time.Duration `envconfig:"SOURCE_TRANSACTION_TIMEOUT" default:"60s" desc:"Kafka transaction timeout (exactly_once); an unfinished transaction of a crashed process is aborted after it."`
	TransactionMaxRecords int           `envconfig:"SOURCE_TRANSACTION_MAX_RECORDS" default:"5000" desc:"Most records one Kafka transaction carries (exactly_once): records the source already has are added to a transaction up to this bound; 0 commits every Read on its own."`
	TransactionMaxBytes   ByteSize      `envconfig:"SOURCE_TRANSACTION_MAX_BYTES" default:"16MiB" desc:"Most bytes (keys, values, headers) one Kafka transaction carries (exactly_once), whatever SOURCE_TRANSACTION_MAX_RECORDS allows: large platform events then make smaller transactions instead of a large heap. 0 means the default."`
	TransactionLinger     time.Duration `envconfig:"SOURCE_TRANSACTION_LINGER" default:"10ms" desc:"How long a transaction waits for more records from the source before it commits (exactly_once). Longer gives fewer, larger transactions: each costs the broker a few ms of CPU whatever its size."`
	TopicAutoCreate       bool          `envconfig:"TOPIC_AUTO_CREATE" default:"true" desc:"Create target topics that do not exist."`
	TopicPartitions       int32         `envconfig:"TOPIC_PARTITIONS" default:"6" desc:"Partitions of auto-created target topics."`
	TopicReplication      int16         `envconfig:"TOPIC_REPLICATION_FACTOR" default:"-1" desc:"Replication factor of auto-created topics; -1 uses the broker default."`
	ShutdownTimeout       time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"Bound on draining (flush, commit) after SIGTERM."`
	RestartBackoffMax     time.Duration `envconfig:"RESTART_BACKOFF_MAX" default:"30s" desc:"Cap on the delay between session restarts after errors."`
}

// Validate implements Validator.
func (c SourceConfig) Validate() error {
	var errs []error
	switch c.DeliveryMode {
	case DeliveryAuto, DeliveryExactlyOnce, DeliveryAtLeastOnce:
	default:
		errs = append(errs, fmt.Errorf("%s_DELIVERY_MODE: must be auto, exactly_once or at_least_once, got %q", EnvPrefix, c.DeliveryMode))
	}
	if c.Name == "" {
		errs = append(errs, fmt.Errorf("%s_CONNECTOR_NAME: must not be empty", EnvPrefix))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("%s_SOURCE_MAX_IN_FLIGHT: must be at least 1", EnvPrefix))
	}
	if c.OffsetFlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("%s_SOURCE_OFFSET_FLUSH_INTERVAL: must be positive", EnvPrefix))
	}
	if c.TransactionTimeout < time.Second {
		errs = append(errs, fmt.Errorf("%s_SOURCE_TRANSACTION_TIMEOUT: must be at least 1s", EnvPrefix))
	}
	if c.TransactionMaxRecords < 0 {
		errs = append(errs, fmt.Errorf("%s_SOURCE_TRANSACTION_MAX_RECORDS: must not be negative", EnvPrefix))
	}
	if c.TransactionMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("%s_SOURCE_TRANSACTION_MAX_BYTES: must not be negative", EnvPrefix))
	}
	if c.TransactionLinger < 0 {
		errs = append(errs, fmt.Errorf("%s_SOURCE_TRANSACTION_LINGER: must not be negative", EnvPrefix))
	}
	if c.TopicPartitions < 1 {
		errs = append(errs, fmt.Errorf("%s_TOPIC_PARTITIONS: must be at least 1", EnvPrefix))
	}
	if c.RestartBackoffMax <= 0 {
		errs = append(errs, fmt.Errorf("%s_RESTART_BACKOFF_MAX: must be positive", EnvPrefix))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%s_SHUTDOWN_TIMEOUT: must be positive", EnvPrefix))
	}
	return errors.Join(errs...)
}

// DefaultTransactionMaxBytes is SOURCE_TRANSACTION_MAX_BYTES when unset
// (a SourceConfig built in code leaves it zero).
const DefaultTransactionMaxBytes ByteSize = 16 << 20

// transactionMaxBytes returns TransactionMaxBytes, or the default for 0.
func (c SourceConfig) transactionMaxBytes() int {
	if c.TransactionMaxBytes <= 0 {
		return int(DefaultTransactionMaxBytes)
	}
	return int(c.TransactionMaxBytes)
}

// Offsets returns the offsets topic: the configured one, or one of the
// connector's stream group alone. A restore reads up to the topic's last
// stable offset, which another writer's open transaction would hold back;
// with one writer per topic, fencing that writer's previous incarnation
// (which aborts its open transaction) is enough to read every committed
// position.
func (c SourceConfig) Offsets() string {
	if c.OffsetsTopic != "" {
		return c.OffsetsTopic
	}
	return "sfconnect.offsets." + c.Name + "." + c.StreamGroup
}

// TransactionalID returns the stable transactional id of the connector's
// stream group.
func (c SourceConfig) TransactionalID() string {
	return "sfconnect-" + c.Name + "-" + c.StreamGroup
}

// SourceFactory builds a fresh Source for each session; the runner opens
// it at the restored positions and closes it when the session ends.
type SourceFactory func() (Source, error)

// Deps are what a runner needs from its process: Kafka connection options
// (seeds, TLS, SASL), a logger, metrics and a health registry.
type Deps struct {
	Kafka   []kgo.Opt
	Logger  *slog.Logger
	Metrics *Metrics
	Health  *Health
}

func (d *Deps) fill() {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	if d.Health == nil {
		d.Health = NewHealth()
	}
}

// SourceRunner moves records from a Source into Kafka and keeps the
// source's positions durable, in exactly_once or at_least_once mode.
type SourceRunner struct {
	cfg     SourceConfig
	deps    Deps
	factory SourceFactory

	topicsMu sync.Mutex
	topics   map[string]bool // target topics known to exist
}

// NewSourceRunner returns a runner for the sources factory builds.
func NewSourceRunner(cfg SourceConfig, factory SourceFactory, deps Deps) *SourceRunner {
	deps.fill()
	return &SourceRunner{cfg: cfg, deps: deps, factory: factory, topics: map[string]bool{}}
}

// Run runs sessions until ctx is done or a terminal error occurs. A session
// restores positions, opens a fresh source and pumps records; a retryable
// error ends the session and a new one starts from the durable positions
// after a backoff. When ctx is done Run stops reading, drains the batch in
// flight within ShutdownTimeout and returns nil. Terminal errors (fenced,
// permanent) are returned.
func (r *SourceRunner) Run(ctx context.Context) error {
	component := "source:" + r.cfg.Name
	r.deps.Health.SetReady(component, false)
	mode, err := r.prepare(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.deps.Logger.Info("source runner started", "connector", r.cfg.Name, "mode", string(mode),
		"transactional_id", r.cfg.TransactionalID())
	backoff := Backoff{Initial: 500 * time.Millisecond, Max: r.cfg.RestartBackoffMax}
	for attempt := 1; ; attempt++ {
		var err error
		started := time.Now()
		if mode == DeliveryExactlyOnce {
			err = r.sessionExactlyOnce(ctx)
		} else {
			err = r.sessionAtLeastOnce(ctx)
		}
		r.deps.Health.SetReady(component, false)
		if ctx.Err() != nil {
			if err != nil && !isStop(ctx, err) {
				return fmt.Errorf("drain source %s: %w", r.cfg.Name, err)
			}
			return nil
		}
		if !IsRetryable(err) {
			r.deps.Health.Fail(err.Error())
			return fmt.Errorf("run source %s: %w", r.cfg.Name, err)
		}
		r.deps.Metrics.SourceRestarts.WithLabelValues(r.cfg.Name, string(Classify(err))).Inc()
		r.deps.Logger.Warn("source session failed; restarting from the last durable positions",
			"connector", r.cfg.Name, "err", err, "attempt", attempt)
		if time.Since(started) > 2*r.cfg.RestartBackoffMax {
			attempt = 1 // the session was healthy for a while: start the backoff over
		}
		if sleep(ctx, backoff.Delay(attempt)) != nil {
			return nil
		}
	}
}

// prepare creates the offsets topic and resolves the delivery mode.
func (r *SourceRunner) prepare(ctx context.Context) (DeliveryMode, error) {
	cl, err := kgo.NewClient(r.deps.Kafka...)
	if err != nil {
		return "", Permanent(fmt.Errorf("create kafka client: %w", err))
	}
	defer cl.Close()
	if err := kafkaio.EnsureTopics(ctx, kadm.NewClient(cl), kafkaio.CompactedTopic(r.cfg.Offsets())); err != nil {
		return "", fmt.Errorf("ensure offsets topic: %w", err)
	}
	mode := r.cfg.DeliveryMode
	if mode == DeliveryAtLeastOnce {
		return mode, nil
	}
	ok, err := kafkaio.SupportsTransactions(ctx, cl)
	if err != nil {
		return "", fmt.Errorf("probe transaction support: %w", err)
	}
	switch {
	case ok:
		return DeliveryExactlyOnce, nil
	case mode == DeliveryExactlyOnce:
		return "", Permanent(fmt.Errorf("%s_DELIVERY_MODE is exactly_once but the brokers do not support transactions (Event Hubs Standard does not): use at_least_once or auto", EnvPrefix))
	}
	return DeliveryAtLeastOnce, nil
}

// openSource restores positions from store and opens a fresh source.
func (r *SourceRunner) openSource(ctx context.Context, store offsetstore.Store) (Source, error) {
	stored, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore positions: %w", err)
	}
	from := make(Positions, len(stored))
	for k, v := range stored {
		from[k] = v
	}
	src, err := r.factory()
	if err != nil {
		return nil, fmt.Errorf("build source: %w", err)
	}
	if err := src.Open(ctx, from); err != nil {
		_ = src.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("open source: %w", err)
	}
	return src, nil
}

// read calls src.Read, absorbing ErrBackoff with a short pause. It returns
// nil records and nil error only when it paused.
func read(ctx context.Context, src Source) ([]Record, error) {
	recs, err := src.Read(ctx)
	if errors.Is(err, ErrBackoff) {
		return nil, sleep(ctx, 100*time.Millisecond)
	}
	return recs, err
}

// ensureTopics creates target topics the runner has not seen yet.
func (r *SourceRunner) ensureTopics(ctx context.Context, cl *kgo.Client, recs []Record) error {
	if !r.cfg.TopicAutoCreate {
		return nil
	}
	r.topicsMu.Lock()
	defer r.topicsMu.Unlock()
	var specs []kafkaio.TopicSpec
	seen := map[string]bool{}
	for i := range recs {
		t := recs[i].Topic
		if t != "" && !r.topics[t] && !seen[t] {
			seen[t] = true
			specs = append(specs, kafkaio.TopicSpec{Name: t, Partitions: r.cfg.TopicPartitions, ReplicationFactor: r.cfg.TopicReplication})
		}
	}
	if len(specs) == 0 {
		return nil
	}
	if err := kafkaio.EnsureTopics(ctx, kadm.NewClient(cl), specs...); err != nil {
		return fmt.Errorf("create target topics: %w", err)
	}
	for t := range seen {
		r.topics[t] = true
	}
	return nil
}

// lastPositions returns, per stream, the position of the stream's last
// record in recs.
func lastPositions(recs []Record) Positions {
	last := Positions{}
	for i := range recs {
		last[recs[i].Stream] = recs[i].Position
	}
	return last
}

// ackAll tells the source which positions are durable.
func ackAll(ctx context.Context, src Source, ps Positions) error {
	for stream, p := range ps {
		if err := src.Ack(ctx, stream, p); err != nil {
			return fmt.Errorf("ack %s: %w", stream, err)
		}
	}
	return nil
}

// toKafka converts a source record to a Kafka record.
func toKafka(rec *Record) *kgo.Record {
	kr := &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Time}
	if len(rec.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(rec.Headers))
		for i, h := range rec.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return kr
}

// validate checks the runtime's requirements on a source record.
func validateSourceRecord(rec *Record) error {
	switch {
	case rec.Stream == "":
		return Permanent(errors.New("source record without a stream"))
	case rec.Position == nil:
		return Permanent(fmt.Errorf("source record of stream %s without a position", rec.Stream))
	case rec.Topic == "" && (rec.Key != nil || rec.Value != nil || len(rec.Headers) > 0):
		return Permanent(fmt.Errorf("source record of stream %s has data but no topic", rec.Stream))
	}
	return nil
}

// fencedError maps the broker's fencing errors to ErrFenced.
func fencedError(err error) error {
	switch {
	// INVALID_TXN_STATE is what a fenced producer's commit gets on brokers
	// with transaction.version 2 (KIP-890), where the newer copy's
	// initialisation aborted the transaction under it. It also follows a
	// transaction that outlived its timeout; treating that as fenced costs
	// a process restart, while treating a real fencing as retryable would
	// make two copies fence each other in turn for ever.
	case errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidTxnState):
		return fmt.Errorf("%w: %w", ErrFenced, err)
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.TopicAuthorizationFailed):
		return Permanent(err)
	}
	return err
}
