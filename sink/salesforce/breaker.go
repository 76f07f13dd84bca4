package salesforce

import (
	"sync"
	"time"
)

// maxCooldownDoublings caps how often the breaker's cooldown doubles while
// trial calls keep failing.
const maxCooldownDoublings = 10

// breaker is a circuit breaker over Salesforce's throttling and
// unavailability answers (REQUEST_LIMIT_EXCEEDED, 429, 503). After
// `failures` of them in a row it opens: calls are refused without reaching
// Salesforce for the cooldown, then one trial call is let through. A
// trial that fails again reopens it with twice the cooldown. Any other
// answer closes it. The runner's exponential backoff spaces the retries of
// a batch; the breaker stops every batch of every partition from
// hammering an org that is out of budget or down. Safe for concurrent use.
type breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu        sync.Mutex
	streak    int
	doublings int
	openUntil time.Time
	trial     bool // a trial call is in flight
}

func newBreaker(failures int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{failures: failures, cooldown: cooldown, now: now}
}

// allow reports whether a call may go out now, and if not, how long until
// it may.
func (b *breaker) allow() (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true, 0
	}
	if wait := b.openUntil.Sub(b.now()); wait > 0 {
		return false, wait
	}
	if b.trial {
		return false, b.cooldown
	}
	b.trial = true
	return true, 0
}

// result records the outcome of a call that allow let through; overload
// is true for a throttling or unavailability answer.
func (b *breaker) result(overload bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wasTrial := b.trial
	b.trial = false
	if !overload {
		b.streak, b.doublings, b.openUntil = 0, 0, time.Time{}
		return
	}
	b.streak++
	switch {
	case wasTrial:
		b.doublings = min(b.doublings+1, maxCooldownDoublings)
	case b.streak < b.failures:
		return
	}
	b.openUntil = b.now().Add(b.cooldown << b.doublings)
}

// open reports whether the breaker currently refuses calls.
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero() && b.now().Before(b.openUntil)
}
