package cometd

import (
	"fmt"
	"slices"
	"strings"
)

// Advice values (protocol reference §4.2, §4.3).
var (
	adviceNone      = map[string]any{"reconnect": "none", "interval": 0}
	adviceHandshake = map[string]any{"reconnect": "handshake", "interval": 0}
)

// retryAdvice is the advice of every successful connect reply.
func (h *Handler) retryAdvice() map[string]any {
	return map[string]any{"reconnect": "retry", "interval": 0, "timeout": h.cfg.LongPollTimeout.Milliseconds()}
}

// handshake answers /meta/handshake: a new session, or a denial with the
// reason in ext.sfdc.failureReason and advice not to retry.
func (h *Handler) handshake(m *message, req *request) reply {
	rep := newReply(m)
	delete(rep, "clientId")
	denied := func(reason string) reply {
		rep["advice"] = map[string]any{"reconnect": "none"}
		rep["ext"] = map[string]any{"sfdc": map[string]any{"failureReason": reason}}
		return rep.fail(errHandshakeDenied)
	}
	if req.versionErr != "" {
		return denied(req.versionErr)
	}
	if req.token == "" {
		return denied(errAuthRequired)
	}
	as, err := h.cfg.Auth.Validate(req.token)
	if err != nil {
		return denied(errAuthInvalid)
	}
	if m.connTypes != nil && !slices.Contains(m.connTypes, connTypeLongPolling) {
		rep["advice"] = map[string]any{"reconnect": "none"}
		return rep.fail(errConnectionType(m.connTypes...))
	}
	if !req.hasCookie && !req.setCookie {
		req.browser, req.setCookie = newID(), true
	}

	h.mu.Lock()
	if h.handshakes++; h.handshakes%sweepEvery == 0 {
		h.sweepLocked()
	}
	s := &session{token: req.token, userID: as.UserID, wake: make(chan struct{})}
	for s.id == "" || h.sessions[s.id] != nil {
		s.id = newID()
	}
	h.renewLocked(s)
	h.sessions[s.id] = s
	h.mu.Unlock()

	rep["clientId"] = s.id
	rep["version"] = "1.0"
	rep["minimumVersion"] = "1.0"
	rep["supportedConnectionTypes"] = []string{connTypeLongPolling}
	rep["ext"] = map[string]any{"replay": true, "payload.format": true}
	return rep.ok()
}

// liveSession finds the session of m and checks the request's credentials:
// the token (the request's, else the handshake's), then the session, then
// the BAYEUX_BROWSER cookie. It returns the session, or the failed reply.
func (h *Handler) liveSession(m *message, req *request, rep reply) (*session, reply) {
	h.mu.Lock()
	s := h.lookupLocked(m.clientID)
	token := req.token
	if token == "" && s != nil {
		token = s.token
	}
	h.mu.Unlock()
	if token == "" {
		rep["advice"] = adviceNone
		return nil, rep.fail(errAuthInvalid)
	}
	if _, err := h.cfg.Auth.Validate(token); err != nil {
		rep["advice"] = adviceNone
		return nil, rep.fail(errAuthInvalid)
	}
	if s == nil {
		rep["advice"] = adviceHandshake
		if m.clientID == "" {
			return nil, rep.fail(errNoHandshake)
		}
		return nil, rep.fail(errUnknownClient)
	}
	if !req.hasCookie {
		return nil, rep.fail(fmt.Sprintf(errNoCookieFmt, s.id))
	}
	return s, nil
}

