package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
)

// errInvalidReplay marks a subscription refused because its stored replay
// id is no longer available; the replay policy decides what follows.
var errInvalidReplay = errors.New("stored replay id is no longer available")

// errSourceClosed is returned by Read after Close.
var errSourceClosed = errors.New("read: source closed")

// stream is one open subscription to one channel.
type stream interface {
	// next blocks for the next batch of events and returns their records;
	// a keepalive yields only a position marker (or nothing).
	next(ctx context.Context) ([]connectorlib.Record, error)
	close()
}

// opener opens a stream on channel resuming after from (nil: start at
// initial, latest or earliest).
type opener func(ctx context.Context, channel string, from connectorlib.Position, initial string) (stream, error)

// restClient is what the source needs of the REST API (gap repair,
// resync); *salesforce.Client implements it.
type restClient interface {
	Query(ctx context.Context, soql string, fn func(map[string]any) error) error
	QueryCount(ctx context.Context, soql string) (int, error)
	Retrieve(ctx context.Context, object string, ids, fields []string) ([]map[string]any, error)
	Describe(ctx context.Context, object string) (*salesforce.SObjectDescribe, error)
	BulkQuery(ctx context.Context, soql string, opts salesforce.BulkQueryOptions, fn func(header []string, rows [][]string) error) error
}

// Source is the Salesforce streaming source (connectorlib.Source). Each
// channel is read by its own goroutine into a bounded queue, which Read
// drains; a slow Kafka side therefore stops the subscriptions from asking
// for more (flow control reaches Salesforce).
type Source struct {
	cfg     Config
	open    opener
	rest    restClient
	maker   *recordMaker
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time

	queue  chan queuedBatch
	bytes  *byteGate // bounds the bytes in queue (SOURCE_QUEUE_MAX_BYTES)
	failed chan error

	stateMu sync.Mutex
	commits map[string]time.Time             // last commit timestamp seen, per channel
	current map[string]connectorlib.Position // last position emitted, per channel
	cancel  context.CancelFunc
	closed  chan struct{} // closed by Close: unblocks Read
	wg      sync.WaitGroup
	once    sync.Once
}

// queueDepth bounds the batches buffered between the channel goroutines
// and Read: with Pub/Sub batches of up to 100 events, 6,400 records at
// most (about 10 MB). It is deep enough for the subscriptions to go on
// while the runner commits a full transaction (5,000 records by default):
// at 16 the subscription stalled during every commit, and the Pub/Sub
// stream's stop and start cost sfsim (and the broker, through smaller
// transactions) a third more CPU per event in BenchmarkSource_Backlog.
const queueDepth = 64

// Open implements connectorlib.Source: it starts one goroutine per channel,
// each resuming after its stored position.
func (s *Source) Open(ctx context.Context, from connectorlib.Positions) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.queue = make(chan queuedBatch, queueDepth)
	s.bytes = newByteGate(int(s.cfg.QueueMaxBytes))
	s.closed = make(chan struct{})
	s.commits, s.current = map[string]time.Time{}, map[string]connectorlib.Position{}
	s.failed = make(chan error, len(s.cfg.Channels))
	for _, ch := range s.cfg.Channels {
		// A stored position carries the last commit seen, so that a
		// resync right after a restart starts from it.
		if _, commit := ParsePosition(from[ch]); !commit.IsZero() {
			s.noteCommit(ch, commit)
		}
		snaps := s.snapshotObjects(ch, from)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.runChannel(runCtx, ch, from[ch], snaps)
		}()
	}
	return nil
}

