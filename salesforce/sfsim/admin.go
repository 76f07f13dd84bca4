package sfsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// maxAdminBody bounds control API request bodies.
const maxAdminBody = 1 << 20

// adminHandler is the control API under /sim/, for tests in other
// languages, the demo and operators poking a dev org. It changes the org
// the way the Go control methods do. It is not authenticated: the
// simulator listens on loopback.
func (s *Sim) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sim/records/{object}", func(w http.ResponseWriter, r *http.Request) {
		var fields map[string]any
		if !decode(w, r, &fields) {
			return
		}
		id, err := s.Create(r.PathValue("object"), fields)
		if writeErr(w, err) {
			return
		}
		writeJSONStatus(w, http.StatusCreated, map[string]any{"id": id})
	})
	mux.HandleFunc("PATCH /sim/records/{object}/{id}", func(w http.ResponseWriter, r *http.Request) {
		var fields map[string]any
		if !decode(w, r, &fields) {
			return
		}
		if writeErr(w, s.Update(r.PathValue("object"), r.PathValue("id"), fields)) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /sim/records/{object}/{id}", func(w http.ResponseWriter, r *http.Request) {
		if writeErr(w, s.Delete(r.PathValue("object"), r.PathValue("id"))) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/records/{object}", func(w http.ResponseWriter, r *http.Request) {
		recs, err := s.Records(r.PathValue("object"))
		if writeErr(w, err) {
			return
		}
		writeJSONStatus(w, http.StatusOK, recs)
	})
	mux.HandleFunc("POST /sim/transaction", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Ops []struct {
				Op     string         `json:"op"`
				Object string         `json:"object"`
				ID     string         `json:"id"`
				Fields map[string]any `json:"fields"`
			} `json:"ops"`
		}
		if !decode(w, r, &body) {
			return
		}
		var ids []string
		err := s.Transaction(func(tx *Tx) error {
			for _, op := range body.Ops {
				var err error
				switch op.Op {
				case "create":
					var id string
					id, err = tx.Create(op.Object, op.Fields)
					ids = append(ids, id)
				case "update":
					err, ids = tx.Update(op.Object, op.ID, op.Fields), append(ids, op.ID)
				case "delete":
					err, ids = tx.Delete(op.Object, op.ID), append(ids, op.ID)
				case "undelete":
					err, ids = tx.Undelete(op.Object, op.ID), append(ids, op.ID)
				default:
					err = &org.Error{Code: "INVALID_OPERATION", Message: fmt.Sprintf("unknown op %q", op.Op)}
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if writeErr(w, err) {
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"ids": ids})
	})
	mux.HandleFunc("POST /sim/events/{name}", func(w http.ResponseWriter, r *http.Request) {
		var fields map[string]any
		if !decode(w, r, &fields) {
			return
		}
		replay, err := s.PublishPlatformEvent(r.PathValue("name"), fields)
		if writeErr(w, err) {
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"replayId": replay})
	})
	mux.HandleFunc("POST /sim/tokens/expire", func(w http.ResponseWriter, _ *http.Request) {
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/streams/drop", func(w http.ResponseWriter, _ *http.Request) {
		s.DropStreams()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Surface Surface `json:"surface"`
			Count   int     `json:"count"`
			Fault
			DelayMS int `json:"delayMs"`
		}
		if !decode(w, r, &body) {
			return
		}
		switch body.Surface {
		case SurfaceREST, SurfaceOAuth, SurfacePubSub, SurfaceCometD:
		default:
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "surface must be rest, oauth, pubsub or cometd"})
			return
		}
		var problem string
		switch {
		case body.Fault.Delay != 0:
			problem = "give the delay as delayMs, in milliseconds"
		case body.DelayMS < 0:
			problem = "delayMs must not be negative"
		case body.Status != 0 && (body.Status < 400 || body.Status > 599):
			problem = "status must be an HTTP error status (400-599)"
		case body.Status == 0 && body.DelayMS == 0:
			problem = "a fault needs a status, a delayMs or both"
		}
		if problem != "" {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": problem})
			return
		}
		if body.Count <= 0 {
			body.Count = 1
		}
		body.Fault.Delay = time.Duration(body.DelayMS) * time.Millisecond
		s.FailNext(body.Surface, body.Count, body.Fault)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/gap", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Object     string   `json:"object"`
			RecordIDs  []string `json:"recordIds"`
			ChangeType string   `json:"changeType"`
		}
		if !decode(w, r, &body) || s.unknownObject(w, body.Object) {
			return
		}
		replay, err := s.InjectGap(body.Object, body.RecordIDs, body.ChangeType)
		if writeErr(w, err) {
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"replayId": replay})
	})
	mux.HandleFunc("POST /sim/overflow", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Object string `json:"object"`
		}
		if !decode(w, r, &body) || s.unknownObject(w, body.Object) {
			return
		}
		replay, err := s.InjectOverflow(body.Object)
		if writeErr(w, err) {
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"replayId": replay})
	})
	mux.HandleFunc("POST /sim/clock/advance", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Seconds float64 `json:"seconds"`
		}
		if !decode(w, r, &body) {
			return
		}
		if body.Seconds <= 0 {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "seconds must be positive"})
			return
		}
		s.AdvanceClock(time.Duration(body.Seconds * float64(time.Second)))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/budget", func(w http.ResponseWriter, _ *http.Request) {
		used, limit := s.APIUsage()
		writeJSONStatus(w, http.StatusOK, map[string]any{"used": used, "limit": limit})
	})
	mux.HandleFunc("PUT /sim/budget", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Used  int `json:"used"`
			Limit int `json:"limit"`
		}
		if !decode(w, r, &body) {
			return
		}
		if body.Limit <= 0 || body.Used < 0 {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "limit must be positive and used not negative"})
			return
		}
		s.SetAPIBudget(body.Used, body.Limit)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/fields/{object}", func(w http.ResponseWriter, r *http.Request) {
		var f salesforce.Field
		if !decode(w, r, &f) || s.unknownObject(w, r.PathValue("object")) {
			return
		}
		if f.Name == "" || f.Type == "" {
			writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "a field needs a name and a type"})
			return
		}
		if f.Label == "" {
			f.Label = f.Name
		}
		if writeErr(w, s.AddField(r.PathValue("object"), f)) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.senderRoutes(mux)
	mux.HandleFunc("GET /sim/status", func(w http.ResponseWriter, _ *http.Request) {
		used, limit := s.APIUsage()
		writeJSONStatus(w, http.StatusOK, map[string]any{
			"orgId": s.org.OrgID(), "latestReplayId": s.bus.Latest(), "earliestReplayId": s.bus.Earliest(),
			"apiUsed": used, "apiLimit": limit, "objects": s.org.Objects(), "now": s.clock.Now().UTC(),
		})
	})
	return mux
}

