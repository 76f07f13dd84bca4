package rest

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// saveResult is the body of a successful create or upsert:
// {"id","success":true,"errors":[]} and, for upserts from API 46.0,
// "created".
func saveResult(id string, created *bool) object {
	o := object{{"id", id}, {"success", true}, {"errors", []any{}}}
	if created != nil {
		o = append(o, member{"created", *created})
	}
	return o
}

// recordFields returns a request body's fields without "attributes".
func recordFields(body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		if !strings.EqualFold(k, "attributes") {
			out[k] = v
		}
	}
	return out
}

// idInInsert is the error for an insert that names an Id. [UNVERIFIED: the
// wording is the SOAP API's; the REST API is assumed to share it.]
func idInInsert(fields map[string]any) *org.Error {
	for k, v := range fields {
		if strings.EqualFold(k, "Id") && v != nil && v != "" {
			return &org.Error{Code: codeInvalidField, Message: "cannot specify Id in an insert call", Fields: []string{}}
		}
	}
	return nil
}

// withoutNullID drops an empty or null Id from insert fields.
func withoutNullID(fields map[string]any) map[string]any {
	for k, v := range fields {
		if strings.EqualFold(k, "Id") && (v == nil || v == "") {
			delete(fields, k)
		}
	}
	return fields
}

// malformedID reports whether id is not an id of object d, with the error
// Salesforce gives for it on updates and deletes.
func malformedID(d *salesforce.SObjectDescribe, id string) *org.Error {
	nid, err := org.NormalizeID(id)
	if err == nil && nid[:3] == d.KeyPrefix {
		return nil
	}
	return &org.Error{Code: codeMalformedID, Message: fmt.Sprintf("%s ID: id value of incorrect type: %s", d.Label, id), Fields: []string{"Id"}}
}

// noSuchColumn is the INVALID_FIELD error for an unknown field name.
func noSuchColumn(field, object string) apiError {
	return apiError{ErrorCode: codeInvalidField, Message: "No such column '" + field + "' on entity '" + object +
		"'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. " +
		"Please reference your WSDL or the describe call for the appropriate names."}
}

// fieldsParam parses ?fields=a,b against d. ok is false when an error
// response was written; nil means all fields.
func fieldsParam(w http.ResponseWriter, r *http.Request, d *salesforce.SObjectDescribe) ([]string, bool) {
	raw := r.URL.Query().Get("fields")
	if raw == "" {
		return nil, true
	}
	var out []string
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		fl, ok := d.Field(f)
		if !ok {
			writeErrors(w, http.StatusBadRequest, noSuchColumn(f, d.Name))
			return nil, false
		}
		out = append(out, fl.Name)
	}
	return out, true
}

// publish sends a platform event or defines a PushTopic for a create of
// such a "type"; it reports false when typ is neither. txOpen tells whether
// a transaction of the request holds the org, in which case the callbacks
// (which may read the org) must not run.
func (c *call) publish(typ string, fields map[string]any, txOpen bool) (id string, err *org.Error, handled bool) {
	h := c.h
	switch {
	case isPlatformEvent(typ) && h.cfg.PublishPlatformEvent != nil:
	case isPushTopic(typ) && h.cfg.CreatePushTopic != nil:
	default:
		return "", nil, false
	}
	if txOpen {
		return "", &org.Error{Code: "NOT_SUPPORTED_IN_SFSIM", Fields: []string{},
			Message: "sfsim cannot publish platform events or create PushTopics after a write in the same composite request"}, true
	}
	if isPushTopic(typ) {
		id, err = h.cfg.CreatePushTopic(fields)
	} else {
		id, err = h.cfg.PublishPlatformEvent(typ, fields, c.origin)
	}
	return id, err, true
}

// createRecord answers POST /sobjects/{type}.
func (h *Handler) createRecord(w http.ResponseWriter, r *http.Request, c *call, typ string) {
	var d *salesforce.SObjectDescribe
	special := (isPlatformEvent(typ) && h.cfg.PublishPlatformEvent != nil) || (isPushTopic(typ) && h.cfg.CreatePushTopic != nil)
	if !special {
		var ok bool
		if d, ok = c.view().describe(typ); !ok {
			writeNotFound(w)
			return
		}
		typ = d.Name
	}
	body, ok := readObject(w, r, typ)
	if !ok {
		return
	}
	fields := recordFields(body)
	var id string
	var oerr *org.Error
	if special {
		id, oerr, _ = c.publish(typ, fields, c.txOpen())
	} else if oerr = idInInsert(fields); oerr == nil {
		c.inTx(func(s *txState) { id, oerr = s.begin().Create(typ, withoutNullID(fields)) })
	}
	if oerr != nil {
		writeOrgError(w, oerr)
		return
	}
	w.Header().Set("Location", recordPath(c.version, typ, id))
	writeJSON(w, http.StatusCreated, saveResult(id, nil))
}

