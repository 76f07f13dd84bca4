package source

import (
	"context"
	"sync"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// byteGate bounds the bytes of the records waiting between the channel
// goroutines and Read. The queue's batch count alone would let large
// platform events (up to 1 MB each) pile up gigabytes; the gate blocks an
// emitting channel until Read has taken enough out. A batch larger than
// the whole bound still passes when nothing else is waiting, so no batch
// can wait forever.
type byteGate struct {
	max int

	mu    sync.Mutex
	used  int
	freed chan struct{} // closed and replaced whenever bytes are released
}

// defaultQueueMaxBytes is SOURCE_QUEUE_MAX_BYTES when unset (a Config built
// in code leaves it zero).
const defaultQueueMaxBytes = 32 << 20

func newByteGate(max int) *byteGate {
	if max <= 0 {
		max = defaultQueueMaxBytes
	}
	return &byteGate{max: max, freed: make(chan struct{})}
}

// acquire waits until n more bytes fit, or ctx is done (false).
func (g *byteGate) acquire(ctx context.Context, n int) bool {
	for {
		g.mu.Lock()
		if g.used == 0 || g.used+n <= g.max {
			g.used += n
			g.mu.Unlock()
			return true
		}
		freed := g.freed
		g.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		}
	}
}

// release returns n bytes.
func (g *byteGate) release(n int) {
	g.mu.Lock()
	g.used -= n
	close(g.freed)
	g.freed = make(chan struct{})
	g.mu.Unlock()
}

// inUse returns the bytes held.
func (g *byteGate) inUse() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used
}

// queuedBatch is a batch in the queue with the bytes it holds against the
// gate, counted once when it is queued.
type queuedBatch struct {
	recs []connectorlib.Record
	size int
}

// batchSize is the bytes a batch of records holds against the gate.
func batchSize(recs []connectorlib.Record) int {
	n := 0
	for i := range recs {
		n += recs[i].Size()
	}
	return n
}
