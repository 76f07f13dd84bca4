package cometd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sfconnect/sfconnect/connectorlib"
)

const (
	// maxResponseSize bounds a response body. Salesforce caps an event at
	// 1 MB (protocol reference §3) and documents no batch size; 128 MiB
	// leaves room for a full batch while bounding memory.
	maxResponseSize = 128 << 20
	// maxErrorBody is how much of an HTTP error body goes into an Error.
	maxErrorBody = 512
)

// httpClient sends Bayeux requests of one session (its Jar holds the
// BAYEUX_BROWSER cookie).
type httpClient struct {
	*http.Client
}

// post sends msg (as a one-element JSON array) to endpoint with the token,
// bounded by timeout, and decodes the response. Errors are classified:
// transport failures, HTTP 408, 429 and 5xx and unreadable bodies are
// retryable, HTTP 401 is an *authError, other statuses are permanent. When
// ctx ends, its error is returned (wrapped).
func (c *httpClient) post(ctx context.Context, endpoint, token, channel string, timeout time.Duration, msg any) ([]Message, []reply, error) {
	body, err := json.Marshal([]any{msg})
	if err != nil {
		return nil, nil, connectorlib.Permanent(fmt.Errorf("%s: encode request: %w", channel, err))
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, nil, connectorlib.Permanent(fmt.Errorf("%s: %w: %w", channel, ErrInvalidConfig, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "OAuth "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, transportError(ctx, channel, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, nil, transportError(ctx, channel, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusError(resp, channel, token, data)
	}
	if len(data) > maxResponseSize {
		return nil, nil, connectorlib.Retryable(fmt.Errorf("%s: %w: response larger than %d bytes", channel, ErrMalformedResponse, maxResponseSize))
	}
	events, replies, err := decodeMessages(data)
	if err != nil {
		return nil, nil, connectorlib.Retryable(fmt.Errorf("%s: %w", channel, err))
	}
	return events, replies, nil
}

// transportError wraps a failed request: ctx's error when ctx ended, else
// a retryable error.
func transportError(ctx context.Context, channel string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", channel, ctx.Err())
	}
	return connectorlib.Retryable(fmt.Errorf("%s: %w", channel, err))
}

// statusError classifies a non-200 response.
func statusError(resp *http.Response, channel, token string, body []byte) error {
	e := &Error{Channel: channel, StatusCode: resp.StatusCode, Message: snippet(body)}
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		return &authError{token: token, err: e}
	case code == http.StatusTooManyRequests:
		return connectorlib.Throttled(e, retryAfter(resp.Header.Get("Retry-After")))
	case code == http.StatusRequestTimeout, code >= 500:
		return connectorlib.Retryable(e)
	}
	return connectorlib.Permanent(e)
}

// snippet returns the start of an error body as valid UTF-8 text.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > maxErrorBody {
		s = s[:maxErrorBody]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
