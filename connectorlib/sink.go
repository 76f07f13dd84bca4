package connectorlib

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Sink writes records consumed from Kafka to an external system. The
// runtime calls Open once, then Write serially per partition (different
// partitions may be written concurrently), then Close. Nothing is called
// after Close.
type Sink interface {
	// Open connects the sink.
	Open(ctx context.Context) error

	// Write applies a batch of records, all from one Kafka partition, in
	// offset order. It returns:
	//   - nil: every record is durably applied;
	//   - a *BatchError: the records at the listed indexes failed with the
	//     given errors and every other record is durably applied;
	//   - any other error: nothing is known to be written; the runtime may
	//     retry the whole batch, so writes must be idempotent.
	// Errors are classified with Permanent and Retryable; unmarked errors
	// count as retryable. Write must return promptly once ctx is done: on
	// shutdown the runtime stops waiting for it after the shutdown timeout
	// and commits nothing past the batch.
	Write(ctx context.Context, batch []Record) error

	// Close releases the sink's resources; it is idempotent.
	Close(ctx context.Context) error
}

// BatchError reports per-record failures of a Sink.Write: the records at the
// indexes in Failed failed, every other record of the batch succeeded.
type BatchError struct {
	// Failed maps a batch index to the error of that record.
	Failed map[int]error
}

// NewBatchError returns an empty BatchError to which failures are added with
// Add.
func NewBatchError() *BatchError { return &BatchError{Failed: map[int]error{}} }

// Add records that the record at index i failed with err.
func (e *BatchError) Add(i int, err error) { e.Failed[i] = err }

// Len returns how many records failed.
func (e *BatchError) Len() int { return len(e.Failed) }

// valid reports whether every failed index lies in a batch of n records
// with a non-nil error, and at least one record failed.
func (e *BatchError) valid(n int) bool {
	if len(e.Failed) == 0 {
		return false
	}
	for i, err := range e.Failed {
		if i < 0 || i >= n || err == nil {
			return false
		}
	}
	return true
}

// Error implements error.
func (e *BatchError) Error() string {
	idx := make([]int, 0, len(e.Failed))
	for i := range e.Failed {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	fmt.Fprintf(&b, "%d records failed", len(idx))
	for n, i := range idx {
		if n == 3 {
			fmt.Fprintf(&b, "; ...")
			break
		}
		fmt.Fprintf(&b, "; [%d]: %v", i, e.Failed[i])
	}
	return b.String()
}
