package cometd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

// Defaults, from Salesforce's "Clients and Timeouts" (protocol reference
// §4.3).
const (
	// DefaultLongPollTimeout is how long a /meta/connect is held: 110 s.
	DefaultLongPollTimeout = 110 * time.Second
	// DefaultReconnectWindow is how long after a connect reply a client
	// has to connect again before its session ends: 40 s.
	DefaultReconnectWindow = 40 * time.Second
)

const (
	// maxRequestSize is Salesforce's request size limit (protocol
	// reference §4.1); larger requests fail with 413.
	maxRequestSize = 32 << 10
	// readLimit bounds how much of an oversized body is read to answer its
	// messages one by one; beyond it the body is refused as a whole.
	readLimit = 1 << 20
	// maxEventsPerReply bounds the events of one connect response, so a
	// replay of a long backlog streams in pieces [UNVERIFIED: Salesforce
	// documents no batch size].
	maxEventsPerReply = 100
	// cookieName is the session routing cookie Salesforce sets.
	cookieName = "BAYEUX_BROWSER"
	// minVersion is the oldest API version the Streaming API serves.
	minVersion = 37.0
)

// Validator checks access tokens. *auth.Provider implements it.
type Validator interface {
	// Validate returns the session of a live token, or an error
	// (auth.ErrInvalidSession) for an unknown, expired or revoked one.
	Validate(token string) (auth.Session, error)
}

// Config configures a Handler.
type Config struct {
	// Bus is the event bus events are read from. Required.
	Bus *bus.Bus
	// Auth validates the access token of every request. Required.
	Auth Validator
	// Now is the simulator's clock, used for session expiry. Nil means
	// time.Now.
	Now func() time.Time
	// LongPollTimeout is how long a /meta/connect is held, in real time,
	// and the advice.timeout sent to clients. Zero means
	// DefaultLongPollTimeout.
	LongPollTimeout time.Duration
	// ReconnectWindow is how long, on Now, a client may take to send its
	// next /meta/connect before its session ends. Zero means
	// DefaultReconnectWindow.
	ReconnectWindow time.Duration
	// Fault, when set, is called once per Bayeux POST before the body is
	// read. When it returns ok, the request is answered with status and
	// body instead (a transport failure to both clients). It may block, for
	// example to delay the request.
	Fault func(r *http.Request) (status int, body []byte, ok bool)
}

