package sfsim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// RetryPolicy is how a sender retries a delivery that failed: after
// Initial, then doubling up to Max between attempts, giving up on a
// notification GiveUpAfter after it was queued. Timeout bounds one attempt.
// The zero value is Salesforce's Outbound Message behaviour: attempts time
// out after 60 s, retries back off exponentially to at most 2 hours apart,
// and a notification is dropped when it is 24 hours old (Salesforce
// documents the cap, the age limit and the timeout; the 15 s first delay
// is this simulator's choice). Tests shrink the durations.
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	GiveUpAfter time.Duration
	Timeout     time.Duration
}

// Salesforce's Outbound Message delivery limits (RetryPolicy's zero value).
const (
	outboundFirstRetry = 15 * time.Second
	outboundMaxRetry   = 2 * time.Hour
	outboundGiveUp     = 24 * time.Hour
	outboundTimeout    = 60 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = outboundFirstRetry
	}
	if p.Max <= 0 {
		p.Max = outboundMaxRetry
	}
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = outboundGiveUp
	}
	if p.Timeout <= 0 {
		p.Timeout = outboundTimeout
	}
	return p
}

// delay returns the wait before attempt number n+1 after n failures.
func (p RetryPolicy) delay(failures int) time.Duration {
	d := p.Initial
	for i := 1; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Delivery is one delivery attempt a sender made, for tests to inspect.
type Delivery struct {
	At time.Time
	// IDs are the notification or event ids the attempt carried.
	IDs []string
	// Status is the HTTP status (0 when the request failed).
	Status int
	// OK tells whether the receiver acknowledged the attempt.
	OK bool
	// Err is the transport error or the reason the reply was not an
	// acknowledgement.
	Err string
}

// SenderStats are a sender's counters.
type SenderStats struct {
	// Queued counts notifications (or callout jobs) queued so far.
	Queued int
	// Delivered counts those acknowledged.
	Delivered int
	// Dropped counts those given up on.
	Dropped int
	// Pending is how many wait for delivery now.
	Pending int
	// Attempts and Failures count delivery attempts and failed ones.
	Attempts, Failures int
}

// senderQueue is what the Outbound Message sender and the webhook emitter
// both keep: the items waiting for delivery, the counters, every delivery
// attempt, and the condition WaitIdle waits on. Its methods are theirs.
type senderQueue[T any] struct {
	mu         sync.Mutex
	pending    []T
	stats      SenderStats
	deliveries []Delivery
	idle       *sync.Cond
}

// Stats returns the sender's counters.
func (q *senderQueue[T]) Stats() SenderStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.stats
	st.Pending = len(q.pending)
	return st
}

// Deliveries returns every delivery attempt so far, in order.
func (q *senderQueue[T]) Deliveries() []Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.deliveries)
}

// WaitIdle blocks until nothing is pending or ctx is done.
func (q *senderQueue[T]) WaitIdle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.idle.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) > 0 && ctx.Err() == nil {
		q.idle.Wait()
	}
	return ctx.Err()
}

// senders stops the Sim's senders on Close.
type senders struct {
	mu     sync.Mutex
	closed bool
	stops  []func()
}

func (ss *senders) add(stop func()) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return fmt.Errorf("sfsim: closed")
	}
	ss.stops = append(ss.stops, stop)
	return nil
}

func (ss *senders) close() {
	ss.mu.Lock()
	stops := ss.stops
	ss.stops, ss.closed = nil, true
	ss.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}

// idSeq makes 18-character ids of a key prefix, the way the org does.
type idSeq struct {
	mu     sync.Mutex
	prefix string
	n      uint64
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func (q *idSeq) next() string {
	q.mu.Lock()
	q.n++
	n := q.n
	q.mu.Unlock()
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = base62[n%62]
		n /= 62
	}
	id, _ := org.NormalizeID(q.prefix + "8a0" + string(digits[:]))
	return id
}

// apiName reports whether s is a plausible sObject or field API name.
func apiName(s string) bool {
	if s == "" {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0
}