// Read implements connectorlib.Source.
func (s *Source) Read(ctx context.Context) ([]connectorlib.Record, error) {
	select {
	case b := <-s.queue:
		s.bytes.release(b.size)
		return b.recs, nil
	case err := <-s.failed:
		return nil, err
	case <-s.closed:
		return nil, errSourceClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Ack implements connectorlib.Source. Salesforce keeps no consumer
// position for us (positions live in the runtime's offsets), so there is
// nothing to release.
func (s *Source) Ack(context.Context, string, connectorlib.Position) error { return nil }

// Close implements connectorlib.Source: it stops every subscription.
func (s *Source) Close(context.Context) error {
	s.once.Do(func() {
		if s.closed != nil {
			close(s.closed)
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
	})
	return nil
}

// emit hands records to Read, blocking while the queue is full, by count
// or by bytes.
func (s *Source) emit(ctx context.Context, recs []connectorlib.Record) bool {
	if len(recs) == 0 {
		return true
	}
	n := batchSize(recs)
	if !s.bytes.acquire(ctx, n) {
		return false
	}
	select {
	case s.queue <- queuedBatch{recs: recs, size: n}:
		return true
	case <-ctx.Done():
		s.bytes.release(n)
		return false
	}
}

// fail reports a terminal error to Read.
func (s *Source) fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// runChannel keeps one channel subscribed until ctx is done: it reopens
// after retryable errors from the last position it emitted, and applies
// the replay policy when that position is no longer available.
//
// snaps are objects whose initial snapshot is still to be taken: the
// stream is opened first (at the tip, or at its stored position), then the
// snapshots are emitted, and the snapshots' done markers travel with the
// stream's first records, so that they become durable together.
func (s *Source) runChannel(ctx context.Context, channel string, from connectorlib.Position, snaps []string) {
	// pos is the bare replay id the subscription resumes after; records
	// carry it stamped with commitAt, the last commit timestamp seen
	// (channelPosition).
	pos, commitAt := ParsePosition(from)
	initial := s.cfg.InitialReplay
	if len(snaps) > 0 && from == nil {
		initial = ReplayLatest // the snapshot covers everything before the tip
	}
	backoff := connectorlib.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second}
	m := s.metrics.channel(channel)
	var resyncAt connectorlib.Position // set while a resync is due
	for attempt := 1; ctx.Err() == nil; attempt++ {
		st, err := s.open(ctx, channel, pos, initial)
		for _, o := range snaps {
			if err != nil {
				break
			}
			if err = s.snapshot(ctx, channel, o); err != nil {
				st.close()
			}
		}
		if err == nil && resyncAt != nil {
			// A resync is due (replay policy resync): its records carry the
			// position the stream was refused at, so a crash before the
			// stream stores a newer one repeats the resync, losing nothing.
			if err = s.resync(ctx, channel, channelPosition(resyncAt, commitAt)); err != nil {
				st.close()
				err = fmt.Errorf("resync %s: %w", channel, err)
			} else {
				resyncAt = nil
			}
		}
		var pending []connectorlib.Record // snapshot done markers
		if err == nil {
			for _, o := range snaps {
				pending = append(pending, marker(snapshotStream(o), snapshotDone))
			}
			if from != nil && len(pending) > 0 {
				// The stream resumes from a durable position: no hand-off
				// needed, the snapshot is complete now.
				if !s.emit(ctx, pending) {
					st.close()
					return
				}
				pending, snaps = nil, nil
			}
		}
		for err == nil {
			var recs []connectorlib.Record
			recs, err = st.next(ctx)
			if err != nil {
				st.close()
				break
			}
			attempt = 1
			if len(recs) > 0 && len(pending) > 0 {
				// The hand-off: the snapshots are done once the stream's
				// first position is durable with them. Until then a
				// resubscription takes the snapshots again.
				recs = append(recs, pending...)
				pending, snaps = nil, nil
			}
			if len(recs) > 0 {
				pos = lastOf(recs, channel)
				commitAt = stampPositions(recs, channel, commitAt)
				s.setPosition(channel, pos)
				m.position(pos)
				if !s.emit(ctx, recs) {
					st.close()
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, errInvalidReplay):
			// Every occurrence is counted, under its policy.
			m.invalidReplay.Inc()
			if s.cfg.OnInvalidReplay == ReplayFail || s.cfg.OnInvalidReplay == "" {
				// The error is the only log: the runner stops on it and
				// the process logs it once (never log and return).
				s.fail(connectorlib.PermanentCode("INVALID_REPLAY", fmt.Errorf("channel %s: stored replay id %x: %w (%s_SOURCE_ON_INVALID_REPLAY=fail): %w",
					channel, []byte(pos), errInvalidReplay, connectorlib.EnvPrefix, err)))
				return
			}
			s.log.Warn("stored replay id is no longer available", "channel", channel, "replay_id", fmt.Sprintf("%x", []byte(pos)),
				"policy", s.cfg.OnInvalidReplay, "err", err)
			switch s.cfg.OnInvalidReplay {
			case ReplayEarliest:
				pos, initial = nil, ReplayEarliest
			case ReplayLatest:
				pos, initial = nil, ReplayLatest
			case ReplayResync:
				// The stream is reopened at the tip first and the resync
				// runs once it is open (below), so that a change made
				// during the resync is on the stream if the query misses it.
				resyncAt = pos
				pos, initial = nil, ReplayLatest
			}
			continue
		case !connectorlib.IsRetryable(err):
			s.fail(fmt.Errorf("channel %s: %w", channel, err))
			return
		}
		m.reconnects.Inc()
		s.log.Warn("subscription failed; resubscribing from the last position", "channel", channel, "err", err, "attempt", attempt)
		delay := backoff.Delay(attempt)
		if after, ok := connectorlib.RetryAfter(err); ok && after > delay {
			delay = after
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *Source) setPosition(channel string, pos connectorlib.Position) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.current[channel] = pos
}

func (s *Source) noteCommit(channel string, t time.Time) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if t.After(s.commits[channel]) {
		s.commits[channel] = t
	}
}

func (s *Source) lastCommit(channel string) time.Time {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.commits[channel]
}

// lastOf returns the position of the last record of channel in recs.
func lastOf(recs []connectorlib.Record, channel string) connectorlib.Position {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Stream == channel {
			return recs[i].Position
		}
	}
	return nil
}
