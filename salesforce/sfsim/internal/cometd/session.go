package cometd

import (
	"context"
	"crypto/rand"
	"errors"
	"sort"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

// sessionState tells a live session from one that ended, and how it ended.
type sessionState int

const (
	stateLive         sessionState = iota
	stateDisconnected              // the client sent /meta/disconnect
	stateEnded                     // expired, or dropped by DropSessions
)

// session is one handshaken client. Its fields are guarded by Handler.mu.
type session struct {
	id     string
	token  string // the token of the handshake, for requests without one
	userID string
	state  sessionState
	subs   []*subscription // in subscription order

	// deadline is when the session ends unless a connect arrives or is
	// held: ReconnectWindow after the handshake or the last connect reply.
	deadline  int64 // Unix nanoseconds on Config.Now
	held      int   // connects being answered right now
	connected bool  // a connect has been answered

	// gen counts connects; a held connect whose gen is no longer current
	// was superseded by a newer one and returns at once.
	gen  uint64
	wake chan struct{} // closed (and replaced) to wake a held connect
}

// subscription is one channel a session receives, and the replay id its
// next events follow.
type subscription struct {
	channel string
	after   int64
}

// wakeUp wakes a held connect so it rechecks its session. h.mu is held.
func (s *session) wakeUp() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// newID returns a random lower-case base-36 identifier shaped like
// Salesforce's client ids (l0s1u9zof06ofqqkdkk92jldqgmk).
func newID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	const n = 28
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails; it crashes the program instead
		for _, b := range buf {
			// 252 = 7*36: rejecting larger bytes keeps the draw unbiased.
			if b < 252 && len(out) < n {
				out = append(out, alphabet[b%36])
			}
		}
	}
	return string(out)
}

// expiredLocked reports whether s has outlived its reconnect window.
func (h *Handler) expiredLocked(s *session) bool {
	return s.held == 0 && h.cfg.Now().UnixNano() > s.deadline
}

// renewLocked restarts the reconnect window of s.
func (h *Handler) renewLocked(s *session) {
	s.deadline = h.cfg.Now().Add(h.cfg.ReconnectWindow).UnixNano()
}

// lookupLocked returns the live session id, ending it first if it has
// expired. h.mu is held.
func (h *Handler) lookupLocked(id string) *session {
	s := h.sessions[id]
	if s == nil {
		return nil
	}
	if h.expiredLocked(s) {
		h.endLocked(s, stateEnded)
		return nil
	}
	return s
}

// sweepEvery is how many handshakes pass between sweeps of expired
// sessions in handshake, which bounds memory without a background goroutine
// or a full scan per handshake.
const sweepEvery = 64

// sweepLocked ends every expired session, bounding memory. h.mu is held.
func (h *Handler) sweepLocked() {
	for _, s := range h.sessions {
		if h.expiredLocked(s) {
			h.endLocked(s, stateEnded)
		}
	}
}

// endLocked removes s and wakes its held connect. h.mu is held.
func (h *Handler) endLocked(s *session, state sessionState) {
	delete(h.sessions, s.id)
	s.state = state
	s.wakeUp()
}

// DropSessions ends every session, as a server restart would: held
// connects return 403::Unknown client with advice to handshake, and so does
// every later message of those clients. It returns how many sessions ended.
func (h *Handler) DropSessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.sessions)
	for _, s := range h.sessions {
		h.endLocked(s, stateEnded)
	}
	return n
}

// Sessions returns the number of live sessions.
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sweepLocked()
	return len(h.sessions)
}

// poll collects the events due to s. With hold it waits, up to
// LongPollTimeout, until there are some, the session ends, a newer connect
// supersedes this one (gen), the client goes away or the Handler closes.
func (h *Handler) poll(ctx context.Context, s *session, gen uint64, hold bool) []reply {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.LongPollTimeout)
	defer cancel()
	for {
		h.mu.Lock()
		if s.state != stateLive || s.gen != gen {
			h.mu.Unlock()
			return nil
		}
		wake := s.wake
		// Taken before collecting, so an event published in between
		// ends the wait below at once.
		latest := h.cfg.Bus.Latest()
		events := h.collectLocked(s)
		h.mu.Unlock()
		if len(events) > 0 || !hold || !h.wait(ctx, wake, latest) {
			return events
		}
	}
}

// wait blocks until the bus has an event after latest, wake is closed, or
// the Handler closes; it reports false when ctx ended or the Handler closed.
func (h *Handler) wait(ctx context.Context, wake <-chan struct{}, latest int64) bool {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-wake:
		case <-h.closed:
		case <-wctx.Done():
		}
		cancel()
	}()
	_ = h.cfg.Bus.Wait(wctx, latest)
	return ctx.Err() == nil && !h.isClosed()
}

// collectLocked reads the events due to the subscriptions of s, merged in
// replay order, at most maxEventsPerReply, and advances each subscription
// past what it returns. h.mu is held.
func (h *Handler) collectLocked(s *session) []reply {
	type due struct {
		sub *subscription
		ev  *bus.Event
	}
	var all []due
	read := map[*subscription]int{}       // events read per subscription
	caughtUp := map[*subscription]int64{} // bus tip, for subscriptions read to the end
	for _, sub := range s.subs {
		evs, latest, err := h.cfg.Bus.Read(sub.channel, sub.after, maxEventsPerReply)
		if errors.Is(err, bus.ErrInvalidReplayID) {
			// Fell behind the retention window while subscribed (a test
			// advanced the clock): resume at the oldest retained event.
			sub.after = h.cfg.Bus.Earliest()
			evs, latest, err = h.cfg.Bus.Read(sub.channel, sub.after, maxEventsPerReply)
		}
		if err != nil {
			continue
		}
		for _, ev := range evs {
			all = append(all, due{sub, ev})
		}
		read[sub] = len(evs)
		if len(evs) < maxEventsPerReply {
			caughtUp[sub] = latest
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].ev.ReplayID < all[j].ev.ReplayID })
	if len(all) > maxEventsPerReply {
		all = all[:maxEventsPerReply]
	}
	sent := map[*subscription]int{}
	out := make([]reply, 0, len(all))
	for _, d := range all {
		out = append(out, h.enc.message(d.ev, d.sub.channel, s.userID))
		d.sub.after = d.ev.ReplayID
		sent[d.sub]++
	}
	for _, sub := range s.subs {
		// Everything up to the tip was read and sent: skip the events of
		// other channels next time.
		if tip, ok := caughtUp[sub]; ok && sent[sub] == read[sub] && tip > sub.after {
			sub.after = tip
		}
	}
	return out
}
