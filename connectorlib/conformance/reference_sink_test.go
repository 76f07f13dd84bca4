package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/conformance"
)

// sinkBug selects a deliberately broken variant of the reference sink; ""
// is the correct one.
type sinkBug string

// The broken sink variants, each violating one contract.
const (
	sinkCorrect           sinkBug = ""
	sinkDropFailed        sinkBug = "drop_failed"        // skips a bad record and returns nil (Redpanda's allOrNone=false output)
	sinkWrongIndex        sinkBug = "wrong_index"        // BatchError names the index after the bad record
	sinkBadRetryable      sinkBug = "bad_retryable"      // a bad record's error is not marked permanent
	sinkWholeBatch        sinkBug = "whole_batch"        // a bad record fails the whole batch, nothing written
	sinkThrottlePermanent sinkBug = "throttle_permanent" // throttling is reported as a permanent error
	sinkAppend            sinkBug = "append"             // inserts instead of upserting: retries duplicate
	sinkCorruptValue      sinkBug = "corrupt_value"      // stores a truncated value
	sinkFirstWins         sinkBug = "first_wins"         // keeps an existing value instead of the newer one
	sinkCloseTwiceFails   sinkBug = "close_twice_fails"  // a second Close returns an error
	sinkWriteHangs        sinkBug = "write_hangs"        // Write hangs when throttled, ignoring its context
)

// target is the in-memory store one test's sinks write: a list of items,
// so that duplicates are visible.
type target struct {
	mu       sync.Mutex
	items    []conformance.Stored
	throttle int // writes still to throttle
}

// refSinkConfig configures the reference sink.
type refSinkConfig struct {
	// Container names the target container.
	Container string
}

// refSink is the reference in-memory sink: it upserts JSON values by
// record key and rejects values that are not JSON.
type refSink struct {
	cfg refSinkConfig
	tg  *target
	bug sinkBug

	mu     sync.Mutex
	closes int
}

func newRefSink(cfg refSinkConfig, tg *target, bug sinkBug) (*refSink, error) {
	if cfg.Container == "" {
		return nil, errors.New("configure sink: container: must not be empty")
	}
	return &refSink{cfg: cfg, tg: tg, bug: bug}, nil
}

func (s *refSink) Open(context.Context) error { return nil }

var errTooManyRequests = errors.New("429 too many requests")

func (s *refSink) Write(ctx context.Context, batch []connectorlib.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closes > 0
	s.mu.Unlock()
	if closed {
		return errors.New("write: sink closed")
	}
	s.tg.mu.Lock()
	defer s.tg.mu.Unlock()
	if s.tg.throttle > 0 {
		s.tg.throttle--
		err := fmt.Errorf("write batch to %s: %w", s.cfg.Container, errTooManyRequests)
		switch s.bug {
		case sinkThrottlePermanent:
			return connectorlib.Permanent(err)
		case sinkWriteHangs:
			select {} // hangs forever, ignoring ctx
		}
		return connectorlib.Throttled(err, 20*time.Millisecond)
	}
	invalid := func(r *connectorlib.Record) error {
		if len(r.Key) == 0 || !json.Valid(r.Value) {
			return connectorlib.PermanentCode("INVALID_JSON",
				fmt.Errorf("write record %s/%d@%d: value is not a JSON document", r.Topic, r.Partition, r.Offset))
		}
		return nil
	}
	if s.bug == sinkWholeBatch {
		for i := range batch {
			if err := invalid(&batch[i]); err != nil {
				return err
			}
		}
	}
	be := connectorlib.NewBatchError()
	for i := range batch {
		r := &batch[i]
		if err := invalid(r); err != nil {
			switch s.bug {
			case sinkDropFailed:
			case sinkWrongIndex:
				be.Add(i+1, err)
			case sinkBadRetryable:
				be.Add(i, errors.Unwrap(err))
			default:
				be.Add(i, err)
			}
			continue
		}
		s.upsert(r)
	}
	if be.Len() > 0 {
		return be
	}
	return nil
}

// upsert stores r by key; the caller holds the target's lock.
func (s *refSink) upsert(r *connectorlib.Record) {
	v := append([]byte(nil), r.Value...)
	if s.bug == sinkCorruptValue {
		v = v[:len(v)-1]
	}
	if s.bug != sinkAppend {
		for i := range s.tg.items {
			if s.tg.items[i].Key == string(r.Key) {
				if s.bug != sinkFirstWins {
					s.tg.items[i].Value = v
				}
				return
			}
		}
	}
	s.tg.items = append(s.tg.items, conformance.Stored{Key: string(r.Key), Value: v})
}

func (s *refSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	if s.bug == sinkCloseTwiceFails && s.closes > 1 {
		return errors.New("close: already closed")
	}
	return nil
}

// refSinkDriver drives the reference sink for the conformance suite.
type refSinkDriver struct {
	bug sinkBug

	mu      sync.Mutex
	targets map[string]*target // by UniqueName of the test
}

func newRefSinkDriver(bug sinkBug) *refSinkDriver {
	return &refSinkDriver{bug: bug, targets: map[string]*target{}}
}

func (d *refSinkDriver) target(t *testing.T) *target {
	name := conformance.UniqueName(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	tg := d.targets[name]
	if tg == nil {
		tg = &target{}
		d.targets[name] = tg
		t.Cleanup(func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			delete(d.targets, name)
		})
	}
	return tg
}

func (d *refSinkDriver) Features() conformance.SinkFeatures {
	return conformance.SinkFeatures{
		PartialBatchFailure: true,
		IdempotentWrites:    true,
		Throttling:          true,
		OrderedPerKey:       true,
		Timeout:             time.Second,
	}
}

func (d *refSinkDriver) NewSink(t *testing.T) connectorlib.Sink {
	s, err := newRefSink(refSinkConfig{Container: "accounts"}, d.target(t), d.bug)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (d *refSinkDriver) Records(t *testing.T, n int) []connectorlib.Record {
	recs := make([]connectorlib.Record, n)
	for i := range recs {
		recs[i] = connectorlib.Record{
			Topic:     "sf.accounts",
			Partition: 2,
			Offset:    100 + int64(i),
			Key:       fmt.Appendf(nil, "001%012d", i),
			Value:     fmt.Appendf(nil, `{"Name":"Account %d","n":%d}`, i, i),
		}
	}
	return recs
}

func (d *refSinkDriver) BadRecord(*testing.T) connectorlib.Record {
	return connectorlib.Record{Topic: "sf.accounts", Key: []byte("001bad"), Value: []byte("{not json")}
}

func (d *refSinkDriver) ReadBack(t *testing.T) []conformance.Stored {
	tg := d.target(t)
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]conformance.Stored(nil), tg.items...)
}

func (d *refSinkDriver) Inject(t *testing.T, f conformance.Fault) bool {
	if f != conformance.FaultThrottleOnce {
		return false
	}
	tg := d.target(t)
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.throttle++
	return true
}

func (d *refSinkDriver) Configs() []conformance.ConfigCase {
	return []conformance.ConfigCase{{
		Name: "container",
		Build: func(t *testing.T) error {
			_, err := newRefSink(refSinkConfig{}, d.target(t), d.bug)
			return err
		},
		WantErr: "container",
	}}
}
