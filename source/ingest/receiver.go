package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Deps are what a Receiver needs from its process.
type Deps struct {
	// Connector is the connector name (SFCONNECT_CONNECTOR_NAME).
	Connector string
	// Mode is the runner's resolved delivery mode: exactly_once writes a
	// retried notification once, anything else writes it again, flagged.
	Mode connectorlib.DeliveryMode
	// Kafka are the connection options, for reading the dedup topic.
	Kafka []kgo.Opt
	// Metrics are this source's metrics (NewMetrics); nil keeps them
	// unregistered.
	Metrics *Metrics
	// Logger logs session changes only; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Receiver is the HTTP side of the ingest source. It lives as long as the
// process; the runner opens a fresh session (Factory) for each Kafka
// session, and requests go to the open one. Between sessions requests get
// 503 and are retried by their senders.
type Receiver struct {
	cfg        Config
	deps       Deps
	dedupTopic string
	limits     map[string]*tokenBucket
	// readLimit bounds the records one Read returns (whole requests only,
	// so a larger request is returned alone).
	readLimit int

	mu  sync.Mutex
	cur *session
}

// New returns a Receiver for cfg (validated by the caller).
func New(cfg Config, deps Deps) *Receiver {
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	rc := &Receiver{cfg: cfg, deps: deps, dedupTopic: cfg.dedupTopic(deps.Connector), limits: map[string]*tokenBucket{},
		readLimit: readLimit(cfg)}
	for _, e := range cfg.Endpoints {
		if cfg.RateLimit > 0 {
			rc.limits[e] = newTokenBucket(cfg.RateLimit, cfg.RateBurst, deps.Now)
		}
	}
	return rc
}

// Factory returns the runner's source factory: each call is a new session.
func (rc *Receiver) Factory() connectorlib.SourceFactory {
	return func() (connectorlib.Source, error) { return newSession(rc), nil }
}

// readBatch is the usual bound on the records of one Read, which the runner
// commits in one transaction or tracks as in flight.
const readBatch = 5000

// readLimit returns the bound on one Read: readBatch, or the largest
// request (every notification or event with its dedup record) if larger.
func readLimit(cfg Config) int {
	return max(readBatch, 2*max(cfg.MaxEvents, maxNotifications), tombstoneChunk)
}

// MaxBatch returns the most records one Read of this receiver's sessions
// returns.
func (rc *Receiver) MaxBatch() int { return rc.readLimit }

func (rc *Receiver) now() time.Time { return rc.deps.Now() }

func (rc *Receiver) exactlyOnce() bool { return rc.deps.Mode == connectorlib.DeliveryExactlyOnce }

func (rc *Receiver) attach(s *session) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.cur = s
}

func (rc *Receiver) detach(s *session) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.cur == s {
		rc.cur = nil
	}
}

func (rc *Receiver) current() *session {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.cur
}

// Handler returns the HTTP handler of the configured endpoints: POST
// /outbound (SOAP) and POST /webhook (JSON).
func (rc *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	if rc.cfg.serves(EndpointOutbound) {
		mux.Handle("/outbound", rc.endpoint(EndpointOutbound))
	}
	if rc.cfg.serves(EndpointWebhook) {
		mux.Handle("/webhook", rc.endpoint(EndpointWebhook))
	}
	return mux
}

// Reject reasons (the reason label of sfconnect_ingest_rejects_total).
const (
	reasonMethod        = "method"
	reasonRateLimited   = "rate_limited"
	reasonContentType   = "content_type"
	reasonTooLarge      = "too_large"
	reasonUnauth        = "unauthenticated"
	reasonMalformed     = "malformed"
	reasonOrganization  = "organization"
	reasonUnknownObject = "unknown_object"
	reasonUnavailable   = "unavailable"
	reasonTimeout       = "timeout"
	reasonNotCommitted  = "not_committed"
)

// reply is what an endpoint answers.
type reply struct {
	status int
	reason string // reject reason; "" on success
	msg    string
	// accepted and duplicates are the counts of a success.
	accepted, duplicates int
	retryAfter           time.Duration
}

func (rc *Receiver) endpoint(name string) http.Handler {
	m := rc.deps.Metrics
	latency := m.RequestSeconds.WithLabelValues(rc.deps.Connector, name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rp := rc.serve(name, w, r)
		if rp.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(rp.retryAfter.Round(time.Second).Seconds())))
		}
		if rp.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		writeReply(w, name, rp)
		m.Requests.WithLabelValues(rc.deps.Connector, name, strconv.Itoa(rp.status)).Inc()
		if rp.reason != "" {
			m.Rejects.WithLabelValues(rc.deps.Connector, name, rp.reason).Inc()
		} else {
			m.Notifications.WithLabelValues(rc.deps.Connector, name, "written").Add(float64(rp.accepted - rp.duplicates))
			m.Notifications.WithLabelValues(rc.deps.Connector, name, "duplicate").Add(float64(rp.duplicates))
		}
		latency.Observe(time.Since(start).Seconds())
	})
}

