package conformance

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// roundTripRecords is how many records the sink subtests write per batch.
const roundTripRecords = 5

// RunSink runs the sink conformance suite against the sink d drives. Each
// check is a subtest, named so that one can be selected with -run:
//
//   - Configure_MissingRequired: every ConfigCase fails, naming its key.
//   - Write_RoundTrip: after Write returns nil, the target holds every
//     record, once, with its value.
//   - Write_SameBatchTwice_Idempotent: writing the same batch again, as the
//     runtime does after a whole-batch error, leaves no duplicates.
//   - Write_PartialFailure_ReturnsIndexes: a batch with a bad record in the
//     middle returns a *connectorlib.BatchError naming exactly that index
//     with a permanent error, and every other record is in the target.
//   - Write_Throttled_IsRetryable: after FaultThrottleOnce, Write returns a
//     retryable error and the retried Write succeeds.
//   - Write_BadRecord_IsPermanent: a bad record fails with a permanent
//     error and is not in the target.
//   - Write_OrderedPerKey_LastWins: records with the same key in one batch
//     leave the last value.
//   - Close_Idempotent: Close may be called again, also concurrently.
func RunSink(t *testing.T, d SinkDriver) {
	t.Helper()
	s := newSinkSuite(d)
	for _, tc := range []struct {
		name string
		f    func(t *testing.T)
	}{
		{"Configure_MissingRequired", func(t *testing.T) { runConfigCases(t, d, d.Configs()) }},
		{"Write_RoundTrip", s.writeRoundTrip},
		{"Write_SameBatchTwice_Idempotent", s.writeSameBatchTwiceIdempotent},
		{"Write_PartialFailure_ReturnsIndexes", s.writePartialFailureReturnsIndexes},
		{"Write_Throttled_IsRetryable", s.writeThrottledIsRetryable},
		{"Write_BadRecord_IsPermanent", s.writeBadRecordIsPermanent},
		{"Write_OrderedPerKey_LastWins", s.writeOrderedPerKeyLastWins},
		{"Close_Idempotent", s.closeIdempotent},
	} {
		subtest(t, tc.name, d, tc.f)
	}
}

func (s *sinkSuite) writeRoundTrip(t *testing.T) {
	h := s.open(t)
	recs := s.records(t, roundTripRecords)
	if err := s.write(t, h, recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	s.checkHeld(t, recs, true)
}

func (s *sinkSuite) writeSameBatchTwiceIdempotent(t *testing.T) {
	h := s.open(t)
	recs := s.records(t, roundTripRecords)
	for i := 1; i <= 2; i++ {
		if err := s.write(t, h, recs); err != nil {
			t.Fatalf("Write #%d of the same batch: %v", i, err)
		}
	}
	if !s.f.IdempotentWrites {
		t.Log("sink declares no IdempotentWrites: checking at-least-once only, duplicates allowed " +
			"(the Sink contract requires idempotent writes because the runtime retries whole batches)")
	}
	s.checkHeld(t, recs, s.f.IdempotentWrites)
}

// badBatch returns good records with the bad record inserted at index bad,
// renumbered so the batch is one partition in offset order.
func badBatch(good []connectorlib.Record, badRec connectorlib.Record, bad int) []connectorlib.Record {
	batch := slices.Insert(slices.Clone(good), bad, badRec)
	for i := range batch {
		batch[i].Topic = good[0].Topic
		batch[i].Partition = good[0].Partition
		batch[i].Offset = good[0].Offset + int64(i)
	}
	return batch
}

// failedIndexes returns the indexes a BatchError names, sorted.
func failedIndexes(be *connectorlib.BatchError) []int {
	return slices.Sorted(maps.Keys(be.Failed))
}

func (s *sinkSuite) writePartialFailureReturnsIndexes(t *testing.T) {
	if !s.f.PartialBatchFailure {
		t.Skip("sink declares no PartialBatchFailure (SinkFeatures.PartialBatchFailure is false): it cannot report per-record failures")
	}
	h := s.open(t)
	good := s.records(t, roundTripRecords-1)
	const bad = 2 // in the middle: records before and after it must be applied
	batch := badBatch(good, s.d.BadRecord(t), bad)
	err := s.write(t, h, batch)
	if err == nil {
		t.Fatalf("Write of a batch with a bad record at index %d returned nil: the bad record was dropped silently", bad)
	}
	var be *connectorlib.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Write of a batch with a bad record at index %d returned %v (%T); want a *connectorlib.BatchError naming index %d",
			bad, err, err, bad)
	}
	if got := failedIndexes(be); !slices.Equal(got, []int{bad}) {
		t.Errorf("BatchError names indexes %v; want exactly [%d]", got, bad)
	}
	if e, ok := be.Failed[bad]; ok {
		switch {
		case e == nil:
			t.Errorf("BatchError has a nil error for index %d", bad)
		case connectorlib.IsRetryable(e):
			t.Errorf("the bad record's error is retryable (%v, class %s); want permanent (connectorlib.Permanent)", e, connectorlib.Classify(e))
		}
	}
	s.checkHeld(t, good, true)
	if k := batch[bad].Key; len(k) > 0 {
		if items := s.held(t)[string(k)]; len(items) > 0 {
			t.Errorf("the failed bad record %q is in the target", k)
		}
	}
}

