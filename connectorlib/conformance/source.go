package conformance

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// blockFor is how long the suite lets a Read block before it cancels the
// Read or closes the source: long enough for a goroutine to reach its
// select, short enough to keep the suite fast.
const blockFor = 150 * time.Millisecond

// maxBackpressureEvents caps the events Backpressure_BoundedInFlight
// produces for sources declaring a very large MaxBatch.
const maxBackpressureEvents = 5000

// RunSource runs the source conformance suite against the source d drives.
// Each check is a subtest, named so that one can be selected with -run:
//
//   - Configure_MissingRequired: every ConfigCase fails, naming its key.
//   - Read_BlocksUntilCancel: with nothing to read, Read blocks (or returns
//     ErrBackoff) until its context is cancelled, then returns ctx.Err()
//     promptly, and the source still delivers later events.
//   - Open_ResumeAfterPartialAck: read everything, ack the first half of
//     each stream, close, reopen at the acked positions: no event after
//     them is missing (duplicates are allowed), and no stream restarts at or
//     before its acked position.
//   - Ack_OutOfOrder_DoesNotAdvance: records resolved out of order are acked
//     through a connectorlib.Checkpoint, as the runtime does; reopening at
//     the acked positions redelivers the unresolved record and everything
//     after it.
//   - Restart_AtLeastOnce: read everything, ack nothing, close, reopen:
//     everything is delivered again.
//   - InvalidReplayID_FollowsPolicy: opening at the driver's invalid
//     positions fails permanently, or delivers exactly as the declared
//     policy says; it never skips silently.
//   - Read_SurvivesDisconnect: after FaultDisconnectOnce no event is lost,
//     with the suite reopening the source after a Read error as the runner
//     does.
//   - Backpressure_BoundedInFlight: events produced while nobody reads are
//     all delivered, in batches no larger than MaxBatch.
//   - Close_WhileReadBlocked: Close returns promptly while another
//     goroutine is blocked in Read, and that Read returns an error.
//   - Close_Idempotent: Close may be called again, also concurrently.
func RunSource(t *testing.T, d SourceDriver) {
	t.Helper()
	s := newSourceSuite(d)
	for _, tc := range []struct {
		name string
		f    func(t *testing.T)
	}{
		{"Configure_MissingRequired", func(t *testing.T) { runConfigCases(t, d, d.Configs()) }},
		{"Read_BlocksUntilCancel", s.readBlocksUntilCancel},
		{"Open_ResumeAfterPartialAck", s.openResumeAfterPartialAck},
		{"Ack_OutOfOrder_DoesNotAdvance", s.ackOutOfOrderDoesNotAdvance},
		{"Restart_AtLeastOnce", s.restartAtLeastOnce},
		{"InvalidReplayID_FollowsPolicy", s.invalidReplayIDFollowsPolicy},
		{"Read_SurvivesDisconnect", s.readSurvivesDisconnect},
		{"Backpressure_BoundedInFlight", s.backpressureBoundedInFlight},
		{"Close_WhileReadBlocked", s.closeWhileReadBlocked},
		{"Close_Idempotent", s.closeIdempotent},
	} {
		subtest(t, tc.name, d, tc.f)
	}
}

func (s *sourceSuite) requireReplay(t *testing.T) {
	t.Helper()
	if !s.f.Replay {
		t.Skip("source declares no Replay (SourceFeatures.Replay is false): it cannot resume at a position")
	}
}

