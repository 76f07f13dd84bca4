package salesforce

import "errors"

// ErrBreakerOpen is returned (as a throttled, retryable error) while the
// circuit breaker refuses calls after repeated throttling or
// unavailability answers.
var ErrBreakerOpen = errors.New("salesforce circuit breaker open")
