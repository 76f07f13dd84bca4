package sfsim

import (
	"net/http"
	"sync"
	"time"
)

// namedSenders finds the senders defined over the control API by name.
type namedSenders struct {
	mu       sync.Mutex
	outbound map[string]*Outbound
	webhooks map[string]*WebhookEmitter
}

// retryJSON is a RetryPolicy in the control API (durations as Go
// duration strings, e.g. "200ms"; empty is the default).
type retryJSON struct {
	Initial     string `json:"initial"`
	Max         string `json:"max"`
	GiveUpAfter string `json:"giveUpAfter"`
	Timeout     string `json:"timeout"`
}

func (r retryJSON) policy() (RetryPolicy, bool) {
	var p RetryPolicy
	for _, f := range []struct {
		s string
		d *time.Duration
	}{{r.Initial, &p.Initial}, {r.Max, &p.Max}, {r.GiveUpAfter, &p.GiveUpAfter}, {r.Timeout, &p.Timeout}} {
		if f.s == "" {
			continue
		}
		d, err := time.ParseDuration(f.s)
		if err != nil || d <= 0 {
			return p, false
		}
		*f.d = d
	}
	return p, true
}

// senderRoutes adds the sender endpoints to the control API:
// POST /sim/outbound-messages and /sim/webhooks define one, GET
// .../{name} returns its counters and delivery attempts.
func (s *Sim) senderRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /sim/outbound-messages", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name          string    `json:"name"`
			Object        string    `json:"object"`
			Fields        []string  `json:"fields"`
			EndpointURL   string    `json:"endpointUrl"`
			SendSessionID bool      `json:"sendSessionId"`
			Retry         retryJSON `json:"retry"`
		}
		if !decode(w, r, &body) || !s.senderName(w, body.Name) {
			return
		}
		p, ok := body.Retry.policy()
		if !ok {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "retry durations must be positive Go durations"})
			return
		}
		o, err := s.AddOutboundMessage(OutboundMessage{Name: body.Name, Object: body.Object, Fields: body.Fields,
			EndpointURL: body.EndpointURL, SendSessionID: body.SendSessionID, Retry: p})
		if writeErr(w, err) {
			return
		}
		s.named.mu.Lock()
		if s.named.outbound == nil {
			s.named.outbound = map[string]*Outbound{}
		}
		s.named.outbound[body.Name] = o
		s.named.mu.Unlock()
		writeJSONStatus(w, http.StatusCreated, map[string]any{"actionId": o.ActionID()})
	})
	mux.HandleFunc("GET /sim/outbound-messages/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.named.mu.Lock()
		o := s.named.outbound[r.PathValue("name")]
		s.named.mu.Unlock()
		if o == nil {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"error": "no such outbound message"})
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"stats": o.Stats(), "deliveries": o.Deliveries()})
	})
	mux.HandleFunc("POST /sim/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name            string            `json:"name"`
			Object          string            `json:"object"`
			URL             string            `json:"url"`
			Headers         map[string]string `json:"headers"`
			HMACSecret      string            `json:"hmacSecret"`
			SignatureHeader string            `json:"signatureHeader"`
			MaxAttempts     int               `json:"maxAttempts"`
			Retry           retryJSON         `json:"retry"`
		}
		if !decode(w, r, &body) || !s.senderName(w, body.Name) {
			return
		}
		p, ok := body.Retry.policy()
		if !ok {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "retry durations must be positive Go durations"})
			return
		}
		def := Webhook{Name: body.Name, Object: body.Object, URL: body.URL, Headers: body.Headers,
			SignatureHeader: body.SignatureHeader, MaxAttempts: body.MaxAttempts, Retry: p}
		if body.HMACSecret != "" {
			def.HMACSecret = []byte(body.HMACSecret)
		}
		wh, err := s.AddWebhook(def)
		if writeErr(w, err) {
			return
		}
		s.named.mu.Lock()
		if s.named.webhooks == nil {
			s.named.webhooks = map[string]*WebhookEmitter{}
		}
		s.named.webhooks[body.Name] = wh
		s.named.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /sim/webhooks/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.named.mu.Lock()
		wh := s.named.webhooks[r.PathValue("name")]
		s.named.mu.Unlock()
		if wh == nil {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"error": "no such webhook"})
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"stats": wh.Stats(), "deliveries": wh.Deliveries()})
	})
}

// senderName checks that a sender's name is set and not taken.
func (s *Sim) senderName(w http.ResponseWriter, name string) bool {
	if !apiName(name) {
		writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "name must be an API name"})
		return false
	}
	s.named.mu.Lock()
	defer s.named.mu.Unlock()
	if s.named.outbound[name] != nil || s.named.webhooks[name] != nil {
		writeJSONStatus(w, http.StatusConflict, map[string]any{"error": "a sender with this name exists"})
		return false
	}
	return true
}
