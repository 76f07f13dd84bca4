package connectorlib

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// delaySamples draws Delay(n) often enough to see both ends of its jitter.
const delaySamples = 500

func TestBackoff_Delay_StaysWithinJitterBounds(t *testing.T) {
	t.Parallel()
	b := Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second}
	for n := 1; n <= 12; n++ {
		// The documented bound: d = Initial * 2^(n-1), capped at Max,
		// and a delay in [d/2, d].
		d := min(b.Initial<<(n-1), b.Max)
		for range delaySamples {
			got := b.Delay(n)
			if got < d/2 || got > d {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", n, got, d/2, d)
			}
		}
	}
}

func TestBackoff_Delay_GrowsUntilCapped(t *testing.T) {
	t.Parallel()
	b := Backoff{Initial: 10 * time.Millisecond, Max: 640 * time.Millisecond}
	mean := func(n int) time.Duration {
		var sum time.Duration
		for range delaySamples {
			sum += b.Delay(n)
		}
		return sum / delaySamples
	}
	prev := mean(1)
	for n := 2; n <= 7; n++ { // 10ms * 2^6 = 640ms reaches the cap at n = 7
		cur := mean(n)
		// Each uncapped step doubles the range [d/2, d], so the mean
		// doubles too; 1.5x leaves room for jitter.
		if cur < prev*3/2 {
			t.Fatalf("mean Delay(%d) = %s, not growing from mean Delay(%d) = %s", n, cur, n-1, prev)
		}
		prev = cur
	}
	for _, n := range []int{8, 20, 62, 1000} {
		if got := b.Delay(n); got > b.Max || got < b.Max/2 {
			t.Fatalf("capped Delay(%d) = %s, want within [%s, %s]", n, got, b.Max/2, b.Max)
		}
	}
}

func TestBackoff_Delay_DefaultsInitial(t *testing.T) {
	t.Parallel()
	for range delaySamples {
		if got := (Backoff{}).Delay(1); got < 50*time.Millisecond || got > 100*time.Millisecond {
			t.Fatalf("zero Backoff Delay(1) = %s, want within [50ms, 100ms]", got)
		}
	}
}

// TestBackoff_Delay_UncappedDoesNotOverflow covers Max <= 0, which Delay
// treats as "no cap": doubling Initial must not overflow into a negative
// or zero delay (or a panic in the jitter draw) for many attempts.
func TestBackoff_Delay_UncappedDoesNotOverflow(t *testing.T) {
	t.Parallel()
	for _, n := range []int{30, 40, 64, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Backoff{Initial: 100ms}.Delay(%d) panicked: %v", n, r)
				}
			}()
			b := Backoff{Initial: 100 * time.Millisecond}
			if got := b.Delay(n); got < 100*time.Millisecond {
				t.Fatalf("Backoff{Initial: 100ms}.Delay(%d) = %s: the uncapped delay overflowed", n, got)
			}
		})
	}
}

func TestBackoff_Exhausted_Table(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name     string
		b        Backoff
		attempts int
		start    time.Time
		want     bool
	}{
		{"NoBounds", Backoff{}, 1000, now.Add(-time.Hour), false},
		{"BelowMaxAttempts", Backoff{MaxAttempts: 3}, 2, now, false},
		{"AtMaxAttempts", Backoff{MaxAttempts: 3}, 3, now, true},
		{"PastMaxAttempts", Backoff{MaxAttempts: 3}, 4, now, true},
		{"OneAttemptBudget", Backoff{MaxAttempts: 1}, 1, now, true},
		{"WithinMaxElapsed", Backoff{MaxElapsed: time.Minute}, 50, now, false},
		{"PastMaxElapsed", Backoff{MaxElapsed: time.Second}, 1, now.Add(-2 * time.Second), true},
		{"ElapsedBeforeAttempts", Backoff{MaxAttempts: 10, MaxElapsed: time.Second}, 2, now.Add(-2 * time.Second), true},
		{"AttemptsBeforeElapsed", Backoff{MaxAttempts: 2, MaxElapsed: time.Hour}, 2, now, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.b.Exhausted(tc.attempts, tc.start); got != tc.want {
				t.Errorf("%+v.Exhausted(%d, start %s ago) = %v, want %v", tc.b, tc.attempts, time.Since(tc.start).Round(time.Second), got, tc.want)
			}
		})
	}
}

func TestBackoff_Sleep_WaitsOrStops(t *testing.T) {
	t.Parallel()
	start := time.Now()
	if err := sleep(context.Background(), 30*time.Millisecond); err != nil {
		t.Fatalf("sleep: %v", err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("sleep(30ms) returned after %s", el)
	}
	if err := sleep(context.Background(), 0); err != nil {
		t.Fatalf("sleep(0) on a live context: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	start = time.Now()
	if err := sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("sleep took %s to notice the cancellation", el)
	}
	if err := sleep(ctx, 0); err != context.Canceled {
		t.Fatalf("sleep(0) on a done context = %v, want context.Canceled", err)
	}
}
