package ingest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// stream is the one stream of this source: every request gets the next
// position of it, so the runner's Ack(upTo) answers every request up to
// upTo at once.
const stream = "http"

// Request outcomes a waiting handler can get instead of success.
var (
	errUnavailable = errors.New("the connector is not ready to accept records (starting or restarting); retry")
	errBusy        = errors.New("too many records waiting for Kafka; retry later")
	errEnded       = errors.New("the Kafka session ended before the records were committed; retry")
)

// request is one accepted HTTP request's queued records.
type request struct {
	seq     uint64
	records []connectorlib.Record
	keys    []string      // dedup keys this request writes
	done    chan struct{} // closed when err is final
	err     error
}

func (r *request) finish(err error) {
	r.err = err
	close(r.done)
}

// session is the connectorlib.Source the runner opens for one Kafka
// session. The Receiver routes requests to the open session.
type session struct {
	rc *Receiver

	mu       sync.Mutex
	open     bool
	closed   bool
	nextSeq  uint64
	queue    []*request // accepted, not yet returned by Read
	queued   int        // records in queue and read but not acked
	unacked  []*request // returned by Read, not yet acked, in seq order
	seen     map[string]time.Time
	inflight map[string]*request // dedup key -> the request writing it
	expired  []string            // dedup keys to tombstone
	swept    time.Time
	notify   chan struct{}
}

func newSession(rc *Receiver) *session {
	return &session{rc: rc, notify: make(chan struct{}, 1), inflight: map[string]*request{}}
}

// Open implements connectorlib.Source: it loads the notification ids
// seen within the dedup window, then starts accepting requests.
func (s *session) Open(ctx context.Context, from connectorlib.Positions) error {
	next := uint64(1)
	if p, ok := from[stream]; ok {
		if len(p) != 8 {
			return connectorlib.Permanent(fmt.Errorf("stored position of %s is %d bytes, want 8", stream, len(p)))
		}
		next = binary.BigEndian.Uint64(p) + 1
	}
	seen, expired, err := s.rc.loadSeen(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.nextSeq, s.seen, s.expired, s.swept, s.open = next, seen, expired, s.rc.now(), true
	s.mu.Unlock()
	s.rc.attach(s)
	return nil
}

// Read implements connectorlib.Source: it returns the records of every
// queued request, whole requests only, so a request's records share one
// transaction.
func (s *session) Read(ctx context.Context) ([]connectorlib.Record, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errEnded
		}
		s.sweepLocked()
		if len(s.queue) > 0 {
			var out []connectorlib.Record
			n := 0
			for n < len(s.queue) && (n == 0 || len(out)+len(s.queue[n].records) <= s.rc.readLimit) {
				out = append(out, s.queue[n].records...)
				n++
			}
			s.unacked = append(s.unacked, s.queue[:n]...)
			clear(s.queue[:n])
			s.queue = s.queue[n:]
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.notify:
		case <-time.After(sweepEvery):
		}
	}
}

// sweepEvery is how often expired notification ids are looked for; an
// id outliving the window by this much is harmless.
const sweepEvery = time.Minute

// sweepLocked forgets notification ids older than the dedup window and
// queues tombstones for them, so the compacted dedup topic stays bounded.
func (s *session) sweepLocked() {
	now := s.rc.now()
	if now.Sub(s.swept) >= sweepEvery {
		s.swept = now
		for k, at := range s.seen {
			if now.Sub(at) > s.rc.cfg.DedupWindow {
				delete(s.seen, k)
				s.expired = append(s.expired, k)
			}
		}
	}
	if len(s.expired) == 0 {
		return
	}
	// The tombstones ride as requests nobody waits for, each within the
	// Read bound.
	for len(s.expired) > 0 {
		chunk := s.expired[:min(len(s.expired), tombstoneChunk)]
		s.expired = s.expired[len(chunk):]
		r := &request{seq: s.nextSeq, done: make(chan struct{})}
		s.nextSeq++
		for _, k := range chunk {
			r.records = append(r.records, s.rc.dedupRecord(k, nil))
		}
		setPositions(r)
		s.queue = append(s.queue, r)
		s.queued += len(r.records)
	}
	s.expired = nil
}

// tombstoneChunk is the most tombstones one queued request carries.
const tombstoneChunk = 1000

// Ack implements connectorlib.Source: every request up to upTo is durable
// in Kafka, so its handler may answer success.
func (s *session) Ack(_ context.Context, _ string, upTo connectorlib.Position) error {
	if len(upTo) != 8 {
		return connectorlib.Permanent(fmt.Errorf("ack of a %d-byte position", len(upTo)))
	}
	seq := binary.BigEndian.Uint64(upTo)
	now := s.rc.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.unacked) && s.unacked[n].seq <= seq {
		r := s.unacked[n]
		for _, k := range r.keys {
			s.seen[k] = now
			delete(s.inflight, k)
		}
		s.queued -= len(r.records)
		r.finish(nil)
		n++
	}
	clear(s.unacked[:n])
	s.unacked = s.unacked[n:]
	return nil
}

// Close implements connectorlib.Source: every request not yet acked fails,
// so its sender retries against the next session.
func (s *session) Close(context.Context) error {
	s.rc.detach(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, r := range append(s.unacked, s.queue...) {
		r.finish(errEnded)
	}
	s.unacked, s.queue, s.inflight = nil, nil, nil
	select {
	case s.notify <- struct{}{}: // wake a blocked Read
	default:
	}
	return nil
}

// submit queues a request's items. It returns the request to wait for and
// the in-flight requests that carry items this one repeats (wait for them
// too), the number of items recognised as duplicates, or an error when the
// session cannot take the request.
func (s *session) submit(items []item) (*request, []*request, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.open {
		return nil, nil, 0, errUnavailable
	}
	r := &request{done: make(chan struct{})}
	var waits []*request
	dups := 0
	for i := range items {
		it := &items[i]
		if it.key != "" {
			if other, ok := s.inflight[it.key]; ok {
				// A retry of something still on its way to Kafka: written
				// once, answered when that write commits.
				waits = append(waits, other)
				dups++
				continue
			}
			if _, ok := s.seen[it.key]; ok {
				dups++
				if s.rc.exactlyOnce() {
					continue // already durable: written once
				}
				// at_least_once: a seen id does not prove its record was
				// written (the dedup record may have been, alone), so it is
				// written again, flagged.
				rec := it.record
				rec.Headers = append(append([]connectorlib.Header(nil), rec.Headers...),
					connectorlib.Header{Key: HeaderDuplicate, Value: []byte("true")})
				r.records = append(r.records, rec)
				continue
			}
			r.keys = append(r.keys, it.key)
			r.records = append(r.records, it.record, s.rc.dedupRecord(it.key, &it.record.Time))
			continue
		}
		r.records = append(r.records, it.record)
	}
	if len(r.records) == 0 {
		r.finish(nil)
		return r, waits, dups, nil
	}
	if s.queued+len(r.records) > s.rc.cfg.MaxPending {
		return nil, nil, 0, errBusy
	}
	for _, k := range r.keys {
		s.inflight[k] = r
	}
	r.seq = s.nextSeq
	s.nextSeq++
	setPositions(r)
	s.queue = append(s.queue, r)
	s.queued += len(r.records)
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return r, waits, dups, nil
}

// setPositions gives every record of r the request's position.
func setPositions(r *request) {
	p := make(connectorlib.Position, 8)
	binary.BigEndian.PutUint64(p, r.seq)
	for i := range r.records {
		r.records[i].Stream = stream
		r.records[i].Position = p
	}
}
