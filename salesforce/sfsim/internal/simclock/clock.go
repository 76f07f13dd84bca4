// Package simclock is the simulator's clock: real time plus an offset that
// tests advance, for example past the event retention window.
package simclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use. The zero value runs at real time.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the simulated time forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
