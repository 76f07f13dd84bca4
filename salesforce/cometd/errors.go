package cometd

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	// ErrInvalidReplayID is wrapped by Subscribe and Recv when the server
	// refuses the replay id to subscribe from (older than the retention
	// window, in the future, or malformed). Such errors are permanent; the
	// caller applies its replay policy.
	ErrInvalidReplayID = errors.New("invalid replay id")
	// ErrAuth is wrapped when the server rejected the access token and the
	// token the TokenProvider returned after Invalidate as well.
	ErrAuth = errors.New("authentication failed")
	// ErrClosed is returned by Recv after Close.
	ErrClosed = errors.New("subscription closed")
	// ErrMalformedResponse is wrapped when a Bayeux response cannot be read:
	// not a JSON message array, an event without a replay id, or no reply to
	// the request.
	ErrMalformedResponse = errors.New("malformed bayeux response")
	// ErrInvalidConfig is wrapped by Subscribe when the Config or its
	// arguments are unusable.
	ErrInvalidConfig = errors.New("invalid cometd config")
)

// Error is a failure reported by the Streaming API: an unsuccessful reply
// on a meta channel, or an HTTP status other than 200.
type Error struct {
	// Channel is the meta channel of the failed request: /meta/handshake,
	// /meta/subscribe or /meta/connect.
	Channel string
	// StatusCode is the HTTP status of a non-200 response; 0 for a Bayeux
	// error.
	StatusCode int
	// Code is the number before "::" in the Bayeux error (401 in
	// "401::Authentication invalid"); 0 when absent.
	Code int
	// Message is the Bayeux error string verbatim, or the start of the body
	// of an HTTP error.
	Message string
	// Reason is ext.sfdc.failureReason of a denied handshake, verbatim.
	Reason string
	// Reconnect is the advice.reconnect of the reply: "retry", "handshake",
	// "none" or "".
	Reconnect string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Channel)
	b.WriteString(": ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
		return b.String()
	}
	if e.Message == "" {
		b.WriteString("unsuccessful reply without error")
	} else {
		b.WriteString(e.Message)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	return b.String()
}

// bayeuxCode returns the numeric code of a Bayeux error string
// ("403::Unknown client" → 403), or 0.
func bayeuxCode(s string) int {
	head, _, ok := strings.Cut(s, ":")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(head))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// bayeuxText returns the message part of a Bayeux error string: what
// follows "code:args:".
func bayeuxText(s string) string {
	_, rest, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	_, msg, ok := strings.Cut(rest, ":")
	if !ok {
		return rest
	}
	return msg
}

// isAuthFailure reports a rejected token: 401::Authentication invalid (or
// any 401 Bayeux error, also as a handshake's failureReason) or HTTP 401.
func (e *Error) isAuthFailure() bool {
	return e.StatusCode == 401 || bayeuxCode(e.Message) == 401 || bayeuxCode(e.Reason) == 401
}

// replayPattern matches Salesforce's invalid replay id error; the EMP
// Connector matches the same text (protocol reference §4.2).
var replayPattern = regexp.MustCompile(`^The replayId \{.*\} you provided was invalid`)

// isInvalidReplay reports the invalid replay id error of /meta/subscribe.
func (e *Error) isInvalidReplay() bool {
	return e.StatusCode == 0 && bayeuxCode(e.Message) == 400 && replayPattern.MatchString(bayeuxText(e.Message))
}

// sessionEnded reports that the server no longer knows the session and the
// client must handshake again: 403::Unknown client (402 in old docs),
// 403::Client has not completed handshake, or advice reconnect "handshake".
func (e *Error) sessionEnded() bool {
	if e.StatusCode != 0 {
		return false
	}
	text := strings.ToLower(bayeuxText(e.Message))
	return e.Reconnect == reconnectHandshake || strings.Contains(text, "unknown client") ||
		strings.Contains(text, "not completed handshake")
}

// retryable reports whether the failure may pass if tried again: Bayeux
// 5xx errors (also as failureReason: "503::Server is too busy"), and
// failures without a code that advise to retry.
func (e *Error) retryable() bool {
	code := bayeuxCode(e.Message)
	if rc := bayeuxCode(e.Reason); rc != 0 {
		code = rc
	}
	switch {
	case code >= 500:
		return true
	case code >= 400:
		return false
	}
	return e.Reconnect != reconnectNone
}

// authError carries a token the server rejected up to the code that
// invalidates it.
type authError struct {
	token string
	err   *Error
}

func (a *authError) Error() string { return a.err.Error() }
func (a *authError) Unwrap() error { return a.err }

// errSessionEnded is returned internally when the server ended the
// session between the handshake and the subscribe.
var errSessionEnded = errors.New("bayeux session ended")
