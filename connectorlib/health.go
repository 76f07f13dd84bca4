package connectorlib

import (
	"sync"
	"sync/atomic"
)

// Health is the liveness and readiness state a runner reports to the
// operations server. Components register by name; the process is ready
// when every registered component is ready. Safe for concurrent use.
type Health struct {
	mu     sync.Mutex
	ready  map[string]bool
	failed atomic.Pointer[string]
}

// NewHealth returns an empty Health: live, and ready once every component
// that registers reports ready.
func NewHealth() *Health { return &Health{ready: map[string]bool{}} }

// SetReady sets whether component is ready to do its work.
func (h *Health) SetReady(component string, ready bool) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ready[component] = ready
}

// Ready reports whether every registered component is ready, and the names
// of those that are not.
func (h *Health) Ready() (bool, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var notReady []string
	for c, ok := range h.ready {
		if !ok {
			notReady = append(notReady, c)
		}
	}
	return len(h.ready) > 0 && len(notReady) == 0, notReady
}

// Fail marks the process as not live with a reason (a terminal error such
// as being fenced); liveness probes then fail and the orchestrator restarts
// it.
func (h *Health) Fail(reason string) {
	if h != nil {
		h.failed.Store(&reason)
	}
}

// Live reports whether the process is live, and if not why.
func (h *Health) Live() (bool, string) {
	if r := h.failed.Load(); r != nil {
		return false, *r
	}
	return true, ""
}
