package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxEditBody bounds an edit request.
const maxEditBody = 64 << 10

// Edit is an edit form's submission: the record and its new values. Empty
// values are left unchanged.
type Edit struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	City string `json:"city"`
}

// decodeEdit reads and checks an edit; it answers the error itself.
func decodeEdit(w http.ResponseWriter, req *http.Request) (Edit, bool) {
	var e Edit
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxEditBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		http.Error(w, "bad edit: "+err.Error(), http.StatusBadRequest)
		return e, false
	}
	e.ID, e.Name, e.City = strings.TrimSpace(e.ID), strings.TrimSpace(e.Name), strings.TrimSpace(e.City)
	if e.ID == "" || (e.Name == "" && e.City == "") {
		http.Error(w, "bad edit: an id and a name or a city are required", http.StatusBadRequest)
		return e, false
	}
	return e, true
}

// editSalesforce applies an edit in the simulated org as a user's edit in
// the Salesforce UI (no API client), which the source streams like any
// other.
func (s *Server) editSalesforce(w http.ResponseWriter, req *http.Request) {
	e, ok := decodeEdit(w, req)
	if !ok {
		return
	}
	fields := map[string]any{}
	if e.Name != "" {
		fields["Name"] = e.Name
	}
	if e.City != "" {
		fields["BillingCity"] = e.City
	}
	if err := s.deps.Salesforce.Update("Account", e.ID, fields); err != nil {
		http.Error(w, "Salesforce refused the edit: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// editWebApp publishes the edit as the web application would: a web-app
// change envelope (schemas/webapp_change.avsc, JSON) on the web-app topic,
// keyed by the record Id, for the Salesforce sink to write back. It answers
// once Kafka acknowledged the change.
func (s *Server) editWebApp(w http.ResponseWriter, req *http.Request) {
	e, ok := decodeEdit(w, req)
	if !ok {
		return
	}
	fields := map[string]any{}
	if e.Name != "" {
		fields["name"] = e.Name
	}
	if e.City != "" {
		fields["city"] = e.City
	}
	if err := s.publishChange(req.Context(), e.ID, fields); err != nil {
		http.Error(w, "publish the web-app change: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// publishChange publishes one web-app UPDATE of the Account id, with
// web-app field names, and returns once Kafka acknowledged it.
func (s *Server) publishChange(ctx context.Context, id string, fields map[string]any) error {
	now := time.Now()
	s.mu.Lock()
	s.edits++
	n := s.edits
	s.mu.Unlock()
	change := map[string]any{
		"envelope_version": 1, "object": "customer", "operation": "UPDATE", "record_id": id,
		"fields": fields, "changed_at": now.UnixMilli(),
		"idempotency_key": fmt.Sprintf("demo-%d-%d", now.UnixNano(), n),
	}
	b, err := json.Marshal(change)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.deps.Producer.ProduceSync(ctx, &kgo.Record{Topic: s.deps.WebAppTopic, Key: []byte(id), Value: b}).FirstErr()
}