func (s *sourceSuite) readBlocksUntilCancel(t *testing.T) {
	h := s.open(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt atomic.Int64
	timer := time.AfterFunc(blockFor, func() {
		cancelledAt.Store(time.Now().UnixNano())
		cancel()
	})
	defer timer.Stop()

	reportedEmpty := false
	var err error
	for {
		doneBefore := ctx.Err() != nil
		var recs []connectorlib.Record
		recs, err = s.read(t, ctx, h)
		switch {
		case err == nil && len(recs) > 0:
			t.Fatalf("Read returned %d records though no event was produced", len(recs))
		case err == nil:
			if !reportedEmpty {
				reportedEmpty = true
				t.Errorf("Read returned no records and a nil error; it must block until a record is available, or return ErrBackoff")
			}
			time.Sleep(backoffPause)
			continue
		case errors.Is(err, connectorlib.ErrBackoff) && !doneBefore:
			time.Sleep(backoffPause)
			continue
		}
		break
	}
	if ctx.Err() == nil {
		t.Fatalf("Read returned %v before its context was done; with nothing to read it must block or return ErrBackoff", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read returned %v after its context was cancelled; want ctx.Err() (context.Canceled)", err)
	}
	t.Logf("Read returned %v after cancel", time.Since(time.Unix(0, cancelledAt.Load())).Round(time.Millisecond))

	// A cancelled Read is how the runner stops reading; the source must go
	// on working (buffered records are returned later, never dropped).
	s.d.Produce(t, 1)
	s.readN(t, h, s.newSet(), 1)
}

func (s *sourceSuite) openResumeAfterPartialAck(t *testing.T) {
	s.requireReplay(t)
	h := s.open(t, nil)
	s.d.Produce(t, eventCount)
	first := s.newSet()
	s.readN(t, h, first, eventCount)

	names, streams := first.byStream()
	acked := connectorlib.Positions{}
	var want []string
	for _, name := range names {
		recs := streams[name]
		half := len(recs) / 2
		if half > 0 {
			acked[name] = recs[half-1].Position
			s.ack(t, h, name, recs[half-1].Position)
		}
		want = append(want, s.ids(recs[half:])...)
	}
	if len(acked) == 0 {
		t.Fatalf("driver: Produce(%d) gave no stream two events; the test cannot ack half of a stream", eventCount)
	}
	s.mustClose(t, h)

	h2 := s.open(t, acked)
	second := s.newSet()
	if !s.readUntil(t, h2, second, func() bool { return len(second.missing(want)) == 0 }) {
		t.Fatalf("after reopening at %s, %d events after the acked positions never arrived: %q",
			fmtPositions(acked), len(second.missing(want)), second.missing(want))
	}
	_, again := second.byStream()
	for _, name := range names {
		recs := streams[name]
		half := len(recs) / 2
		if half == 0 || len(again[name]) == 0 {
			continue
		}
		prefix := s.ids(recs[:half])
		if got := s.id(again[name][0]); slices.Contains(prefix, got) {
			t.Errorf("stream %q resumed with event %q, at or before its acked position %q; Open must resume after it",
				name, got, acked[name])
			continue
		}
		if s.f.OrderedPerStream {
			if got, wantSeq := s.ids(again[name]), s.ids(recs[half:]); !slices.Equal(got, wantSeq) {
				t.Errorf("stream %q (OrderedPerStream) resumed with events %q; want %q", name, got, wantSeq)
			}
		}
	}
}

func (s *sourceSuite) ackOutOfOrderDoesNotAdvance(t *testing.T) {
	s.requireReplay(t)
	h := s.open(t, nil)
	s.d.Produce(t, eventCount)
	set := s.newSet()
	s.readN(t, h, set, eventCount)
	recs := set.order

	// The hole is the second event of the longest stream: resolving
	// everything else must not move that stream past its first event.
	names, streams := set.byStream()
	hs := names[0]
	for _, name := range names {
		if len(streams[name]) > len(streams[hs]) {
			hs = name
		}
	}
	if len(streams[hs]) < 2 {
		t.Fatalf("driver: Produce(%d) gave no stream two events; the test needs a stream with a hole", eventCount)
	}
	hole := s.id(streams[hs][1])

	cp := connectorlib.NewCheckpoint(len(recs))
	tickets := make([]connectorlib.Ticket, len(recs))
	for i, r := range recs {
		tk, err := cp.Track(context.Background(), r.Stream, r.Position)
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		tickets[i] = tk
	}
	acked := connectorlib.Positions{}
	// Kafka acknowledges newest first; the runtime acks only what the
	// checkpoint's contiguous rule lets through.
	for i := len(recs) - 1; i >= 0; i-- {
		if s.id(recs[i]) == hole {
			continue
		}
		cp.Resolve(tickets[i])
		for stream, p := range cp.TakeAdvanced() {
			s.ack(t, h, stream, p)
			acked[stream] = p
		}
	}
	if got, want := acked[hs], streams[hs][0].Position; !bytes.Equal(got, want) {
		t.Fatalf("checkpoint advanced stream %q to %q with %q unresolved; want %q", hs, got, hole, want)
	}
	s.mustClose(t, h)

	h2 := s.open(t, acked)
	again := s.newSet()
	want := s.ids(streams[hs][1:])
	if !s.readUntil(t, h2, again, func() bool { return len(again.missing(want)) == 0 }) {
		t.Fatalf("after reopening at %s, events of stream %q resolved out of order but never acked were lost: %q",
			fmtPositions(acked), hs, again.missing(want))
	}
}

func (s *sourceSuite) restartAtLeastOnce(t *testing.T) {
	s.requireReplay(t)
	h := s.open(t, nil)
	s.d.Produce(t, eventCount)
	first := s.newSet()
	s.readN(t, h, first, eventCount)
	s.mustClose(t, h)

	h2 := s.open(t, nil)
	want := s.ids(first.order)
	second := s.newSet()
	if !s.readUntil(t, h2, second, func() bool { return len(second.missing(want)) == 0 }) {
		t.Fatalf("after reopening without acking anything, %d of %d events were not delivered again: %q",
			len(second.missing(want)), len(want), second.missing(want))
	}
}

func (s *sourceSuite) invalidReplayIDFollowsPolicy(t *testing.T) {
	if !s.f.Replay {
		t.Skip("source declares no Replay (SourceFeatures.Replay is false): it never resumes at a position, so none can be invalid")
	}
	policy := s.f.OnInvalidPosition
	switch policy {
	case InvalidPositionFail, InvalidPositionEarliest, InvalidPositionLatest:
	case InvalidPositionUndeclared:
		t.Fatal("source declares Replay but no OnInvalidPosition policy; declare fail, earliest or latest")
	default:
		t.Fatalf("source declares unknown OnInvalidPosition policy %q", policy)
	}
	s.d.Produce(t, eventCount)
	from := s.d.InvalidPosition(t)
	if len(from) == 0 {
		t.Fatal("driver: InvalidPosition returned no positions")
	}
	// The policy governs the streams named in from; the others start at
	// the initial position as usual.
	governed := func(r connectorlib.Record) bool { _, ok := from[r.Stream]; return ok }
	// A second instance, opened without positions, tells which events
	// already exist.
	before := s.readAll(t, eventCount)
	var old []string
	for _, r := range before.order {
		if governed(r) {
			old = append(old, s.id(r))
		}
	}
	if len(old) == 0 {
		t.Fatalf("driver: none of the %d events produced belongs to a stream of InvalidPosition %s", eventCount, fmtPositions(from))
	}

	h := s.newHandle(t)
	openErr := s.openErr(t, h, from)
	switch policy {
	case InvalidPositionFail:
		err := openErr
		if err == nil {
			var leaked int
			out := s.collect(t, h, s.timeout, func(recs []connectorlib.Record) bool {
				for _, r := range recs {
					if governed(r) {
						leaked++
					}
				}
				return leaked > 0
			})
			switch {
			case leaked > 0:
				t.Fatalf("policy fail: opened at invalid positions %s, the source delivered %d records of those streams instead of failing",
					fmtPositions(from), leaked)
			case out.timedOut:
				t.Fatalf("policy fail: neither Open nor Read returned an error within %v at invalid positions %s; the invalid position was accepted silently",
					s.timeout, fmtPositions(from))
			}
			err = out.err
		}
		if connectorlib.IsRetryable(err) {
			t.Errorf("policy fail: the error for invalid positions %s is retryable (%v); mark it connectorlib.Permanent so the runner stops instead of reopening at the same position forever",
				fmtPositions(from), err)
		}
	case InvalidPositionEarliest:
		if openErr != nil {
			t.Fatalf("policy earliest: Open(%s): %v", fmtPositions(from), openErr)
		}
		set := s.newSet()
		if !s.readUntil(t, h, set, func() bool { return len(set.missing(old)) == 0 }) {
			t.Fatalf("policy earliest: opened at invalid positions %s, events of those streams produced before Open never arrived: %q",
				fmtPositions(from), set.missing(old))
		}
	case InvalidPositionLatest:
		if openErr != nil {
			t.Fatalf("policy latest: Open(%s): %v", fmtPositions(from), openErr)
		}
		s.d.Produce(t, eventCount)
		var fresh []string
		for _, r := range s.readAll(t, 2*eventCount).order {
			if governed(r) && !before.has(s.id(r)) {
				fresh = append(fresh, s.id(r))
			}
		}
		set := s.newSet()
		if !s.readUntil(t, h, set, func() bool { return len(set.missing(fresh)) == 0 }) {
			t.Fatalf("policy latest: opened at invalid positions %s, events produced after Open never arrived: %q",
				fmtPositions(from), set.missing(fresh))
		}
		set.add(s.quiet(t, h, min(s.timeout/4, 500*time.Millisecond)))
		var stale []string
		for _, id := range old {
			if set.has(id) {
				stale = append(stale, id)
			}
		}
		if len(stale) > 0 {
			t.Errorf("policy latest: opened at invalid positions %s, the source delivered %d events of those streams produced before Open: %q",
				fmtPositions(from), len(stale), stale)
		}
	}
}

// readAll opens a source without positions, reads n distinct events and
// closes it.
func (s *sourceSuite) readAll(t *testing.T, n int) *eventSet {
	t.Helper()
	h := s.open(t, nil)
	set := s.newSet()
	s.readN(t, h, set, n)
	s.mustClose(t, h)
	return set
}

func (s *sourceSuite) readSurvivesDisconnect(t *testing.T) {
	r := s.newRunner(t)
	half := eventCount / 2
	s.d.Produce(t, half)
	set := s.newSet()
	if !r.readN(t, set, half) {
		t.Fatalf("read %d of %d events within %v", set.len(), half, s.timeout)
	}
	if !s.d.Inject(t, FaultDisconnectOnce) {
		t.Skipf("driver does not support fault %s (Inject returned false)", FaultDisconnectOnce)
	}
	s.d.Produce(t, eventCount-half)
	if !r.readN(t, set, eventCount) {
		t.Fatalf("after %s, %d of %d events arrived within %v (%d reopenings)",
			FaultDisconnectOnce, set.len(), eventCount, s.timeout, r.restarts)
	}
}

func (s *sourceSuite) backpressureBoundedInFlight(t *testing.T) {
	if s.f.MaxBatch <= 0 {
		t.Fatal("source declares no MaxBatch; every source must bound the batch Read returns")
	}
	n := min(2*s.f.MaxBatch+1, maxBackpressureEvents)
	r := s.newRunner(t)
	s.d.Produce(t, n)
	// Let a prefetching source fill whatever it buffers before anyone
	// reads; its batches must still respect MaxBatch and lose nothing.
	time.Sleep(blockFor)
	set := s.newSet()
	if !r.readN(t, set, n) {
		t.Fatalf("read %d of %d events produced while nobody was reading, within %v", set.len(), n, s.timeout)
	}
}

func (s *sourceSuite) closeWhileReadBlocked(t *testing.T) {
	h := s.open(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	var closing atomic.Bool
	go func() {
		for {
			recs, err := h.Read(ctx)
			// A source that never blocks returns ErrBackoff; keep reading
			// as the runner would until Close starts.
			if errors.Is(err, connectorlib.ErrBackoff) && !closing.Load() {
				time.Sleep(backoffPause)
				continue
			}
			res <- result{len(recs), err}
			return
		}
	}()
	time.Sleep(blockFor)
	closing.Store(true)
	select {
	case r := <-res:
		t.Fatalf("Read returned (%d records, %v) before Close, with nothing to read", r.n, r.err)
	default:
	}
	if err, ok := s.closeErr(h); !ok {
		t.Errorf("Close did not return within %v while Read was blocked", s.timeout)
	} else if err != nil {
		t.Errorf("Close while Read was blocked: %v", err)
	}
	select {
	case r := <-res:
		if r.err == nil {
			t.Errorf("Read blocked during Close returned %d records and a nil error; it must return an error", r.n)
		}
	case <-time.After(s.timeout):
		t.Errorf("Read was still blocked %v after Close; Close must unblock it", s.timeout)
		cancel()
		select {
		case <-res:
		case <-time.After(s.timeout):
			t.Errorf("Read still blocked after its context was cancelled too")
		}
	}
}

func (s *sourceSuite) closeIdempotent(t *testing.T) {
	h := s.open(t, nil)
	s.d.Produce(t, 1)
	s.readN(t, h, s.newSet(), 1)
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
