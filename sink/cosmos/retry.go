package cosmos

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Status codes Cosmos DB uses beyond net/http's names.
const (
	statusRetryWith = 449 // a concurrent update conflicted inside the service: retry
)

// defaultThrottleWait is the wait after a 429 that names no delay.
const defaultThrottleWait = time.Second

// statusOf returns the HTTP status of a Cosmos DB error, 0 when there was
// no response (transport error, timeout).
func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// retryAfter returns the delay a 429 asked for.
func retryAfter(err error) time.Duration {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		if ms, perr := strconv.ParseFloat(re.RawResponse.Header.Get("x-ms-retry-after-ms"), 64); perr == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return defaultThrottleWait
}

// transient reports whether a status (0: no response) is worth retrying
// with backoff: timeouts, 449 retry-with, and server-side failures.
func transient(status int) bool {
	switch status {
	case 0, http.StatusRequestTimeout, statusRetryWith, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// call runs one Cosmos DB request, f, until it succeeds, fails in a way the
// caller must handle (404, 409, 412 and other 4xx) or the retries run out.
//
// 429 responses are waited out as x-ms-retry-after-ms asks, without
// counting as attempts, for up to ThrottleMaxWait in total; past that the
// error goes to the runtime marked connectorlib.Throttled, and the runtime
// waits and retries the record without dead-lettering it early. 408, 449,
// 5xx, transport errors and request timeouts are retried with backoff,
// RetryMaxAttempts times. Every attempt is bounded by RequestTimeout, and
// the whole call by ctx.
func (s *Sink) call(ctx context.Context, f func(ctx context.Context) error) error {
	var throttled time.Duration
	backoff := connectorlib.Backoff{Initial: s.cfg.RetryInitial, Max: 5 * time.Second}
	for attempt := 1; ; {
		actx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		status := statusOf(err)
		var certErr *tls.CertificateVerificationError
		switch {
		case errors.As(err, &certErr):
			// The server is not who it should be: retrying cannot help.
			return connectorlib.Permanent(fmt.Errorf("cosmos db certificate not trusted (set %s_COSMOS_CA_FILE for an emulator): %w", connectorlib.EnvPrefix, err))
		case status == http.StatusTooManyRequests:
			after := retryAfter(err)
			if throttled+after > s.cfg.ThrottleMaxWait {
				return connectorlib.Throttled(fmt.Errorf("cosmos db throttled the request for %v in total: %w", throttled, err), after)
			}
			s.metrics.Retries.WithLabelValues("429").Inc()
			if err := sleep(ctx, after); err != nil {
				return err
			}
			throttled += after
			s.metrics.ThrottleSeconds.Add(after.Seconds())
			continue
		case transient(status):
			if attempt >= s.cfg.RetryMaxAttempts {
				return connectorlib.Retryable(fmt.Errorf("cosmos db request failed %d times: %w", attempt, err))
			}
			label := strconv.Itoa(status)
			if status == 0 {
				label = "timeout"
			}
			s.metrics.Retries.WithLabelValues(label).Inc()
			if err := sleep(ctx, backoff.Delay(attempt)); err != nil {
				return err
			}
			attempt++
			continue
		}
		return err
	}
}

// classify turns an error the caller could not handle into the record's
// error: 400-class responses are permanent (dead-lettered with the reason),
// except those that say nothing about the record (authentication,
// authorization, a missing container), which stay retryable so that a
// misconfiguration stalls the connector instead of emptying the topic into
// the dead-letter queue.
func classify(err error) error {
	status := statusOf(err)
	switch {
	case status == http.StatusRequestEntityTooLarge:
		return connectorlib.PermanentCode(codeTooLarge, fmt.Errorf("cosmos db rejected the document as too large: %w", err))
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound:
		return err
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests && status != http.StatusRequestTimeout && status != statusRetryWith:
		return connectorlib.PermanentCode(codeBadRequest, fmt.Errorf("cosmos db rejected the write (%d): %w", status, err))
	}
	return err
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
