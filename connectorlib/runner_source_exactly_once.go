package connectorlib

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
)

// sessionExactlyOnce runs one exactly_once session: each batch the source
// returns is produced together with the batch's positions in one Kafka
// transaction.
func (r *SourceRunner) sessionExactlyOnce(ctx context.Context) error {
	drain, cancelDrain := drainContext(ctx, r.cfg.ShutdownTimeout)
	defer cancelDrain()

	opts := append(append([]kgo.Opt(nil), r.deps.Kafka...),
		kgo.TransactionalID(r.cfg.TransactionalID()),
		kgo.TransactionTimeout(r.cfg.TransactionTimeout),
		// A topic auto-created a moment ago has no leader in the first
		// metadata answer; the default 5 s minimum between refreshes stalled
		// the first transaction into it for that long.
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Permanent(fmt.Errorf("create transactional client: %w", err))
	}
	defer cl.Close()

	// Invariant: fence before restore. Initialising the producer id bumps
	// the epoch of our transactional id, which fences any older copy of this
	// connector and aborts its unfinished transaction. Only after that can
	// the positions read below not be overtaken by a zombie's commit.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fencedError(fmt.Errorf("initialise transactional producer: %w", err))
	}
	store := offsetstore.NewKafka(cl, r.deps.Kafka, r.cfg.Offsets(), r.cfg.Name)
	src, err := r.openSource(ctx, store)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close(drain) }()
	r.deps.Health.SetReady("source:"+r.cfg.Name, true)

	for {
		recs, err := read(ctx, src)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			continue
		}
		// Records the source already has join the same transaction: one
		// commit costs milliseconds on a real broker, so one per Read would
		// cap the throughput.
		recs, pending := r.coalesce(ctx, src, recs)
		start := time.Now()
		// The batch is finished even when ctx is cancelled meanwhile: a
		// stop waits for the transaction in flight (bounded by drain).
		last, err := r.commitBatch(drain, cl, store, recs)
		if err != nil {
			return err
		}
		// Invariant: ack only after durable persist. The transaction that
		// carried these records also carried their positions, and it has
		// committed.
		if err := ackAll(drain, src, last); err != nil {
			return err
		}
		r.deps.Metrics.SourceBatchSeconds.WithLabelValues(r.cfg.Name).Observe(time.Since(start).Seconds())
		if pending != nil {
			return pending
		}
		perStream := map[string]int{}
		for i := range recs {
			perStream[recs[i].Stream]++
		}
		for stream, n := range perStream {
			r.deps.Metrics.SourceRecords.WithLabelValues(r.cfg.Name, stream).Add(float64(n))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// coalesce adds to recs what further Reads return within the linger,
// up to TransactionMaxRecords and TransactionMaxBytes (a Read's records
// join whole, so one Read may go past the bytes bound). A Read error ends
// the batch; it is returned as pending, for after the batch is committed
// (nothing read is dropped).
func (r *SourceRunner) coalesce(ctx context.Context, src Source, recs []Record) ([]Record, error) {
	size := 0
	for i := range recs {
		size += recs[i].Size()
	}
	for len(recs) < r.cfg.TransactionMaxRecords && size < r.cfg.transactionMaxBytes() {
		lctx, cancel := context.WithTimeout(ctx, r.cfg.TransactionLinger)
		more, err := src.Read(lctx)
		cancel()
		switch {
		case err == nil:
			for i := range more {
				size += more[i].Size()
			}
			recs = append(recs, more...)
			continue
		case errors.Is(err, ErrBackoff), lctx.Err() != nil && ctx.Err() == nil:
			return recs, nil // nothing more right now
		}
		return recs, err
	}
	return recs, nil
}

// commitBatch produces recs and their streams' last positions in one
// transaction and commits it. On any failure the transaction is aborted and
// an error returned; the caller restarts from the durable positions.
func (r *SourceRunner) commitBatch(ctx context.Context, cl *kgo.Client, store *offsetstore.Kafka, recs []Record) (Positions, error) {
	for i := range recs {
		if err := validateSourceRecord(&recs[i]); err != nil {
			return nil, err
		}
	}
	if err := r.ensureTopics(ctx, cl, recs); err != nil {
		return nil, err
	}
	if err := cl.BeginTransaction(); err != nil {
		return nil, fencedError(fmt.Errorf("begin transaction: %w", err))
	}
	var (
		mu      sync.Mutex
		prodErr error // the first produce error; the others usually repeat it
		failed  int
		wg      sync.WaitGroup
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if prodErr == nil {
				prodErr = err
			}
			failed++
			mu.Unlock()
		}
		wg.Done()
	}
	last := lastPositions(recs)
	produced := 0
	for i := range recs {
		if recs[i].Topic == "" {
			continue // a position marker: only its position is written
		}
		wg.Add(1)
		produced++
		cl.Produce(ctx, toKafka(&recs[i]), promise)
	}
	wg.Add(len(last))
	for stream, p := range last {
		cl.Produce(ctx, store.Record(stream, p), promise)
	}
	flushErr := cl.Flush(ctx)
	wg.Wait()
	if prodErr != nil {
		prodErr = fmt.Errorf("%d of %d records failed, first: %w", failed, produced+len(last), prodErr)
	}
	err := errors.Join(prodErr, flushErr)
	if err == nil {
		err = cl.EndTransaction(ctx, kgo.TryCommit)
		if err == nil {
			r.deps.Metrics.SourceTransactions.WithLabelValues(r.cfg.Name, "commit").Inc()
			for stream := range last {
				r.deps.Metrics.SourceOffsetWrites.WithLabelValues(r.cfg.Name, stream).Inc()
			}
			return last, nil
		}
	}
	// The outcome may be unknown (a commit whose reply was lost): aborting
	// is safe either way, and the next session re-reads the positions that
	// actually committed.
	if abortErr := cl.AbortBufferedRecords(context.WithoutCancel(ctx)); abortErr == nil {
		_ = cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
	}
	r.deps.Metrics.SourceTransactions.WithLabelValues(r.cfg.Name, "abort").Inc()
	return nil, fencedError(fmt.Errorf("produce transaction: %w", err))
}
