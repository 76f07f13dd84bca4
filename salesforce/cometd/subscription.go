package cometd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Replay values of the Salesforce replay extension.
const (
	replayNew = -1 // only events published after the subscription
	replayAll = -2 // every retained event
)

// Recovery bounds.
const (
	// maxHandshakes bounds the handshakes of one Recv (or Subscribe) call
	// when the server keeps ending the session at once, so a server in that
	// state yields a retryable error rather than a busy loop.
	maxHandshakes = 3
)

// Subscription is one Bayeux session subscribed to one channel. Recv is
// called from one goroutine at a time (calls are serialised); Close may be
// called concurrently with Recv and ends it.
type Subscription struct {
	client  *Client
	channel string
	hc      *httpClient

	closeCtx    context.Context // cancelled by Close: ends requests in flight
	closeCancel context.CancelFunc
	closeOnce   sync.Once

	recvMu sync.Mutex // serialises Recv

	// The session, written only by the goroutine in Subscribe or Recv
	// (under mu) and read under mu by Close.
	mu       sync.Mutex
	endpoint string // {instanceUrl}/cometd/{version}
	token    string // the access token of the handshake
	clientID string

	// Owned by Subscribe, then by Recv (under recvMu).
	last          int64         // replay id to resume after: replayFrom until an event is returned
	advice        advice        // latest advice from the server
	pause         time.Duration // advice.interval to wait before the next request
	needHandshake bool          // the session is gone or cannot be trusted; resubscribe from last
	rejected      string        // token the server rejected, to Invalidate before the next handshake
	rejectedBy    *Error        // the rejection
	authRetried   bool          // a new token was tried since the last successful connect
	buffered      []Message     // events that arrived outside a connect response
	nextID        uint64
}

// Channel returns the subscribed channel.
func (s *Subscription) Channel() string { return s.channel }

// LastReplayID returns the replay id of the last event Recv returned, or
// the replayFrom of Subscribe while none was. Not safe to call concurrently
// with Recv.
func (s *Subscription) LastReplayID() int64 { return s.last }

// Recv blocks until events arrive and returns those of one connect
// response, in replay order, never empty on success. It re-handshakes and
// resubscribes after the last returned replay id whenever the session ended
// or may have lost events, and honours advice.interval.
//
// It returns ctx.Err() when ctx ends, ErrClosed after Close, an error
// wrapping ErrInvalidReplayID or ErrAuth (both permanent), or a retryable
// or permanent error as classified by connectorlib. After a retryable error
// the subscription keeps its position: calling Recv again resumes without
// loss or duplicates.
func (s *Subscription) Recv(ctx context.Context) ([]Message, error) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.closeCtx, cancel)
	defer stop()

	handshakes := 0
	for {
		if err := s.stopped(ctx); err != nil {
			return nil, err
		}
		if len(s.buffered) > 0 {
			return s.deliver(s.takeBuffered()), nil
		}
		if s.pause > 0 {
			if err := sleep(ctx, s.pause); err != nil {
				return nil, s.stoppedOr(ctx, err)
			}
			s.pause = 0
		}
		if s.needHandshake {
			if handshakes == maxHandshakes {
				return nil, connectorlib.Retryable(fmt.Errorf("receive %s: the server ended %d new sessions at once", s.channel, handshakes))
			}
			handshakes++
			if err := s.establish(ctx); err != nil {
				return nil, s.stoppedOr(ctx, fmt.Errorf("receive %s: %w", s.channel, err))
			}
			continue
		}
		msgs, err := s.connect(ctx)
		if err != nil {
			return nil, s.stoppedOr(ctx, fmt.Errorf("receive %s: %w", s.channel, err))
		}
		if len(msgs) > 0 {
			return s.deliver(msgs), nil
		}
	}
}

// deliver records the position of msgs and returns them.
func (s *Subscription) deliver(msgs []Message) []Message {
	s.last = msgs[len(msgs)-1].ReplayID
	return msgs
}

func (s *Subscription) takeBuffered() []Message {
	msgs := s.buffered
	s.buffered = nil
	return msgs
}

