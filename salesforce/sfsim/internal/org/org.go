package org

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
)

// Record is one sObject record: canonical field name to value. Values are
// string, bool, float64 or absent (null); dates and datetimes are strings
// in the REST API's formats.
type Record map[string]any

// Config configures an Org.
type Config struct {
	OrgID  string // 18 characters, 00D...
	UserID string // the integration user, 005...
	// Now is the simulated clock.
	Now func() time.Time
	// Objects are the describes to start with; nil means StandardObjects.
	Objects []salesforce.SObjectDescribe
	// DailyAPILimit is the API request budget per (simulated) day.
	DailyAPILimit int
}

// Org is the simulated org. It is safe for concurrent use: reads take a
// shared lock; a transaction holds the exclusive lock from Begin to Commit
// or Rollback, so transactions are serial and commits are totally ordered.
type Org struct {
	cfg Config

	mu       sync.RWMutex
	objects  map[string]*object // by lowercase name
	byPrefix map[string]*object
	seq      uint64 // id sequence
	commitNo int64
	rules    []ValidationRule
	hooks    []func(*Commit)

	budgetMu  sync.Mutex
	budgetDay string
	apiUsed   int
	apiLimit  int
}

type object struct {
	describe salesforce.SObjectDescribe
	snap     *salesforce.SObjectDescribe // immutable copy of describe, renewed on change
	version  int                         // bumped on every describe change
	records  map[string]Record
	deleted  map[string]Record // recycle bin
	counter  int               // auto numbers (CaseNumber)
}

// New returns an org seeded with cfg.Objects.
func New(cfg Config) (*Org, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Objects == nil {
		cfg.Objects = StandardObjects()
	}
	if cfg.DailyAPILimit <= 0 {
		cfg.DailyAPILimit = 100_000
	}
	o := &Org{cfg: cfg, objects: map[string]*object{}, byPrefix: map[string]*object{}, commitNo: 10_000_000_000, apiLimit: cfg.DailyAPILimit}
	for _, d := range cfg.Objects {
		if err := o.AddObject(d); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// OrgID returns the org's id.
func (o *Org) OrgID() string { return o.cfg.OrgID }

// UserID returns the integration user's id.
func (o *Org) UserID() string { return o.cfg.UserID }

// Now returns the org's simulated time.
func (o *Org) Now() time.Time { return o.cfg.Now() }

// AddObject adds an object (a custom object, typically) to the org.
func (o *Org) AddObject(d salesforce.SObjectDescribe) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := strings.ToLower(d.Name)
	if _, dup := o.objects[key]; dup {
		return fmt.Errorf("object %s already exists", d.Name)
	}
	if len(d.KeyPrefix) != 3 {
		return fmt.Errorf("object %s: key prefix must be 3 characters", d.Name)
	}
	if _, dup := o.byPrefix[d.KeyPrefix]; dup {
		return fmt.Errorf("object %s: key prefix %s is taken", d.Name, d.KeyPrefix)
	}
	ob := &object{describe: d, records: map[string]Record{}, deleted: map[string]Record{}}
	o.objects[key] = ob
	o.byPrefix[d.KeyPrefix] = ob
	return nil
}

// AddField appends a field to an object's describe, as an admin adding a
// custom field would. Change events published afterwards use a new schema.
func (o *Org) AddField(objectName string, fl salesforce.Field) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	ob := o.objects[strings.ToLower(objectName)]
	if ob == nil {
		return fmt.Errorf("no object %s", objectName)
	}
	if _, dup := ob.describe.Field(fl.Name); dup {
		return fmt.Errorf("object %s already has a field %s", objectName, fl.Name)
	}
	ob.describe.Fields = append(slices.Clone(ob.describe.Fields), fl)
	ob.version++
	ob.snap = nil
	return nil
}

// snapshot returns an immutable copy of the describe.
func (ob *object) snapshot() *salesforce.SObjectDescribe {
	if ob.snap == nil {
		d := ob.describe
		d.Fields = slices.Clone(d.Fields)
		ob.snap = &d
	}
	return ob.snap
}

// Describe returns a copy of an object's describe (case-insensitive name)
// and its version, which changes whenever the describe does.
func (o *Org) Describe(name string) (*salesforce.SObjectDescribe, int, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	ob := o.objects[strings.ToLower(name)]
	if ob == nil {
		return nil, 0, false
	}
	d := ob.describe
	d.Fields = slices.Clone(d.Fields)
	return &d, ob.version, true
}

