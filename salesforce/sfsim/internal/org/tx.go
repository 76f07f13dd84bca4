package org

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
)

// Change types of a change event.
const (
	ChangeCreate   = "CREATE"
	ChangeUpdate   = "UPDATE"
	ChangeDelete   = "DELETE"
	ChangeUndelete = "UNDELETE"
)

// Origin is where a write came from; it becomes the change events'
// changeOrigin.
type Origin struct {
	// API is rest, soap, bulkapi or apex; empty for changes made in the UI
	// (or by the simulator's control API acting as a user).
	API string
	// Version is the API version, e.g. 62.0.
	Version string
	// Client is the client id from Sforce-Call-Options: client=<id>.
	Client string
}

// String renders the changeOrigin value:
// com/salesforce/api/<api>/<version>;client=<id>.
func (o Origin) String() string {
	if o.API == "" {
		return ""
	}
	s := "com/salesforce/api/" + o.API + "/" + o.Version
	if o.Client != "" {
		s += ";client=" + o.Client
	}
	return s
}

// Change is one change event's worth of a transaction: the same change to
// one or more records of one object. Field names are describe names (for
// example BillingCity), not change-event names.
type Change struct {
	Object    string
	Type      string
	RecordIDs []string
	// Fields holds the values the event carries: every non-null field for
	// CREATE and UNDELETE, the changed non-null fields for UPDATE.
	Fields map[string]any
	// Changed lists the fields an UPDATE changed (LastModifiedDate
	// included); Nulled those it set to null.
	Changed, Nulled []string
	// DescribeVersion is the object's describe version at commit, and
	// Describe that describe (an immutable snapshot).
	DescribeVersion int
	Describe        *salesforce.SObjectDescribe
	// After is a copy of the record after the change (nil for DELETE);
	// with several record ids, of the last one.
	After Record
}

// Commit is one committed transaction.
type Commit struct {
	TransactionKey  string
	CommitTimestamp int64 // epoch milliseconds
	CommitNumber    int64
	CommitUser      string
	Origin          string
	Changes         []Change
}

// Tx is an open transaction. It holds the org's exclusive lock until
// Commit or Rollback; a caller holding a Tx reads through it (Get), never
// through the Org.
type Tx struct {
	o       *Org
	origin  Origin
	user    string // the user the changes are made as (LastModifiedById, commitUser)
	undo    []func()
	changes []Change
	done    bool
	now     string // one timestamp for the whole transaction
}

// Begin opens a transaction made as the integration user.
func (o *Org) Begin(origin Origin) *Tx { return o.BeginAs(origin, o.cfg.UserID) }

// BeginAs opens a transaction made as another user of the org (a person
// editing in the UI): CreatedById, LastModifiedById and the change events'
// commitUser name that user.
func (o *Org) BeginAs(origin Origin, user string) *Tx {
	o.mu.Lock()
	return &Tx{o: o, origin: origin, user: user, now: FormatDateTime(o.cfg.Now())}
}

// Get reads a record within the transaction.
func (tx *Tx) Get(objectName, id string) (Record, *Error) { return tx.o.get(objectName, id) }

// Records returns copies of an object's live records as the transaction
// sees them (its own writes included), in id order.
func (tx *Tx) Records(objectName string) ([]Record, *Error) { return tx.o.records(objectName) }

// Describe returns the describe of an object within the transaction.
func (tx *Tx) Describe(objectName string) (*salesforce.SObjectDescribe, *Error) {
	ob, err := tx.o.object(objectName)
	if err != nil {
		return nil, err
	}
	return &ob.describe, nil
}

// resolve maps input field names to describe fields, rejecting unknown,
// system and (for the given operation) read-only fields.
func (tx *Tx) resolve(ob *object, in map[string]any, create bool) (map[*salesforce.Field]any, *Error) {
	out := map[*salesforce.Field]any{}
	var readOnly []string
	for name, v := range in {
		if strings.EqualFold(name, "attributes") {
			continue
		}
		fl, ok := ob.describe.Field(name)
		if !ok {
			return nil, errorf(CodeInvalidField, []string{name}, "No such column '%s' on sobject of type %s", name, ob.describe.Name)
		}
		if (create && !fl.Createable) || (!create && !fl.Updateable) {
			readOnly = append(readOnly, fl.Name)
			continue
		}
		cv, err := coerce(fl, v)
		if err != nil {
			return nil, err
		}
		out[fl] = cv
	}
	if len(readOnly) > 0 {
		slices.Sort(readOnly)
		return nil, errorf(CodeInvalidFieldForInsert, readOnly, "Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", strings.Join(readOnly, ", "))
	}
	return out, nil
}

