package connectorlib

import (
	"context"
	"errors"
	"time"
)

// ErrBackoff is returned by Source.Read when no record is available right
// now; the runtime calls Read again after a short delay.
var ErrBackoff = errors.New("no records available, back off")

// ErrFenced reports that another copy of the same connector took over its
// transactional id: this copy is a zombie and must stop.
var ErrFenced = errors.New("fenced by another instance of this connector")

// Class is the retry class of an error, decided in one place: [Classify].
type Class string

// The error classes. They also appear in dead-letter headers and metrics.
const (
	// ClassRetryable errors may succeed if the same work is tried again.
	ClassRetryable Class = "retryable"
	// ClassThrottled errors are retryable after a delay the remote side
	// asked for (HTTP 429 with Retry-After, Cosmos x-ms-retry-after-ms).
	ClassThrottled Class = "throttled"
	// ClassPermanent errors will fail the same way however often they are
	// retried: bad input, validation errors, 400-class responses.
	ClassPermanent Class = "permanent"
	// ClassRetryExhausted marks a record dead-lettered because its retry
	// budget ran out while its error was still retryable.
	ClassRetryExhausted Class = "retry_exhausted"
)

// classified wraps an error with its class, an optional short machine code
// (for example a Salesforce statusCode) and a server-requested delay.
type classified struct {
	class Class
	code  string
	after time.Duration
	err   error
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

// Permanent marks err as not retryable: retrying cannot help, the record
// goes to the dead-letter topic. It returns nil for a nil err.
func Permanent(err error) error { return PermanentCode("", err) }

// PermanentCode is Permanent with a short machine-readable code such as
// "INVALID_FIELD" or "DECODE", carried into dead-letter headers.
func PermanentCode(code string, err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: ClassPermanent, code: code, err: err}
}

// Retryable marks err as retryable. Unmarked errors are retryable too; use
// this to override a permanent classification further down the chain.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: ClassRetryable, err: err}
}

// Throttled marks err as a throttling response that asked to wait at least
// after before the next attempt.
func Throttled(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &classified{class: ClassThrottled, after: after, err: err}
}

// Classify returns the class of err: the outermost class marker wins;
// context cancellation is retryable (the work was interrupted, not refused);
// everything unmarked is retryable.
func Classify(err error) Class {
	var c *classified
	if errors.As(err, &c) {
		return c.class
	}
	return ClassRetryable
}

// IsRetryable reports whether err may succeed when retried.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	switch Classify(err) {
	case ClassPermanent, ClassRetryExhausted:
		return false
	}
	return !errors.Is(err, ErrFenced)
}

// RetryAfter returns the delay a throttled error asked for.
func RetryAfter(err error) (time.Duration, bool) {
	var c *classified
	if errors.As(err, &c) && c.class == ClassThrottled {
		return c.after, true
	}
	return 0, false
}

// Code returns the machine-readable code attached by PermanentCode, if any.
func Code(err error) string {
	var c *classified
	if errors.As(err, &c) {
		return c.code
	}
	return ""
}

// isStop reports whether err means the runner was asked to stop.
func isStop(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
