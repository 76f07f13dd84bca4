package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// eventCount is how many events most source subtests produce: enough for
// each stream of a multi-stream source to get several events, few enough to
// keep the suite fast against real peers.
const eventCount = 10

// backoffPause is the pause after ErrBackoff before the next Read. The
// runner pauses 100ms; the suite pauses less to stay fast.
const backoffPause = 10 * time.Millisecond

// maxRestarts bounds how often the emulated runner reopens a source whose
// Read failed, so a source that fails every Read ends the test.
const maxRestarts = 3

// sourceSuite holds what every source subtest needs.
type sourceSuite struct {
	d       SourceDriver
	f       SourceFeatures
	timeout time.Duration
	id      func(connectorlib.Record) string
}

func newSourceSuite(d SourceDriver) *sourceSuite {
	f := d.Features()
	s := &sourceSuite{d: d, f: f, timeout: timeoutOr(f.Timeout)}
	s.id = func(r connectorlib.Record) string { return r.Stream + "@" + string(r.Position) }
	if ei, ok := d.(EventIdentifier); ok {
		s.id = ei.EventID
	}
	return s
}

// handle is a source the suite opened. The suite closes it when the subtest
// ends unless the subtest closed it itself.
type handle struct {
	connectorlib.Source
	closed atomic.Bool // the suite called Close
}

// open builds a source for t and opens it at from; it fails the test if
// Open fails.
func (s *sourceSuite) open(t *testing.T, from connectorlib.Positions) *handle {
	t.Helper()
	h := s.newHandle(t)
	if err := s.openErr(t, h, from); err != nil {
		t.Fatalf("Open(%s): %v", fmtPositions(from), err)
	}
	return h
}

// newHandle builds an unopened source for t and registers its Close.
func (s *sourceSuite) newHandle(t *testing.T) *handle {
	t.Helper()
	src := s.d.NewSource(t)
	if src == nil {
		t.Fatal("driver: NewSource returned nil")
	}
	h := &handle{Source: src}
	// The runner closes a source whose Open failed too.
	t.Cleanup(func() {
		if h.closed.Load() {
			return
		}
		if err, ok := s.closeErr(h); !ok {
			t.Errorf("Close at the end of the test did not return within %v", s.timeout)
		} else if err != nil {
			t.Errorf("Close at the end of the test: %v", err)
		}
	})
	return h
}

// openErr calls Open, bounded by the timeout.
func (s *sourceSuite) openErr(t *testing.T, h *handle, from connectorlib.Positions) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- h.Open(ctx, from.Clone()) }()
	select {
	case err := <-res:
		return err
	case <-time.After(s.timeout + s.timeout/2):
		t.Fatalf("Open(%s) did not return within %v", fmtPositions(from), s.timeout)
		return nil
	}
}

// closeErr calls Close, bounded by the timeout; ok is false when Close did
// not return in time.
func (s *sourceSuite) closeErr(h *handle) (err error, ok bool) {
	h.closed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	res := make(chan error, 1)
	go func() {
		defer cancel()
		res <- h.Close(ctx)
	}()
	select {
	case err := <-res:
		return err, true
	case <-time.After(s.timeout):
		return nil, false
	}
}

// mustClose closes h and fails the test if Close errs or hangs.
func (s *sourceSuite) mustClose(t *testing.T, h *handle) {
	t.Helper()
	if err, ok := s.closeErr(h); !ok {
		t.Fatalf("Close did not return within %v", s.timeout)
	} else if err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// ack calls Ack, bounded by the timeout, and fails the test on error.
func (s *sourceSuite) ack(t *testing.T, h *handle, stream string, upTo connectorlib.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- h.Ack(ctx, stream, upTo) }()
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("Ack(%q, %q): %v", stream, upTo, err)
		}
	case <-time.After(s.timeout + s.timeout/2):
		t.Fatalf("Ack(%q, %q) did not return within %v", stream, upTo, s.timeout)
	}
}

