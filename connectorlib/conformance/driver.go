package conformance

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// SourceDriver connects RunSource to one Source implementation and to the
// upstream it reads from (a simulator, a seeded store, an HTTP client that
// posts events).
//
// Every subtest, and every configuration case, has its own *testing.T and
// passes it to each driver call it makes. Calls with the same t share one
// upstream: two sources from NewSource(t) see the same events, and Produce(t)
// adds to them. Each t's upstream starts empty, and calls with different t
// never share events: name the upstream (topic, channel, seed) with
// UniqueName(t), build it on first use and release it with t.Cleanup. The
// suite calls the driver from one goroutine at a time.
type SourceDriver interface {
	// Features declares what the source supports.
	Features() SourceFeatures

	// NewSource returns a new, unopened source reading t's upstream. The
	// suite opens and closes it; a subtest may call NewSource several
	// times to reopen.
	NewSource(t *testing.T) connectorlib.Source

	// Produce makes n new events appear in t's upstream and returns once
	// an open source can read them. The suite calls it after opening a
	// source, except where Replay is declared, when it may also be called
	// before.
	Produce(t *testing.T, n int)

	// Inject arranges fault f in t's upstream and reports whether the
	// driver supports it.
	Inject(t *testing.T, f Fault) bool

	// InvalidPosition returns positions the source cannot resume from in
	// t's upstream (an expired or malformed replay id), keyed by a stream
	// the source reads. It is only called when Replay is declared.
	InvalidPosition(t *testing.T) connectorlib.Positions

	// Configs returns the configurations the source must reject, one per
	// required key. An empty list declares that the source has no
	// required configuration.
	Configs() []ConfigCase
}

// SinkDriver connects RunSink to one Sink implementation and to the target
// it writes to (cosmosdb-server, sfsim).
//
// As with SourceDriver, calls with the same t share one target, each t's
// target starts empty, and calls with different t never share one: name it
// (a container, an object) with UniqueName(t).
type SinkDriver interface {
	// Features declares what the sink supports.
	Features() SinkFeatures

	// NewSink returns a new, unopened sink writing to t's target.
	NewSink(t *testing.T) connectorlib.Sink

	// Records returns n valid records with distinct, non-empty keys, all
	// from one topic and partition, in increasing offset order. Values are
	// whatever the target accepts. The sink must identify the target item
	// by Record.Key: the suite may set one record's key on another.
	Records(t *testing.T, n int) []connectorlib.Record

	// BadRecord returns a record the sink must reject permanently for its
	// key or value (invalid JSON, a missing required field). The suite sets
	// its Topic, Partition and Offset to place it in a batch.
	BadRecord(t *testing.T) connectorlib.Record

	// ReadBack returns every item t's target holds, one entry per item:
	// two items with the same key are two entries. Values are returned in a
	// form comparable to Record.Value (strip target metadata such as _ts),
	// or the driver implements ValueComparer.
	ReadBack(t *testing.T) []Stored

	// Inject arranges fault f in t's target and reports whether the driver
	// supports it.
	Inject(t *testing.T, f Fault) bool

	// Configs returns the configurations the sink must reject, one per
	// required key. An empty list declares that the sink has no required
	// configuration.
	Configs() []ConfigCase
}

// Stored is one item held by a sink's target, as returned by
// SinkDriver.ReadBack.
type Stored struct {
	// Key is the key of the record the item was written from.
	Key string
	// Value is the item's content, comparable to Record.Value.
	Value []byte
}

// ConfigCase is one configuration a connector must reject, for the
// Configure_MissingRequired test.
type ConfigCase struct {
	// Name names the case; it becomes a subtest name.
	Name string
	// Build builds (and, if that is where validation happens, opens) the
	// connector from a configuration lacking one required key, and returns
	// the error it got. It must release whatever it built.
	Build func(t *testing.T) error
	// WantErr is a substring the error must contain: the missing key, as
	// the user spells it (for example "SF_TOPIC" or "topic").
	WantErr string
}

// EventIdentifier is implemented by source drivers whose sources do not
// identify an event by its stream and position. By default the suite
// identifies an event by Record.Stream and Record.Position, which must then
// be the same for the same event in every source instance.
type EventIdentifier interface {
	// EventID returns a string identifying the event r carries, equal for
	// the same event read by different source instances.
	EventID(r connectorlib.Record) string
}

// ValueComparer is implemented by sink drivers whose ReadBack cannot return
// values byte-for-byte equal to Record.Value (for example JSON documents
// whose field order the target changes).
type ValueComparer interface {
	// EqualValue reports whether got, read back from the target, holds what
	// want, a Record.Value, was written as.
	EqualValue(want, got []byte) bool
}

// LeakOptioner is implemented by drivers whose connectors start goroutines
// that legitimately outlive Close (a process-wide connection pool). The
// options are added to every leak check.
type LeakOptioner interface {
	// LeakOptions returns the extra goleak options.
	LeakOptions() []goleak.Option
}