// serveRecord answers /sobjects/{type}/{id}: GET, PATCH and DELETE, and
// POST /sobjects/{type}/Id, which creates a record (upsert with a null Id).
func (h *Handler) serveRecord(w http.ResponseWriter, r *http.Request, c *call) {
	if r.Method == http.MethodPost && strings.EqualFold(r.PathValue("id"), "Id") {
		h.createRecord(w, r, c, r.PathValue("type"))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPatch, http.MethodDelete:
	default:
		writeMethodNotAllowed(w, r, "HEAD", "GET", "PATCH", "DELETE")
		return
	}
	d, ok := c.view().describe(r.PathValue("type"))
	if !ok {
		writeNotFound(w)
		return
	}
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		fields, ok := fieldsParam(w, r, d)
		if !ok {
			return
		}
		rec, err := c.view().get(d.Name, id)
		if err != nil {
			if err.Code == org.CodeEntityIsDeleted {
				writeNotFound(w)
			} else {
				writeOrgError(w, err)
			}
			return
		}
		writeJSON(w, http.StatusOK, renderRecord(d, rec, c.version, fields))
	case http.MethodPatch:
		if err := malformedID(d, id); err != nil {
			writeOrgError(w, err)
			return
		}
		body, ok := readObject(w, r, d.Name)
		if !ok {
			return
		}
		var oerr *org.Error
		c.inTx(func(s *txState) { oerr = s.begin().Update(d.Name, id, recordFields(body)) })
		if oerr != nil {
			writeOrgError(w, oerr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if err := malformedID(d, id); err != nil {
			writeOrgError(w, err)
			return
		}
		var oerr *org.Error
		c.inTx(func(s *txState) { oerr = s.begin().Delete(d.Name, id) })
		if oerr != nil {
			writeOrgError(w, oerr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// multipleChoices answers 300 with the URLs of the matching records.
func multipleChoices(w http.ResponseWriter, c *call, typ string, ids []string) {
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = recordPath(c.version, typ, id)
	}
	writeJSON(w, http.StatusMultipleChoices, urls)
}

// serveExternalID answers /sobjects/{type}/{field}/{value}: GET, PATCH
// (upsert) and DELETE by external id.
func (h *Handler) serveExternalID(w http.ResponseWriter, r *http.Request, c *call) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPatch, http.MethodDelete:
	default:
		writeMethodNotAllowed(w, r, "HEAD", "GET", "PATCH", "DELETE")
		return
	}
	d, ok := c.view().describe(r.PathValue("type"))
	if !ok {
		writeNotFound(w)
		return
	}
	field, value := r.PathValue("field"), r.PathValue("value")
	if fl, ok := d.Field(field); ok {
		field = fl.Name
	}
	if field == "Id" {
		if nid, err := org.NormalizeID(value); err == nil {
			value = nid
		}
	}
	if r.Method == http.MethodPatch {
		h.upsert(w, r, c, d, field, value)
		return
	}
	var fields []string
	if r.Method != http.MethodDelete {
		if fields, ok = fieldsParam(w, r, d); !ok {
			return
		}
	}
	var (
		ids  []string
		rec  org.Record
		oerr *org.Error
	)
	c.inTx(func(s *txState) {
		tx := s.begin()
		if ids, oerr = tx.FindByField(d.Name, field, value); oerr != nil || len(ids) != 1 {
			return
		}
		if r.Method == http.MethodDelete {
			oerr = tx.Delete(d.Name, ids[0])
		} else {
			rec, oerr = tx.Get(d.Name, ids[0])
		}
	})
	switch {
	case oerr != nil:
		writeOrgError(w, oerr)
	case len(ids) == 0:
		writeNotFound(w)
	case len(ids) > 1:
		multipleChoices(w, c, d.Name, ids)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, renderRecord(d, rec, c.version, fields))
	}
}

// upsertBodyError rejects an upsert body naming Id or the external id
// field, which Salesforce documents as an error. [UNVERIFIED wording]
func upsertBodyError(fields map[string]any, field string) *org.Error {
	for k := range fields {
		switch {
		case strings.EqualFold(k, "Id"):
			return &org.Error{Code: codeInvalidField, Fields: []string{"Id"},
				Message: "Id is not allowed in the request body of an upsert by external ID"}
		case strings.EqualFold(k, field):
			return &org.Error{Code: codeInvalidField, Fields: []string{field},
				Message: fmt.Sprintf("%s is the external ID of this upsert and is not allowed in the request body", field)}
		}
	}
	return nil
}

// upsert answers PATCH /sobjects/{type}/{field}/{value}.
func (h *Handler) upsert(w http.ResponseWriter, r *http.Request, c *call, d *salesforce.SObjectDescribe, field, value string) {
	body, ok := readObject(w, r, d.Name)
	if !ok {
		return
	}
	fields := recordFields(body)
	if err := upsertBodyError(fields, field); err != nil {
		writeOrgError(w, err)
		return
	}
	updateOnly := strings.EqualFold(r.URL.Query().Get("updateOnly"), "true")
	var (
		id      string
		ids     []string
		created bool
		oerr    *org.Error
	)
	c.inTx(func(s *txState) {
		tx := s.begin()
		if ids, oerr = tx.FindByField(d.Name, field, value); oerr != nil || len(ids) > 1 {
			return
		}
		if len(ids) == 0 && (updateOnly || field == "Id") {
			return
		}
		id, created, oerr = tx.Upsert(d.Name, field, value, fields)
	})
	switch {
	case oerr != nil:
		writeOrgError(w, oerr)
	case len(ids) > 1:
		multipleChoices(w, c, d.Name, ids)
	case id == "":
		writeNotFound(w) // updateOnly (or upsert by Id) without a match
	case created:
		var cr *bool
		if c.major >= 46 {
			cr = &created
		}
		w.Header().Set("Location", recordPath(c.version, d.Name, id))
		writeJSON(w, http.StatusCreated, saveResult(id, cr))
	case c.major >= 46:
		writeJSON(w, http.StatusOK, saveResult(id, &created))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