// Objects returns the names of all objects, sorted.
func (o *Org) Objects() []string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var out []string
	for _, ob := range o.objects {
		out = append(out, ob.describe.Name)
	}
	slices.Sort(out)
	return out
}

// ObjectOfID returns the object name an id belongs to, by key prefix.
func (o *Org) ObjectOfID(id string) (string, bool) {
	if len(id) < 3 {
		return "", false
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	ob := o.byPrefix[id[:3]]
	if ob == nil {
		return "", false
	}
	return ob.describe.Name, true
}

// Get returns a copy of a live record.
func (o *Org) Get(objectName, id string) (Record, *Error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.get(objectName, id)
}

func (o *Org) get(objectName, id string) (Record, *Error) {
	ob, err := o.object(objectName)
	if err != nil {
		return nil, err
	}
	nid, perr := NormalizeID(id)
	if perr != nil || nid[:3] != ob.describe.KeyPrefix {
		return nil, errorf(CodeNotFound, nil, "Provided external ID field does not exist or is not accessible: %s", id)
	}
	rec, ok := ob.records[nid]
	if !ok {
		if _, gone := ob.deleted[nid]; gone {
			return nil, errorf(CodeEntityIsDeleted, nil, "entity is deleted")
		}
		return nil, errorf(CodeNotFound, nil, "The requested resource does not exist")
	}
	return maps.Clone(rec), nil
}

// Records returns copies of the live records of an object, in id order.
func (o *Org) Records(objectName string) ([]Record, *Error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.records(objectName)
}

func (o *Org) records(objectName string) ([]Record, *Error) {
	ob, err := o.object(objectName)
	if err != nil {
		return nil, err
	}
	ids := slices.Sorted(maps.Keys(ob.records))
	out := make([]Record, len(ids))
	for i, id := range ids {
		out[i] = maps.Clone(ob.records[id])
	}
	return out, nil
}

func (o *Org) object(name string) (*object, *Error) {
	ob := o.objects[strings.ToLower(name)]
	if ob == nil {
		return nil, errorf(CodeNotFound, nil, "The requested resource does not exist")
	}
	return ob, nil
}

// OnCommit registers fn to be called with every committed transaction, in
// commit order, before the next transaction can begin.
func (o *Org) OnCommit(fn func(*Commit)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hooks = append(o.hooks, fn)
}

// ValidationRule rejects records the way a Salesforce validation rule
// does, with FIELD_CUSTOM_VALIDATION_EXCEPTION.
type ValidationRule struct {
	Object  string
	Field   string
	Message string
	// Reject reports whether the record (after the change) violates the rule.
	Reject func(Record) bool
}

// AddValidationRule adds a validation rule.
func (o *Org) AddValidationRule(r ValidationRule) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rules = append(o.rules, r)
}

// SpendAPI counts one API request against the daily budget. It returns
// the usage after the request, and false when the budget is spent (the
// request must then fail with REQUEST_LIMIT_EXCEEDED).
func (o *Org) SpendAPI() (used, limit int, ok bool) {
	o.budgetMu.Lock()
	defer o.budgetMu.Unlock()
	o.resetBudgetIfNewDay()
	if o.apiUsed >= o.apiLimit {
		return o.apiUsed, o.apiLimit, false
	}
	o.apiUsed++
	return o.apiUsed, o.apiLimit, true
}

// APIUsage returns the requests used today and the daily limit.
func (o *Org) APIUsage() (used, limit int) {
	o.budgetMu.Lock()
	defer o.budgetMu.Unlock()
	o.resetBudgetIfNewDay()
	return o.apiUsed, o.apiLimit
}

// SetAPIBudget sets the daily limit and the requests already used today.
func (o *Org) SetAPIBudget(used, limit int) {
	o.budgetMu.Lock()
	defer o.budgetMu.Unlock()
	o.resetBudgetIfNewDay()
	o.apiUsed, o.apiLimit = used, limit
}

func (o *Org) resetBudgetIfNewDay() {
	day := o.cfg.Now().UTC().Format("2006-01-02")
	if day != o.budgetDay {
		o.budgetDay, o.apiUsed = day, 0
	}
}

// newTransactionKey returns a UUID-shaped transaction key.
func newTransactionKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