// Handler is the Streaming API endpoint. It is an http.Handler for
// /cometd/{version} (mount it at "/cometd/"). Safe for concurrent use.
type Handler struct {
	cfg Config
	enc encoder

	mu         sync.Mutex
	sessions   map[string]*session
	handshakes uint64 // successful handshakes, to pace sweeps

	closed    chan struct{}
	closeOnce sync.Once
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Bus == nil {
		errs = append(errs, errors.New("bus: required"))
	}
	if cfg.Auth == nil {
		errs = append(errs, errors.New("auth: required"))
	}
	if cfg.LongPollTimeout < 0 {
		errs = append(errs, errors.New("long_poll_timeout: must not be negative"))
	}
	if cfg.ReconnectWindow < 0 {
		errs = append(errs, errors.New("reconnect_window: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LongPollTimeout == 0 {
		cfg.LongPollTimeout = DefaultLongPollTimeout
	}
	if cfg.ReconnectWindow == 0 {
		cfg.ReconnectWindow = DefaultReconnectWindow
	}
	return &Handler{cfg: cfg, sessions: map[string]*session{}, closed: make(chan struct{})}, nil
}

// Close releases every held /meta/connect (each answers at once) and stops
// holding new ones, so an http.Server can shut down without waiting out
// long polls. Sessions stay valid. Close is idempotent.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.closed) })
}

func (h *Handler) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

// request is what the messages of one POST share.
type request struct {
	r          *http.Request
	versionErr string // non-empty when the URL's API version is refused
	token      string // from the Authorization header; "" when absent
	hasCookie  bool
	browser    string // BAYEUX_BROWSER value, existing or to be set
	setCookie  bool
}

// ServeHTTP answers one Bayeux request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isWebSocketUpgrade(r) {
		// Long-polling only: a failed upgrade makes faye and cometd fall
		// back to long-polling.
		http.Error(w, "WebSocket is not supported; use long-polling", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Bayeux requests must be POSTed", http.StatusMethodNotAllowed)
		return
	}
	if h.cfg.Fault != nil {
		if status, body, ok := h.cfg.Fault(r); ok {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, readLimit+1))
	if err != nil {
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	if len(body) > readLimit {
		writeReplies(w, []reply{reply{}.fail(errMaxRequestSize)})
		return
	}
	msgs, err := parseMessages(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &request{r: r, versionErr: checkVersion(r.URL.Path), token: auth.BearerToken(r)}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		req.hasCookie, req.browser = true, c.Value
	}

	replies := make([]reply, len(msgs))
	var connects []int
	for i, m := range msgs {
		switch {
		case len(body) > maxRequestSize:
			replies[i] = newReply(m).fail(errMaxRequestSize)
		case !m.bad && m.channel == chConnect:
			connects = append(connects, i)
		default:
			replies[i] = h.handle(m, req)
		}
	}
	// Replies to the other messages come first, so a client sees its
	// subscribe confirmed before the events of that subscription; each
	// connect reply follows the events it carries.
	out := make([]reply, 0, len(msgs))
	for _, rep := range replies {
		if rep != nil { // nil: a connect, answered below
			out = append(out, rep)
		}
	}
	for _, i := range connects {
		events, rep := h.connect(msgs[i], req, len(msgs) > 1)
		out = append(out, events...)
		out = append(out, rep)
	}
	if req.setCookie {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: req.browser, Path: "/", HttpOnly: true, Secure: r.TLS != nil})
	}
	writeReplies(w, out)
}

// isWebSocketUpgrade reports a WebSocket handshake request.
func isWebSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.Contains(strings.ToLower(v), "websocket") {
			return true
		}
	}
	return false
}

// versionPattern matches an API version segment: 62.0, or 62.
var versionPattern = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,2})?$`)

// checkVersion returns the Bayeux error for the API version of a
// /cometd/{version}[/{messageType}] path, or "" when it is served. The
// /cometd/replay/{version} form jsforce builds for v36 is understood (and
// refused, as any version below 37.0).
func checkVersion(path string) string {
	p := strings.Trim(strings.TrimPrefix(path, "/cometd"), "/")
	segs := strings.Split(p, "/")
	if segs[0] == "replay" {
		segs = segs[1:]
	}
	if len(segs) == 0 || !versionPattern.MatchString(segs[0]) {
		return errVersionMissing
	}
	v, err := strconv.ParseFloat(segs[0], 64)
	if err != nil || v < minVersion {
		return errVersionOld
	}
	return ""
}

// writeReplies answers HTTP 200 with the replies as a JSON array.
func writeReplies(w http.ResponseWriter, out []reply) {
	body, err := json.Marshal(out)
	if err != nil {
		// Unreachable with the values this package builds; answer a
		// transport failure rather than a partial array.
		http.Error(w, "cannot encode reply", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// handle answers every message but /meta/connect.
func (h *Handler) handle(m *message, req *request) reply {
	if m.bad {
		return reply{}.fail(errBadMessage)
	}
	if m.channel == "" {
		return newReply(m).fail(errMissingChannel)
	}
	if m.channel == chHandshake {
		return h.handshake(m, req)
	}
	if req.versionErr != "" {
		return newReply(m).fail(req.versionErr)
	}
	switch m.channel {
	case chSubscribe:
		return h.subscribe(m, req)
	case chUnsubscribe:
		return h.unsubscribe(m, req)
	case chDisconnect:
		return h.disconnect(m)
	}
	if strings.HasPrefix(m.channel, "/meta/") {
		return newReply(m).fail(errUnknownMeta)
	}
	// Salesforce takes events through its APIs, not through Bayeux
	// publishes.
	return newReply(m).fail(errPublishDenied)
}
