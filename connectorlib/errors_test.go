package connectorlib

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestErrors_Classify_Table(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	tests := []struct {
		name          string
		err           error
		wantClass     Class
		wantRetryable bool
	}{
		{"Nil", nil, ClassRetryable, false},
		{"Unmarked", base, ClassRetryable, true},
		{"Permanent", Permanent(base), ClassPermanent, false},
		{"PermanentCode", PermanentCode("INVALID_FIELD", base), ClassPermanent, false},
		{"WrappedPermanent", fmt.Errorf("write account: %w", Permanent(base)), ClassPermanent, false},
		{"DoublyWrappedPermanent", fmt.Errorf("sink: %w", fmt.Errorf("write: %w", Permanent(base))), ClassPermanent, false},
		{"Retryable", Retryable(base), ClassRetryable, true},
		{"RetryableOverPermanent", Retryable(Permanent(base)), ClassRetryable, true},
		{"PermanentOverRetryable", Permanent(Retryable(base)), ClassPermanent, false},
		{"WrappedRetryableOverPermanent", fmt.Errorf("x: %w", Retryable(fmt.Errorf("y: %w", Permanent(base)))), ClassRetryable, true},
		{"Throttled", Throttled(base, time.Second), ClassThrottled, true},
		{"WrappedThrottled", fmt.Errorf("x: %w", Throttled(base, time.Second)), ClassThrottled, true},
		{"JoinedWithPermanent", errors.Join(base, Permanent(base)), ClassPermanent, false},
		{"ContextCanceled", context.Canceled, ClassRetryable, true},
		{"WrappedDeadline", fmt.Errorf("call: %w", context.DeadlineExceeded), ClassRetryable, true},
		{"Fenced", ErrFenced, ClassRetryable, false},
		{"WrappedFenced", fmt.Errorf("%w: %w", ErrFenced, kerr.ProducerFenced), ClassRetryable, false},
		{"FencedMarkedRetryable", Retryable(ErrFenced), ClassRetryable, false},
		{"KafkaRetriableIsUnmarked", kerr.NotLeaderForPartition, ClassRetryable, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tc.err); got != tc.wantClass {
				t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.wantClass)
			}
			if got := IsRetryable(tc.err); got != tc.wantRetryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.wantRetryable)
			}
		})
	}
}

func TestErrors_Markers_NilStaysNil(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"Permanent":     Permanent(nil),
		"PermanentCode": PermanentCode("X", nil),
		"Retryable":     Retryable(nil),
		"Throttled":     Throttled(nil, time.Second),
	} {
		if err != nil {
			t.Errorf("%s(nil) = %v, want nil", name, err)
		}
	}
}

func TestErrors_Markers_KeepMessageAndChain(t *testing.T) {
	t.Parallel()
	base := errors.New("400 bad request")
	for name, err := range map[string]error{
		"Permanent":     Permanent(base),
		"PermanentCode": PermanentCode("X", base),
		"Retryable":     Retryable(base),
		"Throttled":     Throttled(base, time.Second),
	} {
		if err.Error() != base.Error() {
			t.Errorf("%s changed the message to %q", name, err.Error())
		}
		if !errors.Is(err, base) {
			t.Errorf("%s hides the wrapped error from errors.Is", name)
		}
	}
	if !errors.Is(Permanent(context.Canceled), context.Canceled) {
		t.Error("Permanent hides a sentinel from errors.Is")
	}
}

func TestErrors_RetryAfter_Table(t *testing.T) {
	t.Parallel()
	base := errors.New("429")
	tests := []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{"Nil", nil, 0, false},
		{"Unmarked", base, 0, false},
		{"Throttled", Throttled(base, 1500*time.Millisecond), 1500 * time.Millisecond, true},
		{"ThrottledZero", Throttled(base, 0), 0, true},
		{"WrappedThrottled", fmt.Errorf("composite: %w", Throttled(base, 2*time.Second)), 2 * time.Second, true},
		{"Permanent", Permanent(base), 0, false},
		{"RetryableOverThrottled", Retryable(Throttled(base, time.Second)), 0, false},
		{"ThrottledOverPermanent", Throttled(Permanent(base), time.Second), time.Second, true},
		{"InBatchErrorIsNotSeen", func() error {
			be := NewBatchError()
			be.Add(0, Throttled(base, time.Second))
			return be
		}(), 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := RetryAfter(tc.err)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("RetryAfter(%v) = %s, %v; want %s, %v", tc.err, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestErrors_Code_Table(t *testing.T) {
	t.Parallel()
	base := errors.New("bad")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Nil", nil, ""},
		{"Unmarked", base, ""},
		{"PermanentWithoutCode", Permanent(base), ""},
		{"PermanentCode", PermanentCode("INVALID_FIELD", base), "INVALID_FIELD"},
		{"WrappedPermanentCode", fmt.Errorf("upsert: %w", PermanentCode("DUPLICATE_VALUE", base)), "DUPLICATE_VALUE"},
		{"Throttled", Throttled(base, time.Second), ""},
		{"JoinedPermanentCode", errors.Join(base, PermanentCode("DECODE", base)), "DECODE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Code(tc.err); got != tc.want {
				t.Errorf("Code(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestErrors_IsStop_Table(t *testing.T) {
	t.Parallel()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"DoneAndCanceled", done, context.Canceled, true},
		{"DoneAndWrappedCanceled", done, fmt.Errorf("poll: %w", context.Canceled), true},
		{"DoneAndDeadline", done, context.DeadlineExceeded, true},
		{"DoneButOtherError", done, errors.New("commit failed"), false},
		{"DoneAndNil", done, nil, false},
		{"LiveAndCanceled", live, context.Canceled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := isStop(tc.ctx, tc.err); got != tc.want {
				t.Errorf("isStop(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestErrors_FencedError_Table(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error
		wantFenced  bool
		wantClass   Class
		wantRetries bool
	}{
		{"ProducerFenced", fmt.Errorf("end txn: %w", kerr.ProducerFenced), true, ClassRetryable, false},
		{"InvalidProducerEpoch", kerr.InvalidProducerEpoch, true, ClassRetryable, false},
		{"TxnAuthorization", kerr.TransactionalIDAuthorizationFailed, false, ClassPermanent, false},
		{"TopicAuthorization", kerr.TopicAuthorizationFailed, false, ClassPermanent, false},
		{"Other", kerr.RequestTimedOut, false, ClassRetryable, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := fencedError(tc.err)
			if errors.Is(got, ErrFenced) != tc.wantFenced {
				t.Errorf("fencedError(%v) fenced = %v, want %v", tc.err, errors.Is(got, ErrFenced), tc.wantFenced)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("fencedError(%v) lost the cause", tc.err)
			}
			if Classify(got) != tc.wantClass || IsRetryable(got) != tc.wantRetries {
				t.Errorf("fencedError(%v): class %q retryable %v, want %q %v", tc.err, Classify(got), IsRetryable(got), tc.wantClass, tc.wantRetries)
			}
		})
	}
}
