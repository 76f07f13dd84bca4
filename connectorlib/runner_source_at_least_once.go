package connectorlib

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
)

// sessionAtLeastOnce runs one at_least_once session: records are produced
// asynchronously, tracked in a Checkpoint, and every OffsetFlushInterval the
// position of each stream's contiguous acked prefix is stored, then acked.
func (r *SourceRunner) sessionAtLeastOnce(ctx context.Context) error {
	drain, cancelDrain := drainContext(ctx, r.cfg.ShutdownTimeout)
	defer cancelDrain()

	opts := append(append([]kgo.Opt(nil), r.deps.Kafka...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(250*time.Millisecond)) // see sessionExactlyOnce
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Permanent(fmt.Errorf("create producer: %w", err))
	}
	defer cl.Close()
	store := offsetstore.NewKafka(cl, r.deps.Kafka, r.cfg.Offsets(), r.cfg.Name)
	src, err := r.openSource(ctx, store)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close(drain) }()
	r.deps.Health.SetReady("source:"+r.cfg.Name, true)

	s := &aloSession{r: r, cl: cl, store: store, src: src, cp: NewCheckpoint(r.cfg.MaxInFlight)}
	// A failed produce cancels reading: the failed record's position is
	// never resolved, so nothing at or after it is stored.
	readCtx, cancelRead := context.WithCancelCause(ctx)
	defer cancelRead(nil)
	s.fail = func(err error) { cancelRead(err) }

	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		t := time.NewTicker(r.cfg.OffsetFlushInterval)
		defer t.Stop()
		for {
			select {
			case <-readCtx.Done():
				return
			case <-t.C:
				if err := s.storePositions(readCtx); err != nil && readCtx.Err() == nil {
					cancelRead(err)
					return
				}
			}
		}
	}()

	readErr := s.pump(readCtx)
	if cause := context.Cause(readCtx); cause != nil && ctx.Err() == nil {
		readErr = cause
	}
	// Whatever ended the pump, the periodic flusher stops with it.
	cancelRead(readErr)
	<-flushDone
	// Drain: wait for what is in flight, then store the final positions.
	// Whatever failed, the contiguous acked prefix is safe to store.
	flushErr := cl.Flush(drain)
	if err := s.storePositions(drain); err != nil && readErr == nil {
		readErr = err
	}
	if readErr == nil && flushErr != nil {
		readErr = flushErr
	}
	return readErr
}

type aloSession struct {
	r     *SourceRunner
	cl    *kgo.Client
	store *offsetstore.Kafka
	src   Source
	cp    *Checkpoint
	fail  func(error)

	mu      sync.Mutex
	pending Positions // advanced but not yet stored
}

// pump reads and produces until ctx is done or reading fails.
func (s *aloSession) pump(ctx context.Context) error {
	name := s.r.cfg.Name
	inflight := s.r.deps.Metrics.SourceInFlight.WithLabelValues(name)
	written := map[string]prometheus.Counter{} // per stream, looked up once
	for {
		recs, err := read(ctx, s.src)
		if err != nil {
			return err
		}
		for i := range recs {
			if err := validateSourceRecord(&recs[i]); err != nil {
				return err
			}
		}
		if err := s.r.ensureTopics(ctx, s.cl, recs); err != nil {
			return err
		}
		for i := range recs {
			rec := &recs[i]
			ticket, err := s.cp.Track(ctx, rec.Stream, rec.Position)
			if err != nil {
				return err
			}
			if rec.Topic == "" {
				// A position marker: durable as soon as everything before it.
				s.cp.Resolve(ticket)
				continue
			}
			inflight.Inc()
			stream := rec.Stream
			counter, ok := written[stream]
			if !ok {
				counter = s.r.deps.Metrics.SourceRecords.WithLabelValues(name, stream)
				written[stream] = counter
			}
			// The produce itself is not tied to ctx: a stop must let records
			// already handed to the client finish.
			s.cl.Produce(context.WithoutCancel(ctx), toKafka(rec), func(_ *kgo.Record, err error) {
				inflight.Dec()
				if err != nil {
					s.fail(fmt.Errorf("produce record of %s: %w", stream, err))
					return
				}
				counter.Inc()
				s.cp.Resolve(ticket)
			})
		}
	}
}

// storePositions stores the positions that advanced and then acks them.
func (s *aloSession) storePositions(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.cp.TakeAdvanced() {
		if s.pending == nil {
			s.pending = Positions{}
		}
		s.pending[k] = v
	}
	if len(s.pending) == 0 {
		return nil
	}
	raw := make(map[string][]byte, len(s.pending))
	for k, v := range s.pending {
		raw[k] = v
	}
	if err := s.store.Put(ctx, raw); err != nil {
		return err // pending is kept and retried with the next flush
	}
	// Invariant: ack only after durable persist. Every record up to each
	// position was acked by Kafka (contiguous prefix) and Put returned.
	for stream := range s.pending {
		s.r.deps.Metrics.SourceOffsetWrites.WithLabelValues(s.r.cfg.Name, stream).Inc()
	}
	acked := s.pending
	s.pending = nil
	return ackAll(ctx, s.src, acked)
}
