package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/conformance"
)

// sourceBug selects a deliberately broken variant of the reference source;
// "" is the correct one.
type sourceBug string

// The broken source variants, each violating one contract.
const (
	srcCorrect             sourceBug = ""
	srcSkipOnResume        sourceBug = "skip_on_resume"        // Open(from) skips the event after from
	srcIgnoreFrom          sourceBug = "ignore_from"           // Open ignores from and restarts every stream
	srcResumeFromLastRead  sourceBug = "resume_from_last_read" // resumes where the previous instance stopped reading (a server-side cursor moved on Read)
	srcCloseLeavesRead     sourceBug = "close_leaves_read"     // Close does not unblock a blocked Read
	srcCloseTwiceFails     sourceBug = "close_twice_fails"     // a second Close returns an error
	srcReadIgnoresCancel   sourceBug = "read_ignores_cancel"   // Read does not watch its context
	srcEmptyBatch          sourceBug = "empty_batch"           // Read returns (nil, nil) when nothing is available
	srcOversizedBatch      sourceBug = "oversized_batch"       // Read returns more than MaxBatch records
	srcInvalidSilentLatest sourceBug = "invalid_silent_latest" // declares fail, silently jumps to the tip
	srcInvalidRetryable    sourceBug = "invalid_retryable"     // fails at an invalid position with a retryable error
	srcDropOnDisconnect    sourceBug = "drop_on_disconnect"    // reconnects at the tip after a disconnect
	srcLeakGoroutine       sourceBug = "leak_goroutine"        // Open starts a goroutine Close never stops
	srcConfigWrongKey      sourceBug = "config_wrong_key"      // config errors do not name the key
	srcNoMaxBatch          sourceBug = "no_max_batch"          // declares no MaxBatch
	srcNoPolicy            sourceBug = "no_policy"             // declares Replay without an invalid-position policy
)

// refSourceConfig configures the reference source.
type refSourceConfig struct {
	// Topic is the Kafka topic of every record.
	Topic string
	// Streams are the streams read.
	Streams []string
	// MaxBatch bounds a Read.
	MaxBatch int
	// OnInvalidPosition is the invalid-position policy.
	OnInvalidPosition conformance.InvalidPositionPolicy
}

// validate joins every configuration problem, naming the keys.
func (c refSourceConfig) validate(bug sourceBug) error {
	var errs []error
	name := func(key string) string {
		if bug == srcConfigWrongKey {
			return "a setting"
		}
		return key
	}
	if c.Topic == "" {
		errs = append(errs, fmt.Errorf("%s: must not be empty", name("topic")))
	}
	if len(c.Streams) == 0 {
		errs = append(errs, fmt.Errorf("%s: at least one stream is required", name("streams")))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("%s: must be at least 1", name("max_batch")))
	}
	return errors.Join(errs...)
}

// upstream is the in-memory event store one test's sources read: per
// stream, numbered events; the event at index i has sequence number i+1,
// which is its position.
type upstream struct {
	mu      sync.Mutex
	events  map[string][][]byte
	streams []string
	next    int           // round-robin cursor of produce
	changed chan struct{} // closed and replaced on every change
	gen     int           // connection generation; a disconnect bumps it
	// lastRead is the highest sequence any instance read per stream: a
	// server-side cursor that a correct source never resumes from.
	lastRead map[string]int
}

func newUpstream(streams []string) *upstream {
	return &upstream{events: map[string][][]byte{}, streams: streams, changed: make(chan struct{}), lastRead: map[string]int{}}
}

func (u *upstream) notify() {
	close(u.changed)
	u.changed = make(chan struct{})
}

func (u *upstream) produce(n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for range n {
		s := u.streams[u.next%len(u.streams)]
		u.next++
		seq := len(u.events[s]) + 1
		u.events[s] = append(u.events[s], fmt.Appendf(nil, `{"stream":%q,"seq":%d}`, s, seq))
	}
	u.notify()
}

func (u *upstream) disconnect() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.gen++
	u.notify()
}

// refSource is the reference in-memory source.
type refSource struct {
	cfg refSourceConfig
	up  *upstream
	bug sourceBug

	mu        sync.Mutex
	next      map[string]int // index of the next event to deliver, per stream
	acked     map[string]int // last acked sequence, per stream
	gen       int
	closed    chan struct{}
	closeOnce sync.Once
	closes    int
}