// connect answers /meta/connect and returns the events it delivers. A
// connect is held (see poll) unless it is the session's first, is batched
// with other messages, or asks for advice.timeout 0.
func (h *Handler) connect(m *message, req *request, batched bool) ([]reply, reply) {
	rep := newReply(m)
	if req.versionErr != "" {
		return nil, rep.fail(req.versionErr)
	}
	s, failed := h.liveSession(m, req, rep)
	if failed != nil {
		return nil, failed
	}
	if m.connectionType != "" && m.connectionType != connTypeLongPolling {
		return nil, rep.fail(errConnectionType(m.connectionType))
	}

	h.mu.Lock()
	if s.state != stateLive {
		h.mu.Unlock()
		rep["advice"] = adviceHandshake
		return nil, rep.fail(errUnknownClient)
	}
	s.gen++
	gen := s.gen
	s.wakeUp() // a connect still held for this client returns now
	s.held++
	first := !s.connected
	h.mu.Unlock()

	hold := !first && !batched && !(m.hasAdviceTimeout && m.adviceTimeout <= 0) && !h.isClosed()
	events := h.poll(req.r.Context(), s, gen, hold)

	h.mu.Lock()
	s.held--
	s.connected = true
	h.renewLocked(s)
	state := s.state
	h.mu.Unlock()

	switch state {
	case stateEnded:
		rep["advice"] = adviceHandshake
		return events, rep.fail(errUnknownClient)
	case stateDisconnected:
		rep["advice"] = map[string]any{"reconnect": "none", "interval": 0}
		return events, rep.ok()
	}
	rep["advice"] = h.retryAdvice()
	return events, rep.ok()
}

// subscribe answers /meta/subscribe. Every channel must exist and every
// replay value be valid, or nothing is subscribed.
func (h *Handler) subscribe(m *message, req *request) reply {
	rep := newReply(m)
	if m.subscription != nil {
		rep["subscription"] = m.subscription
	}
	s, failed := h.liveSession(m, req, rep)
	if failed != nil {
		return failed
	}
	channels, ok := m.channels()
	if !ok {
		return rep.fail(errNoChannelName)
	}
	var subs []*subscription
	for _, ch := range channels {
		if !strings.HasPrefix(ch, "/") {
			return rep.fail(errLeadingSlash)
		}
		if strings.HasPrefix(ch, "/meta/") || !h.cfg.Bus.Exists(ch) {
			return rep.fail(errUnknownChannel(ch))
		}
		after, ok := h.replayPosition(m, ch)
		if !ok {
			_, text, _ := m.replayValue(ch)
			return rep.fail(errInvalidReplay(text))
		}
		subs = append(subs, &subscription{channel: ch, after: after})
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if s.state != stateLive {
		rep["advice"] = adviceHandshake
		return rep.fail(errUnknownClient)
	}
	for _, sub := range subs {
		i := slices.IndexFunc(s.subs, func(x *subscription) bool { return x.channel == sub.channel })
		if i >= 0 {
			s.subs[i] = sub // resubscribing resets the position
		} else {
			s.subs = append(s.subs, sub)
		}
	}
	s.wakeUp() // a held connect delivers replayed events now
	return rep.ok()
}

// replayPosition returns the replay id a new subscription to channel
// resumes after, from the ext.replay value of m, and whether it is valid.
func (h *Handler) replayPosition(m *message, channel string) (int64, bool) {
	v, _, ok := m.replayValue(channel)
	switch {
	case !ok:
		return 0, false
	case v == replayNew:
		return h.cfg.Bus.Latest(), true
	case v == replayAll:
		return h.cfg.Bus.Earliest(), true
	case v < 0:
		return 0, false
	case h.cfg.Bus.CheckReplayID(v) != nil:
		return 0, false
	}
	return v, true
}

// unsubscribe answers /meta/unsubscribe. Channels not subscribed are
// ignored.
func (h *Handler) unsubscribe(m *message, req *request) reply {
	rep := newReply(m)
	if m.subscription != nil {
		rep["subscription"] = m.subscription
	}
	s, failed := h.liveSession(m, req, rep)
	if failed != nil {
		return failed
	}
	channels, ok := m.channels()
	if !ok {
		return rep.fail(errNoChannelName)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s.subs = slices.DeleteFunc(s.subs, func(x *subscription) bool { return slices.Contains(channels, x.channel) })
	return rep.ok()
}

// disconnect answers /meta/disconnect: the session ends and a held connect
// returns. It needs no valid token, so a client can always leave.
func (h *Handler) disconnect(m *message) reply {
	rep := newReply(m)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.lookupLocked(m.clientID)
	if s == nil {
		return rep.fail(errUnknownClient)
	}
	h.endLocked(s, stateDisconnected)
	return rep.ok()
}
