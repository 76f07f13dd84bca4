package conformance

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// sinkSuite holds what every sink subtest needs.
type sinkSuite struct {
	d       SinkDriver
	f       SinkFeatures
	timeout time.Duration
	equal   func(want, got []byte) bool
}

func newSinkSuite(d SinkDriver) *sinkSuite {
	f := d.Features()
	s := &sinkSuite{d: d, f: f, timeout: timeoutOr(f.Timeout), equal: bytes.Equal}
	if vc, ok := d.(ValueComparer); ok {
		s.equal = vc.EqualValue
	}
	return s
}

// sinkHandle is a sink the suite opened. The suite closes it when the
// subtest ends unless the subtest closed it itself.
type sinkHandle struct {
	connectorlib.Sink
	closed atomic.Bool
}

// open builds and opens a sink for t.
func (s *sinkSuite) open(t *testing.T) *sinkHandle {
	t.Helper()
	sink := s.d.NewSink(t)
	if sink == nil {
		t.Fatal("driver: NewSink returned nil")
	}
	h := &sinkHandle{Sink: sink}
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
	if err := s.call(t, "Open", func(ctx context.Context) error { return h.Open(ctx) }); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return h
}

// call runs f with a context bounded by the timeout and fails the test if
// f does not return in time.
func (s *sinkSuite) call(t *testing.T, what string, f func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- f(ctx) }()
	select {
	case err := <-res:
		return err
	case <-time.After(s.timeout + s.timeout/2):
		t.Fatalf("%s did not return within %v", what, s.timeout)
		return nil
	}
}

// write calls Write with batch.
func (s *sinkSuite) write(t *testing.T, h *sinkHandle, batch []connectorlib.Record) error {
	t.Helper()
	return s.call(t, fmt.Sprintf("Write of %d records", len(batch)), func(ctx context.Context) error {
		return h.Write(ctx, batch)
	})
}

// closeErr calls Close, bounded by the timeout; ok is false when Close did
// not return in time.
func (s *sinkSuite) closeErr(h *sinkHandle) (err error, ok bool) {
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

// records returns n records from the driver, checked against what
// SinkDriver.Records promises.
func (s *sinkSuite) records(t *testing.T, n int) []connectorlib.Record {
	t.Helper()
	recs := slices.Clone(s.d.Records(t, n))
	if len(recs) != n {
		t.Fatalf("driver: Records(%d) returned %d records", n, len(recs))
	}
	keys := map[string]bool{}
	for i, r := range recs {
		switch {
		case len(r.Key) == 0:
			t.Fatalf("driver: Records returned record %d without a key", i)
		case keys[string(r.Key)]:
			t.Fatalf("driver: Records returned key %q twice", r.Key)
		case r.Topic == "":
			t.Fatalf("driver: Records returned record %d without a topic", i)
		case i > 0 && (r.Topic != recs[0].Topic || r.Partition != recs[0].Partition || r.Offset <= recs[i-1].Offset):
			t.Fatalf("driver: Records must come from one topic and partition in increasing offset order; record %d is %s/%d@%d after %s/%d@%d",
				i, r.Topic, r.Partition, r.Offset, recs[i-1].Topic, recs[i-1].Partition, recs[i-1].Offset)
		}
		keys[string(r.Key)] = true
	}
	return recs
}

// held returns what t's target holds, grouped by key.
func (s *sinkSuite) held(t *testing.T) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	for _, it := range s.d.ReadBack(t) {
		out[it.Key] = append(out[it.Key], it.Value)
	}
	return out
}

// checkHeld checks that the target holds every record of recs with its
// value; with once, exactly one item per key.
func (s *sinkSuite) checkHeld(t *testing.T, recs []connectorlib.Record, once bool) {
	t.Helper()
	held := s.held(t)
	for _, r := range recs {
		items := held[string(r.Key)]
		switch {
		case len(items) == 0:
			t.Errorf("record %q (offset %d) is not in the target", r.Key, r.Offset)
		case once && len(items) > 1:
			t.Errorf("key %q is held %d times; want once", r.Key, len(items))
		case !slices.ContainsFunc(items, func(got []byte) bool { return s.equal(r.Value, got) }):
			t.Errorf("key %q holds %s; want %s", r.Key, short(items[0]), short(r.Value))
		}
	}
}

// short quotes b for messages, truncated.
func short(b []byte) string {
	const limit = 80
	if len(b) > limit {
		return fmt.Sprintf("%q...", b[:limit])
	}
	return fmt.Sprintf("%q", b)
}