func newRefSource(cfg refSourceConfig, up *upstream, bug sourceBug) (*refSource, error) {
	if err := cfg.validate(bug); err != nil {
		return nil, fmt.Errorf("configure source: %w", err)
	}
	return &refSource{cfg: cfg, up: up, bug: bug, next: map[string]int{}, acked: map[string]int{}, closed: make(chan struct{})}, nil
}

// parsePosition returns the sequence number of p, or an error if p is not
// one of the stream's events.
func parsePosition(p connectorlib.Position, have int) (int, error) {
	seq, err := strconv.Atoi(string(p))
	if err != nil {
		return 0, fmt.Errorf("parse position %q: %w", p, err)
	}
	if seq < 1 || seq > have {
		return 0, fmt.Errorf("position %d is not in the stream (1..%d)", seq, have)
	}
	return seq, nil
}

func (s *refSource) Open(_ context.Context, from connectorlib.Positions) error {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen = s.up.gen
	for _, st := range s.cfg.Streams {
		have := len(s.up.events[st])
		p, ok := from[st]
		switch {
		case s.bug == srcResumeFromLastRead:
			s.next[st] = s.up.lastRead[st]
			continue
		case !ok || s.bug == srcIgnoreFrom:
			s.next[st] = 0
			continue
		}
		seq, err := parsePosition(p, have)
		if err == nil {
			s.next[st] = seq
			s.acked[st] = seq
			if s.bug == srcSkipOnResume && seq < have {
				s.next[st]++
			}
			continue
		}
		policy := s.cfg.OnInvalidPosition
		if s.bug == srcInvalidSilentLatest {
			policy = conformance.InvalidPositionLatest
		}
		switch policy {
		case conformance.InvalidPositionEarliest:
			s.next[st] = 0
		case conformance.InvalidPositionLatest:
			s.next[st] = have
		default:
			err = fmt.Errorf("open stream %s: invalid position: %w", st, err)
			if s.bug == srcInvalidRetryable {
				return err
			}
			return connectorlib.Permanent(err)
		}
	}
	if s.bug == srcLeakGoroutine {
		go func() {
			for {
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	return nil
}

var errClosed = errors.New("read: source closed")

// take returns up to the batch bound of events, round-robin over streams
// and in order within each; the caller holds both locks.
func (s *refSource) take() []connectorlib.Record {
	limit := s.cfg.MaxBatch
	if s.bug == srcOversizedBatch {
		limit = 2 * s.cfg.MaxBatch
	}
	var out []connectorlib.Record
	for progressed := true; progressed && len(out) < limit; {
		progressed = false
		for _, st := range s.cfg.Streams {
			i := s.next[st]
			if len(out) == limit || i >= len(s.up.events[st]) {
				continue
			}
			out = append(out, connectorlib.Record{
				Stream:   st,
				Position: connectorlib.Position(strconv.Itoa(i + 1)),
				Topic:    s.cfg.Topic,
				Key:      []byte(st),
				Value:    s.up.events[st][i],
			})
			s.next[st] = i + 1
			s.up.lastRead[st] = max(s.up.lastRead[st], i+1)
			progressed = true
		}
	}
	return out
}

func (s *refSource) Read(ctx context.Context) ([]connectorlib.Record, error) {
	done, closed := ctx.Done(), s.closed
	if s.bug == srcReadIgnoresCancel {
		done = nil
	}
	if s.bug == srcCloseLeavesRead {
		closed = nil
	}
	for {
		if s.bug != srcReadIgnoresCancel && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		select {
		case <-s.closed:
			return nil, errClosed
		default:
		}
		s.up.mu.Lock()
		s.mu.Lock()
		if s.gen != s.up.gen {
			if s.bug != srcDropOnDisconnect {
				s.mu.Unlock()
				s.up.mu.Unlock()
				return nil, connectorlib.Retryable(errors.New("read: upstream connection reset"))
			}
			// The bug: reconnect at the tip, silently losing what was
			// produced while disconnected.
			s.gen = s.up.gen
			for _, st := range s.cfg.Streams {
				s.next[st] = len(s.up.events[st])
			}
		}
		recs := s.take()
		wait := s.up.changed
		s.mu.Unlock()
		s.up.mu.Unlock()
		if len(recs) > 0 {
			return recs, nil
		}
		if s.bug == srcEmptyBatch {
			return nil, nil
		}
		select {
		case <-done:
			return nil, ctx.Err()
		case <-closed:
			return nil, errClosed
		case <-wait:
		}
	}
}

func (s *refSource) Ack(_ context.Context, stream string, upTo connectorlib.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, err := strconv.Atoi(string(upTo))
	if err != nil {
		return fmt.Errorf("ack %s: parse position %q: %w", stream, upTo, err)
	}
	// The contract: positions only move forward, and only over delivered
	// records.
	if seq < s.acked[stream] || seq > s.next[stream] {
		return fmt.Errorf("ack %s at %d: last ack %d, next unread %d", stream, seq, s.acked[stream], s.next[stream]+1)
	}
	s.acked[stream] = seq
	return nil
}

func (s *refSource) Close(context.Context) error {
	s.mu.Lock()
	s.closes++
	n := s.closes
	s.mu.Unlock()
	if s.bug == srcCloseTwiceFails && n > 1 {
		return errors.New("close: already closed")
	}
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

// refSourceDriver drives the reference source for the conformance suite.
type refSourceDriver struct {
	bug      sourceBug
	features conformance.SourceFeatures

	mu        sync.Mutex
	upstreams map[string]*upstream // by UniqueName of the test
}

var refStreams = []string{"orders", "invoices"}

func newRefSourceDriver(bug sourceBug, policy conformance.InvalidPositionPolicy) *refSourceDriver {
	f := conformance.SourceFeatures{
		Replay:            true,
		OrderedPerStream:  true,
		OnInvalidPosition: policy,
		MaxBatch:          3,
		Timeout:           time.Second,
	}
	switch bug {
	case srcNoMaxBatch:
		f.MaxBatch = 0
	case srcNoPolicy:
		f.OnInvalidPosition = conformance.InvalidPositionUndeclared
	}
	return &refSourceDriver{bug: bug, features: f, upstreams: map[string]*upstream{}}
}

func (d *refSourceDriver) upstream(t *testing.T) *upstream {
	name := conformance.UniqueName(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.upstreams[name]
	if u == nil {
		u = newUpstream(refStreams)
		d.upstreams[name] = u
		t.Cleanup(func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			delete(d.upstreams, name)
		})
	}
	return u
}

func (d *refSourceDriver) config() refSourceConfig {
	return refSourceConfig{
		Topic:             "sf.events",
		Streams:           refStreams,
		MaxBatch:          max(d.features.MaxBatch, 3),
		OnInvalidPosition: d.features.OnInvalidPosition,
	}
}

func (d *refSourceDriver) Features() conformance.SourceFeatures { return d.features }

func (d *refSourceDriver) NewSource(t *testing.T) connectorlib.Source {
	src, err := newRefSource(d.config(), d.upstream(t), d.bug)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func (d *refSourceDriver) Produce(t *testing.T, n int) { d.upstream(t).produce(n) }

func (d *refSourceDriver) Inject(t *testing.T, f conformance.Fault) bool {
	if f != conformance.FaultDisconnectOnce {
		return false
	}
	d.upstream(t).disconnect()
	return true
}

func (d *refSourceDriver) InvalidPosition(*testing.T) connectorlib.Positions {
	return connectorlib.Positions{refStreams[0]: connectorlib.Position("expired-replay-id")}
}

func (d *refSourceDriver) Configs() []conformance.ConfigCase {
	build := func(mutate func(*refSourceConfig)) func(t *testing.T) error {
		return func(t *testing.T) error {
			cfg := d.config()
			mutate(&cfg)
			_, err := newRefSource(cfg, d.upstream(t), d.bug)
			return err
		}
	}
	return []conformance.ConfigCase{
		{Name: "topic", Build: build(func(c *refSourceConfig) { c.Topic = "" }), WantErr: "topic"},
		{Name: "streams", Build: build(func(c *refSourceConfig) { c.Streams = nil }), WantErr: "streams"},
		{Name: "max_batch", Build: build(func(c *refSourceConfig) { c.MaxBatch = 0 }), WantErr: "max_batch"},
	}
}