// decode reads a JSON body into v (an empty body is {}). Unknown keys are
// refused, so that a typo does not silently queue the wrong fault.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err == nil && len(body) > maxAdminBody {
		err = errors.New("body too large")
	}
	if err == nil {
		if len(body) == 0 {
			body = []byte("{}")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
		if _, tokErr := dec.Token(); err == nil && !errors.Is(tokErr, io.EOF) {
			err = errors.New("invalid data after the top-level value")
		}
	}
	if err != nil {
		writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": "malformed JSON body: " + err.Error()})
		return false
	}
	return true
}

// unknownObject answers 404 NOT_FOUND when the org has no object named
// name, and reports whether it did.
func (s *Sim) unknownObject(w http.ResponseWriter, name string) bool {
	if _, _, ok := s.org.Describe(name); ok {
		return false
	}
	writeJSONStatus(w, http.StatusNotFound, []map[string]any{{"errorCode": org.CodeNotFound,
		"message": fmt.Sprintf("sObject type '%s' is not supported.", name), "fields": []string{}}})
	return true
}

// writeErr writes err, if any, and reports whether it did.
func writeErr(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	var re *org.Error
	if errors.As(err, &re) {
		status := http.StatusBadRequest
		// An unknown record, object or platform event is a missing
		// resource.
		if re.Code == org.CodeNotFound || re.Code == org.CodeInvalidType {
			status = http.StatusNotFound
		}
		writeJSONStatus(w, status, []map[string]any{{"errorCode": re.Code, "message": re.Message, "fields": re.Fields}})
		return true
	}
	writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
	return true
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
