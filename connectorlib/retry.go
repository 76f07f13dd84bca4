package connectorlib

import (
	"context"
	"math/rand/v2"
	"time"
)

// maxUncappedDelay bounds a delay when Backoff.Max is unset, so doubling
// never overflows.
const maxUncappedDelay = 24 * time.Hour

// Backoff computes exponential delays with half jitter and bounds the
// number of attempts and the total time spent retrying (the retry budget).
type Backoff struct {
	// Initial is the base delay before the second attempt.
	Initial time.Duration
	// Max caps a single delay.
	Max time.Duration
	// MaxAttempts bounds the attempts, the first included; 0 means no bound.
	MaxAttempts int
	// MaxElapsed bounds the time from the first attempt; 0 means no bound.
	MaxElapsed time.Duration
}

// Delay returns the delay before attempt n+1 after n failed attempts
// (n >= 1): a random duration in [d/2, d] where d = Initial * 2^(n-1),
// capped at Max. Half jitter keeps retries from synchronising across tasks
// while still growing.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Initial
	if d <= 0 {
		d = 100 * time.Millisecond
	}
	limit := b.Max
	if limit <= 0 {
		limit = maxUncappedDelay
	}
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	if d > limit {
		d = limit
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// Exhausted reports whether the budget is spent after attempts failed
// attempts that started at start.
func (b Backoff) Exhausted(attempts int, start time.Time) bool {
	if b.MaxAttempts > 0 && attempts >= b.MaxAttempts {
		return true
	}
	return b.MaxElapsed > 0 && time.Since(start) >= b.MaxElapsed
}

// sleep waits for d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