// serve handles one request up to its reply. Nothing is queued until the
// request is authenticated and every notification in it parsed and
// accepted: a request is written whole or not at all.
func (rc *Receiver) serve(name string, w http.ResponseWriter, r *http.Request) reply {
	if r.Method != http.MethodPost {
		return reply{status: http.StatusMethodNotAllowed, reason: reasonMethod, msg: "only POST is accepted"}
	}
	if tb := rc.limits[name]; tb != nil {
		if wait := tb.take(); wait > 0 {
			return reply{status: http.StatusTooManyRequests, reason: reasonRateLimited, msg: "rate limit exceeded", retryAfter: max(wait, time.Second)}
		}
	}
	wantType := "application/json"
	method := rc.cfg.WebhookAuth
	if name == EndpointOutbound {
		wantType, method = "text/xml", rc.cfg.OutboundAuth
	}
	// Invariant: authenticate before anything is written. Methods that
	// do not need the body reject before reading it (and before telling an
	// unauthenticated caller anything about the endpoint).
	if method != AuthHMAC {
		if err := authenticate(method, r, nil, &rc.cfg); err != nil {
			return reply{status: http.StatusUnauthorized, reason: reasonUnauth, msg: err.Error()}
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != wantType {
		return reply{status: http.StatusUnsupportedMediaType, reason: reasonContentType,
			msg: fmt.Sprintf("content type must be %s", wantType)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return reply{status: http.StatusRequestEntityTooLarge, reason: reasonTooLarge,
				msg: fmt.Sprintf("body larger than %d bytes", rc.cfg.MaxBodyBytes)}
		}
		return reply{status: http.StatusBadRequest, reason: reasonMalformed, msg: "read body: incomplete request"}
	}
	if method == AuthHMAC {
		if err := authenticate(method, r, body, &rc.cfg); err != nil {
			return reply{status: http.StatusUnauthorized, reason: reasonUnauth, msg: err.Error()}
		}
	}
	now := rc.now()
	var items []item
	if name == EndpointOutbound {
		items, err = rc.parseOutbound(body, now)
	} else {
		items, err = rc.parseWebhook(body, r.Header.Get("Idempotency-Key"), now)
	}
	if err != nil {
		var rej *rejection
		if errors.As(err, &rej) {
			return reply{status: rej.status, reason: rej.reason, msg: rej.msg}
		}
		return reply{status: http.StatusInternalServerError, reason: reasonNotCommitted, msg: err.Error()}
	}
	return rc.write(r.Context(), items)
}

// rejection is a client error found while parsing.
type rejection struct {
	status      int
	reason, msg string
}

func (e *rejection) Error() string { return e.msg }

func (rc *Receiver) parseOutbound(body []byte, now time.Time) ([]item, error) {
	msg, err := ParseOutbound(body)
	if err != nil {
		return nil, &rejection{http.StatusBadRequest, reasonMalformed, err.Error()}
	}
	// 15-character prefix: the 18-character form only adds a checksum.
	if len(msg.OrganizationID) < 15 || msg.OrganizationID[:15] != rc.cfg.OrganizationID[:15] {
		return nil, &rejection{http.StatusForbidden, reasonOrganization, "organization id not accepted"}
	}
	for _, n := range msg.Notifications {
		if n.Object == "" {
			return nil, &rejection{http.StatusBadRequest, reasonMalformed, fmt.Sprintf("notification %s has no sObject type", n.ID)}
		}
		if !rc.cfg.acceptsObject(n.Object) {
			return nil, &rejection{http.StatusUnprocessableEntity, reasonUnknownObject, fmt.Sprintf("object %s is not accepted by this endpoint", n.Object)}
		}
	}
	return rc.outboundItems(msg, now)
}

func (rc *Receiver) parseWebhook(body []byte, idempotencyKey string, now time.Time) ([]item, error) {
	events, err := ParseWebhook(body, idempotencyKey, rc.cfg.MaxEvents)
	if err != nil {
		return nil, &rejection{http.StatusBadRequest, reasonMalformed, err.Error()}
	}
	for _, ev := range events {
		if !rc.cfg.acceptsObject(ev.Object) {
			return nil, &rejection{http.StatusUnprocessableEntity, reasonUnknownObject, fmt.Sprintf("object %s is not accepted by this endpoint", ev.Object)}
		}
	}
	return rc.webhookItems(events, now)
}

// write queues items with the open session and waits until they are
// committed, or fails.
func (rc *Receiver) write(ctx context.Context, items []item) reply {
	s := rc.current()
	if s == nil {
		return reply{status: http.StatusServiceUnavailable, reason: reasonUnavailable, msg: errUnavailable.Error(), retryAfter: time.Second}
	}
	req, waits, dups, err := s.submit(items)
	if err != nil {
		return reply{status: http.StatusServiceUnavailable, reason: reasonUnavailable, msg: err.Error(), retryAfter: time.Second}
	}
	timer := time.NewTimer(rc.cfg.AckTimeout)
	defer timer.Stop()
	for _, q := range append(waits, req) {
		select {
		case <-q.done:
			if q.err != nil {
				return reply{status: http.StatusServiceUnavailable, reason: reasonNotCommitted, msg: q.err.Error(), retryAfter: time.Second}
			}
		case <-timer.C:
			// The records may still commit; the sender's retry is then
			// recognised by its notification ids.
			return reply{status: http.StatusServiceUnavailable, reason: reasonTimeout, msg: "records not committed to Kafka in time; retry"}
		case <-ctx.Done():
			return reply{status: http.StatusServiceUnavailable, reason: reasonTimeout, msg: "request cancelled"}
		}
	}
	return reply{status: http.StatusOK, accepted: len(items), duplicates: dups}
}

// writeReply writes rp in the endpoint's format: a SOAP Ack or fault for
// Outbound Messages, JSON for webhooks.
func writeReply(w http.ResponseWriter, endpoint string, rp reply) {
	if endpoint == EndpointOutbound {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(rp.status)
		if rp.status == http.StatusOK {
			_, _ = io.WriteString(w, ackEnvelope)
			return
		}
		_, _ = w.Write(faultEnvelope(rp.status < 500, rp.msg))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rp.status)
	if rp.status == http.StatusOK {
		_, _ = fmt.Fprintf(w, `{"accepted":%d,"duplicates":%d}`+"\n", rp.accepted, rp.duplicates)
		return
	}
	b, _ := json.Marshal(map[string]string{"error": rp.msg})
	_, _ = w.Write(append(b, '\n'))
}