func (s *sinkSuite) writeThrottledIsRetryable(t *testing.T) {
	if !s.f.Throttling {
		t.Skip("sink declares no Throttling (SinkFeatures.Throttling is false)")
	}
	h := s.open(t)
	recs := s.records(t, roundTripRecords)
	if !s.d.Inject(t, FaultThrottleOnce) {
		t.Fatalf("driver: Features declares Throttling but Inject(%s) returned false", FaultThrottleOnce)
	}
	err := s.write(t, h, recs)
	if err == nil {
		t.Fatal("Write returned nil though the target throttled it")
	}
	var be *connectorlib.BatchError
	if errors.As(err, &be) {
		for _, i := range failedIndexes(be) {
			if !connectorlib.IsRetryable(be.Failed[i]) {
				t.Errorf("throttled record %d failed with a permanent error: %v", i, be.Failed[i])
			}
		}
	} else if !connectorlib.IsRetryable(err) {
		t.Fatalf("throttled Write returned a permanent error (%v, class %s); want a retryable one", err, connectorlib.Classify(err))
	}
	after, _ := connectorlib.RetryAfter(err)
	t.Logf("throttled Write: class %s, retry after %v: %v", connectorlib.Classify(err), after, err)
	time.Sleep(min(after, s.timeout/4))
	if err := s.write(t, h, recs); err != nil {
		t.Fatalf("Write retried after throttling: %v", err)
	}
	s.checkHeld(t, recs, s.f.IdempotentWrites)
}

func (s *sinkSuite) writeBadRecordIsPermanent(t *testing.T) {
	h := s.open(t)
	bad := s.d.BadRecord(t)
	if bad.Topic == "" {
		bad.Topic = "conformance"
	}
	err := s.write(t, h, []connectorlib.Record{bad})
	if err == nil {
		t.Fatal("Write of the bad record returned nil")
	}
	var be *connectorlib.BatchError
	if errors.As(err, &be) {
		if got := failedIndexes(be); !slices.Equal(got, []int{0}) {
			t.Errorf("BatchError names indexes %v; want exactly [0]", got)
		}
		err = be.Failed[0]
	}
	if connectorlib.IsRetryable(err) {
		t.Errorf("the bad record's error is retryable (%v, class %s); want permanent (connectorlib.Permanent), or the runtime retries it forever",
			err, connectorlib.Classify(err))
	}
	if len(bad.Key) > 0 {
		if items := s.held(t)[string(bad.Key)]; len(items) > 0 {
			t.Errorf("the rejected bad record %q is in the target", bad.Key)
		}
	}
}

func (s *sinkSuite) writeOrderedPerKeyLastWins(t *testing.T) {
	if !s.f.OrderedPerKey {
		t.Skip("sink declares no OrderedPerKey (SinkFeatures.OrderedPerKey is false)")
	}
	h := s.open(t)
	recs := s.records(t, 3)
	for i := range recs {
		recs[i].Key = recs[0].Key
	}
	if err := s.write(t, h, recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	last := recs[len(recs)-1]
	s.checkHeld(t, []connectorlib.Record{last}, s.f.IdempotentWrites)
}

func (s *sinkSuite) closeIdempotent(t *testing.T) {
	h := s.open(t)
	if err := s.write(t, h, s.records(t, 1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	for i := 1; i <= 2; i++ {
		if err, ok := s.closeErr(h); !ok {
			t.Fatalf("Close #%d did not return within %v", i, s.timeout)
		} else if err != nil {
			t.Errorf("Close #%d: %v; Close must be idempotent", i, err)
		}
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			err, ok := s.closeErr(h)
			if !ok {
				err = errors.New("did not return in time")
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Close after Close: %v; Close must be idempotent", err)
		}
	}
}