// validate checks required fields, references, uniqueness and validation
// rules on the record as it would be after the change.
func (tx *Tx) validate(ob *object, id string, rec Record) *Error {
	var missing []string
	for i := range ob.describe.Fields {
		fl := &ob.describe.Fields[i]
		v, set := rec[fl.Name]
		if !fl.Nillable && !fl.DefaultedOnCreate && fl.Type != "boolean" && (!set || v == nil) {
			missing = append(missing, fl.Name)
		}
		if !set || v == nil {
			continue
		}
		if fl.Type == "reference" && fl.Name != "OwnerId" && fl.Name != "CreatedById" && fl.Name != "LastModifiedById" {
			target := tx.o.byPrefix[v.(string)[:3]]
			if target == nil || !slices.Contains(fl.ReferenceTo, target.describe.Name) || target.records[v.(string)] == nil {
				return errorf(CodeInvalidCrossReference, []string{fl.Name}, "invalid cross reference id")
			}
		}
		if fl.Unique {
			for otherID, other := range ob.records {
				if otherID != id && other[fl.Name] != nil && strings.EqualFold(other[fl.Name].(string), v.(string)) {
					return errorf(CodeDuplicateValue, []string{fl.Name}, "duplicate value found: %s duplicates value on record with id: %s", fl.Name, otherID)
				}
			}
		}
	}
	if len(missing) > 0 {
		return errorf(CodeRequiredFieldMissing, missing, "Required fields are missing: [%s]", strings.Join(missing, ", "))
	}
	for _, r := range tx.o.rules {
		if strings.EqualFold(r.Object, ob.describe.Name) && r.Reject(rec) {
			return errorf(CodeCustomValidation, []string{r.Field}, "%s", r.Message)
		}
	}
	return nil
}

// Create inserts a record and returns its id.
func (tx *Tx) Create(objectName string, fields map[string]any) (string, *Error) {
	ob, err := tx.o.object(objectName)
	if err != nil {
		return "", errorf(CodeInvalidType, nil, "sObject type '%s' is not supported.", objectName)
	}
	in, err := tx.resolve(ob, fields, true)
	if err != nil {
		return "", err
	}
	rec := Record{}
	for fl, v := range in {
		if v != nil {
			rec[fl.Name] = v
		}
	}
	now := tx.now
	tx.o.seq++
	id := makeID(ob.describe.KeyPrefix, tx.o.seq)
	user := tx.user
	rec["Id"], rec["IsDeleted"] = id, false
	for _, k := range []string{"CreatedDate", "LastModifiedDate", "SystemModstamp"} {
		rec[k] = now
	}
	rec["CreatedById"], rec["LastModifiedById"] = user, user
	if _, ok := ob.describe.Field("OwnerId"); ok && rec["OwnerId"] == nil {
		rec["OwnerId"] = user
	}
	tx.defaults(ob, rec)
	if err := tx.validate(ob, id, rec); err != nil {
		return "", err
	}
	ob.records[id] = rec
	tx.undo = append(tx.undo, func() { delete(ob.records, id) })
	tx.changes = append(tx.changes, Change{
		Object: ob.describe.Name, Type: ChangeCreate, RecordIDs: []string{id},
		Fields: eventFields(ob, rec), DescribeVersion: ob.version, Describe: ob.snapshot(), After: maps.Clone(rec),
	})
	return id, nil
}

// defaults fills fields the platform defaults on create.
func (tx *Tx) defaults(ob *object, rec Record) {
	for i := range ob.describe.Fields {
		fl := &ob.describe.Fields[i]
		if rec[fl.Name] != nil || !fl.DefaultedOnCreate {
			continue
		}
		switch {
		case fl.Name == "CaseNumber":
			ob.counter++
			rec[fl.Name] = leftPad(ob.counter, 8)
		case fl.Type == "picklist" && len(fl.PicklistValues) > 0:
			rec[fl.Name] = fl.PicklistValues[0].Value
		}
	}
	if name, ok := ob.describe.Field("Name"); ok && !name.Createable {
		rec["Name"] = composeName(rec)
	}
}