// stopped returns ErrClosed after Close, ctx's error when it ended, else
// nil.
func (s *Subscription) stopped(ctx context.Context) error {
	if s.closeCtx.Err() != nil {
		return ErrClosed
	}
	return ctx.Err()
}

// stoppedOr returns stopped's error when there is one, else err.
func (s *Subscription) stoppedOr(ctx context.Context, err error) error {
	if stop := s.stopped(ctx); stop != nil {
		return stop
	}
	return err
}

// Close ends the subscription: a Recv in progress returns ErrClosed, and
// /meta/disconnect is sent within ctx, best effort (the server also ends an
// abandoned session itself, 40 s after its last connect). It returns nil
// and is idempotent.
func (s *Subscription) Close(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.closeCancel()
	})
	if !first {
		return nil
	}
	s.client.forget(s)
	s.mu.Lock()
	endpoint, token, clientID := s.endpoint, s.token, s.clientID
	s.mu.Unlock()
	if clientID == "" {
		return nil
	}
	msg := map[string]any{"channel": channelDisconnect, "clientId": clientID, "id": "disconnect"}
	_, _, _ = s.hc.post(ctx, endpoint, token, channelDisconnect, s.client.cfg.LongPollTimeout, msg)
	return nil
}

// establish handshakes and subscribes after s.last, first invalidating a
// token the server rejected. A rejected token is retried with the
// provider's next one once; a second rejection fails with ErrAuth.
func (s *Subscription) establish(ctx context.Context) error {
	for ended := 0; ; {
		if s.rejected != "" {
			token, cause := s.rejected, s.rejectedBy
			s.rejected, s.rejectedBy = "", nil
			s.client.cfg.Tokens.Invalidate(token)
			if s.authRetried {
				s.authRetried = false
				return connectorlib.Permanent(fmt.Errorf("%w: %w", ErrAuth, cause))
			}
			s.authRetried = true
		}
		err := s.handshakeAndSubscribe(ctx)
		var ae *authError
		switch {
		case err == nil:
			s.needHandshake = false
			return nil
		case errors.As(err, &ae):
			s.rejected, s.rejectedBy = ae.token, ae.err
		case errors.Is(err, errSessionEnded) && ended < maxHandshakes-1:
			ended++
		case errors.Is(err, errSessionEnded):
			return connectorlib.Retryable(err)
		default:
			return err
		}
		if err := s.stopped(ctx); err != nil {
			return err
		}
	}
}

// handshakeAndSubscribe starts a session with the provider's current token
// and subscribes it after s.last.
func (s *Subscription) handshakeAndSubscribe(ctx context.Context) error {
	sess, err := s.client.cfg.Tokens.Session(ctx)
	if err != nil {
		return fmt.Errorf("get session: %w", err)
	}
	if sess.AccessToken == "" || sess.InstanceURL == "" {
		return connectorlib.Permanent(fmt.Errorf("get session: %w: the token provider returned no access token or instance url", ErrInvalidConfig))
	}
	endpoint := strings.TrimRight(sess.InstanceURL, "/") + "/cometd/" + s.client.cfg.APIVersion
	token := sess.AccessToken
	s.setSession(endpoint, token, "")
	margin := s.client.cfg.LongPollTimeout

	id := s.newID()
	hs := map[string]any{
		"channel": channelHandshake, "version": "1.0", "minimumVersion": "1.0",
		"supportedConnectionTypes": []string{connectionType},
		"ext":                      map[string]any{"replay": true},
		"id":                       id,
	}
	events, replies, err := s.hc.post(ctx, endpoint, token, channelHandshake, margin, hs)
	if err != nil {
		return err
	}
	s.buffered = append(s.buffered, events...)
	rep := findReply(replies, channelHandshake, id)
	if rep == nil {
		return connectorlib.Retryable(fmt.Errorf("handshake: %w: no /meta/handshake reply", ErrMalformedResponse))
	}
	s.advice.merge(rep.advice)
	if !rep.successful {
		e := rep.toError(channelHandshake)
		if e.isAuthFailure() {
			return &authError{token: token, err: e}
		}
		return classify(e)
	}
	if rep.clientID == "" {
		return connectorlib.Retryable(fmt.Errorf("handshake: %w: no clientId", ErrMalformedResponse))
	}
	if !rep.replayExt {
		// Without it, resubscribes could not resume: refuse rather than
		// lose events.
		return connectorlib.Permanent(errors.New("handshake: the server does not support the replay extension"))
	}
	s.setSession(endpoint, token, rep.clientID)

	id = s.newID()
	sub := map[string]any{
		"channel": channelSubscribe, "clientId": rep.clientID, "subscription": s.channel,
		"ext": map[string]any{"replay": map[string]int64{s.channel: s.last}},
		"id":  id,
	}
	events, replies, err = s.hc.post(ctx, endpoint, token, channelSubscribe, margin, sub)
	if err != nil {
		return err
	}
	s.buffered = append(s.buffered, events...)
	rep = findReply(replies, channelSubscribe, id)
	if rep == nil {
		return connectorlib.Retryable(fmt.Errorf("subscribe: %w: no /meta/subscribe reply", ErrMalformedResponse))
	}
	if rep.successful {
		return nil
	}
	e := rep.toError(channelSubscribe)
	switch {
	case e.isAuthFailure():
		return &authError{token: token, err: e}
	case e.isInvalidReplay():
		return connectorlib.Permanent(fmt.Errorf("subscribe from replay id %d: %w: %w", s.last, ErrInvalidReplayID, e))
	case e.sessionEnded():
		return fmt.Errorf("%w: %w", errSessionEnded, e)
	}
	return classify(e)
}

