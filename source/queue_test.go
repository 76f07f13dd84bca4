package source

import (
	"context"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

func TestByteGate_BlocksUntilReleased(t *testing.T) {
	t.Parallel()
	g := newByteGate(100)
	ctx := context.Background()
	if !g.acquire(ctx, 60) {
		t.Fatal("first acquire failed")
	}
	got := make(chan bool, 1)
	go func() { got <- g.acquire(ctx, 60) }()
	select {
	case <-got:
		t.Fatal("120 bytes admitted under a 100-byte bound")
	case <-time.After(50 * time.Millisecond):
	}
	g.release(60)
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("acquire failed after release")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("acquire still blocked after release")
	}
	if g.inUse() != 60 {
		t.Fatalf("%d bytes in use, want 60", g.inUse())
	}
}

func TestByteGate_OversizeBatchPassesAlone(t *testing.T) {
	t.Parallel()
	g := newByteGate(100)
	if !g.acquire(context.Background(), 1000) {
		t.Fatal("a batch larger than the bound must pass when nothing waits")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if g.acquire(ctx, 1) {
		t.Fatal("admitted while an oversize batch is held")
	}
}

// A source whose reader is slow holds at most the byte bound (plus one
// batch) in its queue, however many batches the count bound allows.
func TestSource_Emit_BoundedByBytes(t *testing.T) {
	t.Parallel()
	s := &Source{cfg: Config{QueueMaxBytes: 64 << 10}}
	s.queue = make(chan queuedBatch, queueDepth)
	s.bytes = newByteGate(int(s.cfg.QueueMaxBytes))
	s.closed = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	emitted := make(chan int, 1)
	go func() {
		n := 0
		for n < 40 {
			rec := connectorlib.Record{Topic: "t", Key: []byte("k"), Value: make([]byte, 16<<10)}
			if !s.emit(ctx, []connectorlib.Record{rec}) {
				break
			}
			n++
		}
		emitted <- n
	}()
	time.Sleep(100 * time.Millisecond)
	if used := s.bytes.inUse(); used > 64<<10 {
		t.Fatalf("%d bytes queued under a 64 KiB bound", used)
	}
	if q := len(s.queue); q != 3 {
		t.Fatalf("%d batches of 16 KiB queued, want 3 (the fourth would pass 64 KiB)", q)
	}
	for read := 0; read < 40; read++ {
		if _, err := s.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := <-emitted; n != 40 {
		t.Fatalf("emitted %d of 40", n)
	}
	if used := s.bytes.inUse(); used != 0 {
		t.Fatalf("%d bytes still held after every batch was read", used)
	}
}
