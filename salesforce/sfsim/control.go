package sfsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// RecordError is a Salesforce record error returned by the control API:
// a status code such as REQUIRED_FIELD_MISSING, a message and the fields.
type RecordError = org.Error

// Tx is a transaction opened with Sim.Transaction: every change made
// through it commits together, with one transactionKey, and changes that
// are the same for several records become one change event.
type Tx struct{ tx *org.Tx }

// Create inserts a record and returns its id.
func (t *Tx) Create(object string, fields map[string]any) (string, error) {
	id, err := t.tx.Create(object, fields)
	if err != nil {
		return "", err
	}
	return id, nil
}

// Update changes fields of a record; a nil value nulls the field.
func (t *Tx) Update(object, id string, fields map[string]any) error {
	if err := t.tx.Update(object, id, fields); err != nil {
		return err
	}
	return nil
}

// Delete moves a record to the recycle bin.
func (t *Tx) Delete(object, id string) error {
	if err := t.tx.Delete(object, id); err != nil {
		return err
	}
	return nil
}

// Undelete restores a record from the recycle bin.
func (t *Tx) Undelete(object, id string) error {
	if err := t.tx.Undelete(object, id); err != nil {
		return err
	}
	return nil
}

// Transaction runs fn in one transaction made as a user in the UI would
// (no API change origin). If fn returns an error, nothing is committed.
func (s *Sim) Transaction(fn func(*Tx) error) error {
	tx := s.org.Begin(org.Origin{})
	if err := fn(&Tx{tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	tx.Commit()
	return nil
}

// TransactionAs is Transaction made as another user of the org, such as a
// person editing in the UI while the integration user (the one every API
// session belongs to) syncs: the records' CreatedById and LastModifiedById
// and the change events' commitUser are userID, a 15- or 18-character
// User id (prefix 005).
func (s *Sim) TransactionAs(userID string, fn func(*Tx) error) error {
	if !strings.HasPrefix(userID, "005") || (len(userID) != 15 && len(userID) != 18) {
		return fmt.Errorf("sfsim: %q is not a User id", userID)
	}
	tx := s.org.BeginAs(org.Origin{}, userID)
	if err := fn(&Tx{tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	tx.Commit()
	return nil
}

// Create inserts one record in its own transaction.
func (s *Sim) Create(object string, fields map[string]any) (string, error) {
	var id string
	err := s.Transaction(func(tx *Tx) (err error) { id, err = tx.Create(object, fields); return err })
	return id, err
}

// Update changes one record in its own transaction.
func (s *Sim) Update(object, id string, fields map[string]any) error {
	return s.Transaction(func(tx *Tx) error { return tx.Update(object, id, fields) })
}

// Delete deletes one record in its own transaction.
func (s *Sim) Delete(object, id string) error {
	return s.Transaction(func(tx *Tx) error { return tx.Delete(object, id) })
}

// Undelete restores one record in its own transaction.
func (s *Sim) Undelete(object, id string) error {
	return s.Transaction(func(tx *Tx) error { return tx.Undelete(object, id) })
}

// Get returns a copy of a record.
func (s *Sim) Get(object, id string) (map[string]any, error) {
	rec, err := s.org.Get(object, id)
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// Records returns copies of all live records of an object.
func (s *Sim) Records(object string) ([]map[string]any, error) {
	recs, err := s.org.Records(object)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(recs))
	for i, r := range recs {
		out[i] = r
	}
	return out, nil
}

// Describe returns an object's describe.
func (s *Sim) Describe(object string) (*salesforce.SObjectDescribe, bool) {
	d, _, ok := s.org.Describe(object)
	return d, ok
}

// AddField adds a field to an object, as an admin would; change events
// published afterwards carry a new schema id.
func (s *Sim) AddField(object string, f salesforce.Field) error { return s.org.AddField(object, f) }

// AddValidationRule makes writes of object fail with
// FIELD_CUSTOM_VALIDATION_EXCEPTION on field when reject returns true for
// the record as it would be after the write.
func (s *Sim) AddValidationRule(object, field, message string, reject func(record map[string]any) bool) {
	s.org.AddValidationRule(org.ValidationRule{Object: object, Field: field, Message: message,
		Reject: func(r org.Record) bool { return reject(r) }})
}

// PublishPlatformEvent publishes a platform event on /event/<name> and
// returns its replay id.
func (s *Sim) PublishPlatformEvent(name string, fields map[string]any) (int64, error) {
	ev, err := s.platformEvent(name, fields)
	if err != nil {
		return 0, err
	}
	return s.bus.Publish(ev)[0], nil
}

// platformEvent validates and builds a platform event.
func (s *Sim) platformEvent(name string, fields map[string]any) (*bus.Event, *org.Error) {
	defs, ok := s.cfg.platformEvents[name]
	if !ok {
		return nil, &org.Error{Code: org.CodeInvalidType, Message: fmt.Sprintf("sObject type '%s' is not supported.", name), Fields: []string{}}
	}
	body := map[string]any{}
	for k, v := range fields {
		var match string
		for _, d := range defs {
			if strings.EqualFold(d.Name, k) {
				match = d.Name
			}
		}
		if match == "" {
			return nil, &org.Error{Code: org.CodeInvalidField, Message: fmt.Sprintf("No such column '%s' on sobject of type %s", k, name), Fields: []string{k}}
		}
		body[match] = v
	}
	now := s.clock.Now()
	body["CreatedDate"] = org.FormatDateTime(now)
	body["CreatedById"] = s.org.UserID()
	var u [16]byte
	_, _ = rand.Read(u[:])
	h := hex.EncodeToString(u[:])
	uuid := h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + h[16:20] + "-" + h[20:]
	// The describe makes the event's schema (and so its schema id) the
	// same on every surface.
	describe := &salesforce.SObjectDescribe{Name: name, Label: name, Fields: defs}
	return &bus.Event{Kind: bus.KindPlatform, Channel: "/event/" + name, Fields: body, EventUUID: uuid, Describe: describe}, nil
}

// ExpireTokens expires every access token: the next call of any client
// gets INVALID_SESSION_ID (or its gRPC and CometD equivalents).
func (s *Sim) ExpireTokens() { s.auth.ExpireAll() }

// FailNext makes the next n requests to surface fail with f (or, with
// f.Status 0 and a Delay, only slows them down).
func (s *Sim) FailNext(surface Surface, n int, f Fault) { s.faults.add(surface, n, f) }

// InjectGap publishes a gap event (GAP_CREATE, GAP_UPDATE, GAP_DELETE or
// GAP_UNDELETE) for records of object and returns its replay id.
func (s *Sim) InjectGap(object string, recordIDs []string, changeType string) (int64, error) {
	switch changeType {
	case bus.GapCreate, bus.GapUpdate, bus.GapDelete, bus.GapUndelete:
	default:
		return 0, fmt.Errorf("inject gap: change type must be GAP_CREATE, GAP_UPDATE, GAP_DELETE or GAP_UNDELETE, got %q", changeType)
	}
	d, v, ok := s.org.Describe(object)
	if !ok {
		return 0, fmt.Errorf("inject gap: no object %s", object)
	}
	return s.bus.InjectGap(&org.Change{Object: d.Name, RecordIDs: recordIDs, Describe: d, DescribeVersion: v}, changeType), nil
}

// InjectOverflow publishes a GAP_OVERFLOW event for object and returns its
// replay id.
func (s *Sim) InjectOverflow(object string) (int64, error) {
	d, v, ok := s.org.Describe(object)
	if !ok {
		return 0, fmt.Errorf("inject overflow: no object %s", object)
	}
	return s.bus.InjectGap(&org.Change{Object: d.Name, RecordIDs: []string{bus.OverflowRecordID}, Describe: d, DescribeVersion: v}, bus.GapOverflow), nil
}

// AdvanceClock moves the simulator's clock forward: tokens expire and
// events leave the retention window as if that time had passed.
func (s *Sim) AdvanceClock(d time.Duration) { s.clock.Advance(d) }

// Now returns the simulator's clock.
func (s *Sim) Now() time.Time { return s.clock.Now() }

// SetAPIBudget sets the daily API limit and how much of it is used.
func (s *Sim) SetAPIBudget(used, limit int) { s.org.SetAPIBudget(used, limit) }

// APIUsage returns the API requests used today and the daily limit.
func (s *Sim) APIUsage() (used, limit int) { return s.org.APIUsage() }

// LatestReplayID returns the replay id of the newest event.
func (s *Sim) LatestReplayID() int64 { return s.bus.Latest() }