func leftPad(n, width int) string {
	s := strings.Repeat("0", width) + itoa(n)
	return s[len(s)-width:]
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// composeName composes a Name compound from its components.
func composeName(rec Record) any {
	var parts []string
	for _, k := range []string{"Salutation", "FirstName", "LastName"} {
		if s, _ := rec[k].(string); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return strings.Join(parts, " ")
}

// eventFields returns the fields a CREATE or UNDELETE event carries: every
// non-null field except Id, IsDeleted and SystemModstamp.
func eventFields(ob *object, rec Record) map[string]any {
	out := map[string]any{}
	for k, v := range rec {
		if v == nil || k == "Id" || k == "IsDeleted" || k == "SystemModstamp" {
			continue
		}
		out[k] = v
	}
	return out
}

// Update changes fields of a record.
func (tx *Tx) Update(objectName, id string, fields map[string]any) *Error {
	ob, err := tx.o.object(objectName)
	if err != nil {
		return errorf(CodeInvalidType, nil, "sObject type '%s' is not supported.", objectName)
	}
	cur, err := tx.o.get(objectName, id)
	if err != nil {
		return err
	}
	in, err := tx.resolve(ob, fields, false)
	if err != nil {
		return err
	}
	nid := cur["Id"].(string)
	next := maps.Clone(cur)
	var changed, nulled []string
	values := map[string]any{}
	for fl, v := range in {
		if reflect.DeepEqual(cur[fl.Name], v) {
			continue
		}
		if v == nil {
			delete(next, fl.Name)
			nulled = append(nulled, fl.Name)
		} else {
			next[fl.Name] = v
			values[fl.Name] = v
		}
		changed = append(changed, fl.Name)
	}
	if name, ok := ob.describe.Field("Name"); ok && !name.Createable {
		if n := composeName(next); !reflect.DeepEqual(n, cur["Name"]) {
			if n == nil {
				delete(next, "Name")
			} else {
				next["Name"] = n
			}
		}
	}
	now := tx.now
	next["LastModifiedDate"], next["SystemModstamp"], next["LastModifiedById"] = now, now, tx.user
	if err := tx.validate(ob, nid, next); err != nil {
		return err
	}
	ob.records[nid] = next
	tx.undo = append(tx.undo, func() { ob.records[nid] = cur })
	values["LastModifiedDate"] = now
	changed = append(changed, "LastModifiedDate")
	slices.Sort(changed)
	slices.Sort(nulled)
	tx.changes = append(tx.changes, Change{
		Object: ob.describe.Name, Type: ChangeUpdate, RecordIDs: []string{nid},
		Fields: values, Changed: changed, Nulled: nulled, DescribeVersion: ob.version, Describe: ob.snapshot(), After: maps.Clone(next),
	})
	return nil
}

// Delete moves a record to the recycle bin.
func (tx *Tx) Delete(objectName, id string) *Error {
	ob, err := tx.o.object(objectName)
	if err != nil {
		return errorf(CodeInvalidType, nil, "sObject type '%s' is not supported.", objectName)
	}
	cur, err := tx.o.get(objectName, id)
	if err != nil {
		return err
	}
	nid := cur["Id"].(string)
	delete(ob.records, nid)
	cur["IsDeleted"] = true
	ob.deleted[nid] = cur
	tx.undo = append(tx.undo, func() {
		delete(ob.deleted, nid)
		cur["IsDeleted"] = false
		ob.records[nid] = cur
	})
	tx.changes = append(tx.changes, Change{Object: ob.describe.Name, Type: ChangeDelete, RecordIDs: []string{nid},
		DescribeVersion: ob.version, Describe: ob.snapshot(), After: nil})
	return nil
}

// Undelete restores a record from the recycle bin.
func (tx *Tx) Undelete(objectName, id string) *Error {
	ob, err := tx.o.object(objectName)
	if err != nil {
		return errorf(CodeInvalidType, nil, "sObject type '%s' is not supported.", objectName)
	}
	nid, perr := NormalizeID(id)
	rec, ok := ob.deleted[nid]
	if perr != nil || !ok {
		return errorf(CodeUndeleteFailed, nil, "Entity is not in the recycle bin")
	}
	delete(ob.deleted, nid)
	rec["IsDeleted"] = false
	ob.records[nid] = rec
	tx.undo = append(tx.undo, func() {
		delete(ob.records, nid)
		rec["IsDeleted"] = true
		ob.deleted[nid] = rec
	})
	tx.changes = append(tx.changes, Change{Object: ob.describe.Name, Type: ChangeUndelete, RecordIDs: []string{nid},
		Fields: eventFields(ob, rec), DescribeVersion: ob.version, Describe: ob.snapshot(), After: maps.Clone(rec)})
	return nil
}

// FindByField returns the ids of live records whose field equals value
// (case-insensitively, as external id matching is).
func (tx *Tx) FindByField(objectName, field, value string) ([]string, *Error) {
	ob, err := tx.o.object(objectName)
	if err != nil {
		return nil, err
	}
	fl, ok := ob.describe.Field(field)
	if !ok || !(fl.ExternalID || fl.IDLookup) {
		return nil, errorf(CodeNotFound, nil, "Provided external ID field does not exist or is not accessible: %s", field)
	}
	var ids []string
	for id, rec := range ob.records {
		if s, _ := rec[fl.Name].(string); s != "" && strings.EqualFold(s, value) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Upsert updates the record whose external id field equals value, or
// creates one. It returns the id and whether it created. Several matches
// give an error with code MULTIPLE_CHOICES and the ids in Fields.
func (tx *Tx) Upsert(objectName, field, value string, fields map[string]any) (string, bool, *Error) {
	ids, err := tx.FindByField(objectName, field, value)
	if err != nil {
		return "", false, err
	}
	switch len(ids) {
	case 0:
		withKey := maps.Clone(fields)
		if withKey == nil {
			withKey = map[string]any{}
		}
		withKey[field] = value
		id, err := tx.Create(objectName, withKey)
		return id, true, err
	case 1:
		return ids[0], false, tx.Update(objectName, ids[0], fields)
	}
	return "", false, &Error{Code: "MULTIPLE_CHOICES", Message: "Multiple records match the external id", Fields: ids}
}

// Rollback undoes every change of the transaction and releases it.
func (tx *Tx) Rollback() {
	if tx.done {
		return
	}
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
	tx.done = true
	tx.o.mu.Unlock()
}

// Savepoint returns a mark that RollbackTo undoes back to: composite
// requests with allOrNone=false keep the subrequests that succeeded.
func (tx *Tx) Savepoint() int { return len(tx.undo)<<32 | len(tx.changes) }

// RollbackTo undoes every change made after the savepoint sp.
func (tx *Tx) RollbackTo(sp int) {
	nUndo, nChanges := sp>>32, sp&0xffffffff
	for i := len(tx.undo) - 1; i >= nUndo; i-- {
		tx.undo[i]()
	}
	tx.undo = tx.undo[:nUndo]
	tx.changes = tx.changes[:nChanges]
}

// Commit makes the transaction's changes permanent, hands the commit to the
// OnCommit hooks (so change events follow commit order) and releases the
// transaction. A transaction without changes commits silently.
func (tx *Tx) Commit() *Commit {
	if tx.done {
		return nil
	}
	tx.done = true
	defer tx.o.mu.Unlock()
	if len(tx.changes) == 0 {
		return nil
	}
	tx.o.commitNo++
	c := &Commit{
		TransactionKey:  newTransactionKey(),
		CommitTimestamp: tx.o.cfg.Now().UnixMilli(),
		CommitNumber:    tx.o.commitNo,
		CommitUser:      tx.user,
		Origin:          tx.origin.String(),
		Changes:         mergeChanges(tx.changes),
	}
	for _, h := range tx.o.hooks {
		h(c)
	}
	return c
}

// mergeChanges folds consecutive changes that made the same change to
// several records of one object into one change with several record ids,
// as Salesforce does within a transaction (mass updates, mass deletes).
// Creates are never merged.
func mergeChanges(in []Change) []Change {
	var out []Change
	for _, c := range in {
		if n := len(out); n > 0 && c.Type != ChangeCreate && sameChange(&out[n-1], &c) {
			out[n-1].RecordIDs = append(out[n-1].RecordIDs, c.RecordIDs...)
			continue
		}
		out = append(out, c)
	}
	return out
}

func sameChange(a, b *Change) bool {
	return a.Object == b.Object && a.Type == b.Type && a.DescribeVersion == b.DescribeVersion &&
		slices.Equal(a.Changed, b.Changed) && slices.Equal(a.Nulled, b.Nulled) && reflect.DeepEqual(a.Fields, b.Fields)
}