// connect sends one /meta/connect and returns the events of its response.
// It returns no events and no error when the session ended and must be
// re-established (needHandshake is then set).
func (s *Subscription) connect(ctx context.Context) ([]Message, error) {
	timeout := defaultAdviceTimeout
	if s.advice.hasTimeout {
		timeout = s.advice.timeout
	}
	id := s.newID()
	msg := map[string]any{"channel": channelConnect, "clientId": s.clientID, "connectionType": connectionType, "id": id}
	events, replies, err := s.hc.post(ctx, s.endpoint, s.token, channelConnect, timeout+s.client.cfg.LongPollTimeout, msg)
	if err != nil {
		// The response may have carried events the server now counts as
		// delivered: resubscribe from the last returned one.
		s.needHandshake = true
		var ae *authError
		if errors.As(err, &ae) {
			s.rejected, s.rejectedBy = ae.token, ae.err
			return nil, nil
		}
		return nil, err
	}
	rep := findReply(replies, channelConnect, id)
	if rep == nil {
		s.needHandshake = true
		if len(events) > 0 {
			return events, nil
		}
		return nil, connectorlib.Retryable(fmt.Errorf("connect: %w: no /meta/connect reply", ErrMalformedResponse))
	}
	s.advice.merge(rep.advice)
	if rep.advice.hasInterval {
		s.pause = rep.advice.interval
	}
	if rep.successful {
		s.authRetried = false
		if r := rep.advice.reconnect; r == reconnectHandshake || r == reconnectNone {
			s.needHandshake = true // the server ended the session
		}
		return events, nil
	}
	// The session is over either way; events that came with the failure
	// are delivered, and the failure is handled by the next Recv's
	// handshake.
	s.needHandshake = true
	e := rep.toError(channelConnect)
	if e.isAuthFailure() {
		s.rejected, s.rejectedBy = s.token, e
		return events, nil
	}
	if len(events) > 0 || e.sessionEnded() {
		return events, nil
	}
	return nil, classify(e)
}

// setSession records the session for Close.
func (s *Subscription) setSession(endpoint, token, clientID string) {
	s.mu.Lock()
	s.endpoint, s.token, s.clientID = endpoint, token, clientID
	s.mu.Unlock()
}

// newID returns the next message id.
func (s *Subscription) newID() string {
	s.nextID++
	return strconv.FormatUint(s.nextID, 10)
}

// classify marks a Bayeux failure retryable or permanent.
func classify(e *Error) error {
	if e.retryable() {
		return connectorlib.Retryable(e)
	}
	return connectorlib.Permanent(e)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
