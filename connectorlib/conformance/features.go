package conformance

import "time"

// DefaultTimeout bounds each step the suite waits on (a Read that should
// deliver, an Open, a Write, a Close) when a driver declares no Timeout. It
// is generous because real peers (sfsim over gRPC, cosmosdb-server) start
// slowly on loaded CI machines; the suite only waits this long when
// something is wrong.
const DefaultTimeout = 10 * time.Second

// SourceFeatures declares what a source supports; RunSource adapts to it.
type SourceFeatures struct {
	// Replay means positions are resumable: Open(from) resumes right after
	// each stream's position in from, and Open with no position for a
	// stream starts at the earliest event of that stream in the test's
	// upstream (so the driver configures an "earliest" initial preset).
	// Without Replay the resume and restart tests skip.
	Replay bool

	// OrderedPerStream means every instance delivers each stream's events in
	// the same order, so after resuming at a position a stream continues
	// exactly with the event that followed it. Without it the suite only
	// checks that no event is missing.
	OrderedPerStream bool

	// OnInvalidPosition is the source's policy for a position it cannot
	// resume from (a stale or expired replay id). It must be set when
	// Replay is declared.
	OnInvalidPosition InvalidPositionPolicy

	// MaxBatch is the largest number of records one Read returns. It is
	// required: a source without a bound cannot give the runtime
	// backpressure.
	MaxBatch int

	// Timeout bounds each step the suite waits on; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// InvalidPositionPolicy is what a source does when Open is given a position
// it cannot resume from. It mirrors the on_invalid_replay setting.
type InvalidPositionPolicy string

// The invalid-position policies.
const (
	// InvalidPositionUndeclared is the zero value: the source declares no
	// policy. It is only valid for sources without Replay.
	InvalidPositionUndeclared InvalidPositionPolicy = ""
	// InvalidPositionFail makes Open, or a Read before any event of the
	// affected stream, return a permanent error (connectorlib.IsRetryable is
	// false), so the runner stops instead of retrying the same position
	// forever.
	InvalidPositionFail InvalidPositionPolicy = "fail"
	// InvalidPositionEarliest restarts the stream at its earliest retained
	// event: every event of the stream already in the upstream is
	// delivered.
	InvalidPositionEarliest InvalidPositionPolicy = "earliest"
	// InvalidPositionLatest restarts the stream at its tip: no event of the
	// stream already in the upstream is delivered, every later one is.
	InvalidPositionLatest InvalidPositionPolicy = "latest"
)

// SinkFeatures declares what a sink supports; RunSink adapts to it.
type SinkFeatures struct {
	// PartialBatchFailure means Write reports per-record failures with a
	// *connectorlib.BatchError and applies every other record of the batch.
	PartialBatchFailure bool

	// IdempotentWrites means writing the same batch again leaves the target
	// as after the first write (no duplicates). The Sink contract requires
	// it, because the runtime retries whole batches; a sink declaring false
	// is only checked for at-least-once delivery.
	IdempotentWrites bool

	// Throttling means the driver can make the target throttle the next
	// write (FaultThrottleOnce) and the sink reports it as retryable.
	Throttling bool

	// OrderedPerKey means records with the same key, applied in one batch
	// in offset order, leave the value of the last one in the target.
	OrderedPerKey bool

	// Timeout bounds each step the suite waits on; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}
