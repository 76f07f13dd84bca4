package connectorlib

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// numberSource emits events 0..total-1 over several streams: stream s emits
// the events e with e % streams == s, in increasing order. The position of
// an event is its index within its stream. After the last event Read blocks
// until ctx is done.
type numberSource struct {
	topic   string
	streams int
	total   int
	batch   int
	keys    int
	// pace, when set, spaces batches so that a run lasts long enough for
	// kills to land at many different positions.
	pace time.Duration
	// progress, when set, is called with the number of acked events after
	// Open and after every Ack.
	progress func(acked int)

	mu     sync.Mutex
	next   []int // next index per stream
	acked  []int // last acked index per stream, -1 for none
	closed chan struct{}
	once   sync.Once
	ackErr error
}

func newNumberSource(topic string, streams, total, batch, keys int) *numberSource {
	return &numberSource{topic: topic, streams: streams, total: total, batch: batch, keys: keys,
		closed: make(chan struct{})}
}

func streamName(s int) string { return "numbers-" + strconv.Itoa(s) }

func (n *numberSource) Open(_ context.Context, from Positions) error {
	n.next = make([]int, n.streams)
	n.acked = make([]int, n.streams)
	for s := range n.streams {
		n.acked[s] = -1
		if p, ok := from[streamName(s)]; ok {
			i, err := strconv.Atoi(string(p))
			if err != nil {
				return Permanent(fmt.Errorf("parse position %q: %w", p, err))
			}
			n.next[s] = i + 1
			n.acked[s] = i
		}
	}
	n.report()
	return nil
}

// report passes the acked count to progress; the caller holds mu or is the
// only goroutine.
func (n *numberSource) report() {
	if n.progress == nil {
		return
	}
	total := 0
	for s := range n.streams {
		total += n.acked[s] + 1
	}
	n.progress(total)
}

func (n *numberSource) event(s, i int) int { return i*n.streams + s }

func (n *numberSource) Read(ctx context.Context) ([]Record, error) {
	if n.pace > 0 {
		if err := sleep(ctx, n.pace); err != nil {
			return nil, err
		}
	}
	n.mu.Lock()
	var out []Record
	for len(out) < n.batch {
		progressed := false
		for s := 0; s < n.streams && len(out) < n.batch; s++ {
			e := n.event(s, n.next[s])
			if e >= n.total {
				continue
			}
			out = append(out, Record{
				Stream:   streamName(s),
				Position: Position(strconv.Itoa(n.next[s])),
				Topic:    n.topic,
				Key:      []byte(fmt.Sprintf("key-%03d", e%n.keys)),
				Value:    []byte(strconv.Itoa(e)),
				Headers:  []Header{{Key: "stream", Value: []byte(streamName(s))}},
			})
			n.next[s]++
			progressed = true
		}
		if !progressed {
			break
		}
	}
	n.mu.Unlock()
	if len(out) > 0 {
		return out, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.closed:
		return nil, fmt.Errorf("read: source closed")
	}
}

func (n *numberSource) Ack(_ context.Context, stream string, upTo Position) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	i, err := strconv.Atoi(string(upTo))
	if err != nil {
		return err
	}
	for s := range n.streams {
		if streamName(s) != stream {
			continue
		}
		if i < n.acked[s] || i >= n.next[s] {
			n.ackErr = fmt.Errorf("ack %s at %d: last ack %d, next unread %d", stream, i, n.acked[s], n.next[s])
			return n.ackErr
		}
		n.acked[s] = i
		n.report()
		return nil
	}
	return fmt.Errorf("ack of unknown stream %s", stream)
}

func (n *numberSource) Close(context.Context) error {
	n.once.Do(func() { close(n.closed) })
	return nil
}