// read calls Read; if ctx ends and Read does not return within the timeout
// after it, the test fails.
func (s *sourceSuite) read(t *testing.T, ctx context.Context, h *handle) ([]connectorlib.Record, error) {
	t.Helper()
	type result struct {
		recs []connectorlib.Record
		err  error
	}
	res := make(chan result, 1)
	go func() {
		recs, err := h.Read(ctx)
		res <- result{recs, err}
	}()
	select {
	case r := <-res:
		return r.recs, r.err
	case <-ctx.Done():
	}
	select {
	case r := <-res:
		return r.recs, r.err
	case <-time.After(s.timeout):
		t.Fatalf("Read did not return within %v after its context was done; Read must return ctx.Err() promptly", s.timeout)
		return nil, nil
	}
}

// checkBatch checks what the runtime requires of every batch Read returns.
func (s *sourceSuite) checkBatch(t *testing.T, recs []connectorlib.Record) {
	t.Helper()
	if s.f.MaxBatch > 0 && len(recs) > s.f.MaxBatch {
		t.Errorf("Read returned %d records; the declared MaxBatch is %d", len(recs), s.f.MaxBatch)
	}
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Stream == "":
			t.Errorf("record %d of a batch has no Stream", i)
		case r.Position == nil:
			t.Errorf("record %d of stream %q has no Position", i, r.Stream)
		case r.Topic == "":
			t.Errorf("record %d of stream %q at %q has no Topic", i, r.Stream, r.Position)
		}
	}
}

// outcome is how a collect ended.
type outcome struct {
	// err is the Read error that ended collecting; never ErrBackoff nor the
	// collect deadline.
	err error
	// timedOut reports that the deadline passed before done held.
	timedOut bool
}

// collect reads from h, passing each batch to onBatch, until onBatch
// returns true, Read fails, or d passes.
func (s *sourceSuite) collect(t *testing.T, h *handle, d time.Duration, onBatch func([]connectorlib.Record) bool) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	reportedEmpty := false
	for {
		recs, err := s.read(t, ctx, h)
		switch {
		case err == nil && len(recs) == 0:
			if !reportedEmpty {
				reportedEmpty = true
				t.Errorf("Read returned no records and a nil error; it must block until a record is available, or return ErrBackoff")
			}
			select {
			case <-ctx.Done():
				return outcome{timedOut: true}
			case <-time.After(backoffPause):
			}
		case err == nil:
			s.checkBatch(t, recs)
			if onBatch(recs) {
				return outcome{}
			}
		case ctx.Err() != nil:
			return outcome{timedOut: true}
		case errors.Is(err, connectorlib.ErrBackoff):
			select {
			case <-ctx.Done():
				return outcome{timedOut: true}
			case <-time.After(backoffPause):
			}
		default:
			return outcome{err: err}
		}
	}
}

// readUntil reads from h into set until done holds; it fails the test if
// Read fails. It reports whether done held before the timeout.
func (s *sourceSuite) readUntil(t *testing.T, h *handle, set *eventSet, done func() bool) bool {
	t.Helper()
	if done() {
		return true
	}
	out := s.collect(t, h, s.timeout, func(recs []connectorlib.Record) bool {
		set.add(recs)
		return done()
	})
	if out.err != nil {
		t.Fatalf("Read: %v (after %d distinct events)", out.err, set.len())
	}
	return !out.timedOut
}

// readN reads from h into set until it holds n distinct events, failing
// the test if they do not arrive in time.
func (s *sourceSuite) readN(t *testing.T, h *handle, set *eventSet, n int) {
	t.Helper()
	if !s.readUntil(t, h, set, func() bool { return set.len() >= n }) {
		t.Fatalf("read %d of %d events within %v", set.len(), n, s.timeout)
	}
}

// quiet reads from h for d and returns what arrived; a Read error fails the
// test.
func (s *sourceSuite) quiet(t *testing.T, h *handle, d time.Duration) []connectorlib.Record {
	t.Helper()
	var got []connectorlib.Record
	out := s.collect(t, h, d, func(recs []connectorlib.Record) bool {
		got = append(got, recs...)
		return false
	})
	if out.err != nil {
		t.Fatalf("Read: %v", out.err)
	}
	return got
}

// eventSet holds distinct events in the order they first arrived.
type eventSet struct {
	id    func(connectorlib.Record) string
	index map[string]int
	order []connectorlib.Record
}

