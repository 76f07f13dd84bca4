package connectorlib

import (
	"context"
	"sync"
)

// Checkpoint tracks in-flight source records per stream and yields, for
// each stream, the position of the longest contiguous prefix of resolved
// records. An unresolved record is never passed: if records 1, 2 and 4 are
// resolved and 3 is not, the checkpoint stays at 2.
//
// It also bounds the number of tracked records across all streams: Track
// blocks while the bound is reached, which gives the source backpressure.
// Checkpoint is safe for concurrent use.
type Checkpoint struct {
	slots chan struct{} // one token per tracked, not yet released record

	mu      sync.Mutex
	streams map[string]*streamTrack
}

type streamTrack struct {
	base     uint64 // sequence number of entries[0]
	entries  []checkpointEntry
	highest  Position // position of the contiguous resolved prefix
	advanced bool     // highest moved since the last TakeAdvanced
}

type checkpointEntry struct {
	pos  Position
	done bool
}

// Ticket identifies one tracked record; pass it to Resolve.
type Ticket struct {
	stream string
	seq    uint64
}

// NewCheckpoint returns a Checkpoint that tracks at most maxInFlight
// records at once (at least 1).
func NewCheckpoint(maxInFlight int) *Checkpoint {
	if maxInFlight < 1 {
		maxInFlight = 1
	}
	return &Checkpoint{
		slots:   make(chan struct{}, maxInFlight),
		streams: map[string]*streamTrack{},
	}
}

// Track registers the next record of stream, at position pos, blocking while
// the in-flight bound is reached. Records of one stream must be tracked in
// stream order.
func (c *Checkpoint) Track(ctx context.Context, stream string, pos Position) (Ticket, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return Ticket{}, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[stream]
	if st == nil {
		st = &streamTrack{}
		c.streams[stream] = st
	}
	t := Ticket{stream: stream, seq: st.base + uint64(len(st.entries))}
	st.entries = append(st.entries, checkpointEntry{pos: pos})
	return t, nil
}

// Resolve marks the record of t as durably written. Resolving a ticket twice
// is harmless.
func (c *Checkpoint) Resolve(t Ticket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[t.stream]
	if st == nil || t.seq < st.base || t.seq >= st.base+uint64(len(st.entries)) {
		return
	}
	st.entries[t.seq-st.base].done = true
	// Invariant: only a contiguous prefix of resolved records advances.
	n := 0
	for n < len(st.entries) && st.entries[n].done {
		n++
	}
	if n == 0 {
		return
	}
	st.highest = st.entries[n-1].pos
	st.advanced = true
	clear(st.entries[:n])
	st.entries = st.entries[n:]
	st.base += uint64(n)
	for range n {
		<-c.slots
	}
}

// TakeAdvanced returns the streams whose contiguous position moved since the
// previous call, with their new positions.
func (c *Checkpoint) TakeAdvanced() Positions {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out Positions
	for name, st := range c.streams {
		if !st.advanced {
			continue
		}
		if out == nil {
			out = Positions{}
		}
		out[name] = st.highest
		st.advanced = false
	}
	return out
}

// InFlight returns how many records are tracked and not yet released.
func (c *Checkpoint) InFlight() int { return len(c.slots) }
