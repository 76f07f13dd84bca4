package connectorlib

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func pos(n int) Position { return Position(strconv.Itoa(n)) }

func TestCheckpoint_Resolve_OutOfOrderDoesNotAdvance(t *testing.T) {
	t.Parallel()
	c := NewCheckpoint(10)
	ctx := context.Background()
	var ts []Ticket
	for i := 1; i <= 5; i++ {
		tk, err := c.Track(ctx, "s", pos(i))
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tk)
	}
	c.Resolve(ts[1])
	c.Resolve(ts[3])
	if got := c.TakeAdvanced(); got != nil {
		t.Fatalf("advanced past unresolved record 1: %v", got)
	}
	c.Resolve(ts[0])
	if got := string(c.TakeAdvanced()["s"]); got != "2" {
		t.Fatalf("want position 2 (3 unresolved), got %q", got)
	}
	c.Resolve(ts[2])
	if got := string(c.TakeAdvanced()["s"]); got != "4" {
		t.Fatalf("want position 4, got %q", got)
	}
	if got := c.TakeAdvanced(); got != nil {
		t.Fatalf("nothing moved, yet advanced %v", got)
	}
	c.Resolve(ts[4])
	c.Resolve(ts[4])
	if got := string(c.TakeAdvanced()["s"]); got != "5" {
		t.Fatalf("want position 5, got %q", got)
	}
	if c.InFlight() != 0 {
		t.Fatalf("in flight = %d, want 0", c.InFlight())
	}
}

func TestCheckpoint_Track_StreamsAreIndependent(t *testing.T) {
	t.Parallel()
	c := NewCheckpoint(10)
	ctx := context.Background()
	a1, _ := c.Track(ctx, "a", pos(1))
	b1, _ := c.Track(ctx, "b", pos(7))
	_, _ = c.Track(ctx, "a", pos(2))
	c.Resolve(b1)
	got := c.TakeAdvanced()
	if len(got) != 1 || string(got["b"]) != "7" {
		t.Fatalf("want only b at 7, got %v", got)
	}
	c.Resolve(a1)
	if got := string(c.TakeAdvanced()["a"]); got != "1" {
		t.Fatalf("want a at 1, got %q", got)
	}
}

func TestCheckpoint_Track_BlocksAtBound(t *testing.T) {
	t.Parallel()
	c := NewCheckpoint(2)
	ctx := context.Background()
	t1, _ := c.Track(ctx, "s", pos(1))
	_, _ = c.Track(ctx, "s", pos(2))
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.Track(short, "s", pos(3)); err == nil {
		t.Fatal("Track beyond the bound did not block")
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Track(ctx, "s", pos(3))
		done <- err
	}()
	c.Resolve(t1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Track stayed blocked after a slot was released")
	}
}