func (s *sourceSuite) newSet() *eventSet {
	return &eventSet{id: s.id, index: map[string]int{}}
}

// add adds the events of recs not yet in e.
func (e *eventSet) add(recs []connectorlib.Record) {
	for _, r := range recs {
		id := e.id(r)
		if _, ok := e.index[id]; !ok {
			e.index[id] = len(e.order)
			e.order = append(e.order, r)
		}
	}
}

func (e *eventSet) has(id string) bool { _, ok := e.index[id]; return ok }

func (e *eventSet) len() int { return len(e.order) }

// byStream returns e's events per stream, in arrival order, and the stream
// names sorted.
func (e *eventSet) byStream() ([]string, map[string][]connectorlib.Record) {
	m := map[string][]connectorlib.Record{}
	for _, r := range e.order {
		m[r.Stream] = append(m[r.Stream], r)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, m
}

// missing returns the ids in want that e lacks.
func (e *eventSet) missing(want []string) []string {
	var out []string
	for _, id := range want {
		if !e.has(id) {
			out = append(out, id)
		}
	}
	return out
}

// ids returns the ids of recs.
func (s *sourceSuite) ids(recs []connectorlib.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = s.id(r)
	}
	return out
}

// runner emulates connectorlib's at_least_once SourceRunner: each record
// read is tracked in a Checkpoint and resolved at once, as if Kafka had
// acknowledged it; the contiguous prefix is made durable, then acked. A
// Read error ends the session: the source is closed and a new one opened
// at the durable positions.
type runner struct {
	s        *sourceSuite
	src      *handle
	cp       *connectorlib.Checkpoint
	durable  connectorlib.Positions
	restarts int
}

// maxInFlight is the emulated runner's Checkpoint bound; records are
// resolved as soon as they are tracked, so it is never reached.
const maxInFlight = 1024

func (s *sourceSuite) newRunner(t *testing.T) *runner {
	t.Helper()
	return &runner{s: s, src: s.open(t, nil), cp: connectorlib.NewCheckpoint(maxInFlight), durable: connectorlib.Positions{}}
}

// readN runs sessions until set holds n distinct events; it reports
// whether they arrived before the timeout.
func (r *runner) readN(t *testing.T, set *eventSet, n int) bool {
	t.Helper()
	deadline := time.Now().Add(r.s.timeout)
	for set.len() < n {
		out := r.s.collect(t, r.src, time.Until(deadline), func(recs []connectorlib.Record) bool {
			set.add(recs)
			r.persist(t, recs)
			return set.len() >= n
		})
		switch {
		case out.timedOut:
			return false
		case out.err != nil:
			r.restarts++
			if r.restarts > maxRestarts {
				t.Fatalf("Read failed %d times in a row, last: %v", r.restarts, out.err)
			}
			t.Logf("Read: %v; reopening at %s as the runner does", out.err, fmtPositions(r.durable))
			if err, ok := r.s.closeErr(r.src); !ok {
				t.Fatalf("Close after a failed Read did not return within %v", r.s.timeout)
			} else if err != nil {
				t.Logf("Close after a failed Read: %v", err)
			}
			r.src = r.s.open(t, r.durable)
			r.cp = connectorlib.NewCheckpoint(maxInFlight)
		}
	}
	return true
}

// persist tracks and resolves recs, then acks the advanced positions.
func (r *runner) persist(t *testing.T, recs []connectorlib.Record) {
	t.Helper()
	for _, rec := range recs {
		ticket, err := r.cp.Track(context.Background(), rec.Stream, rec.Position)
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		r.cp.Resolve(ticket)
	}
	for stream, p := range r.cp.TakeAdvanced() {
		r.durable[stream] = p
		r.s.ack(t, r.src, stream, p)
	}
}

// fmtPositions formats ps for messages, streams sorted.
func fmtPositions(ps connectorlib.Positions) string {
	if len(ps) == 0 {
		return "{}"
	}
	names := make([]string, 0, len(ps))
	for k := range ps {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("{")
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %q", k, ps[k])
	}
	b.WriteString("}")
	return b.String()
}
