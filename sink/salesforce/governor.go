package salesforce

import (
	"context"
	"sync"
	"time"
)

// governor slows the sink down before the org's daily API budget is spent.
// Salesforce reports the org-wide usage on every REST answer
// (Sforce-Limit-Info: api-usage=used/max). While the remaining requests are
// more than the reserve (a share of max), calls go out freely; inside the
// reserve, at most one call per interval, so that the rest of the budget
// stays for the org's other integrations and users, and records are
// batched more (a slower sink coalesces more changes per call). Safe for
// concurrent use.
type governor struct {
	percent  int
	interval time.Duration
	now      func() time.Time

	mu        sync.Mutex
	used, max int
	known     bool
	next      time.Time // earliest time of the next call inside the reserve
}

func newGovernor(percent int, interval time.Duration, now func() time.Time) *governor {
	return &governor{percent: percent, interval: interval, now: now}
}

// observe records the usage an answer reported.
func (g *governor) observe(used, max int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.used, g.max, g.known = used, max, true
}

// inReserveLocked reports whether the remaining budget is inside the
// reserve; g.mu is held.
func (g *governor) inReserveLocked() bool {
	return g.known && g.percent > 0 && g.max > 0 && (g.max-g.used)*100 <= g.max*g.percent
}

// wait blocks until a call may go out, returning ctx's error if ctx ends
// first.
func (g *governor) wait(ctx context.Context) error {
	g.mu.Lock()
	if !g.inReserveLocked() {
		g.mu.Unlock()
		return nil
	}
	now := g.now()
	at := g.next
	if at.Before(now) {
		at = now
	}
	g.next = at.Add(g.interval)
	g.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return nil
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
