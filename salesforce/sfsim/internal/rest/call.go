package rest

import (
	"slices"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// call is one request being served: its API version, its origin, and for
// /composite subrequests the transaction they share.
type call struct {
	h       *Handler
	version string // "62.0"
	major   int    // 62
	origin  org.Origin
	// shared is the /composite request's transaction; nil for top-level
	// requests, which commit their own transaction.
	shared *txState
	// allOrNone forces sObject Collections subrequests to allOrNone, as an
	// outer /composite allOrNone=true does.
	allOrNone bool
	// recordFailed is set by an sObject Collections subrequest when a
	// record failed, so /composite allOrNone=true rolls everything back.
	recordFailed bool
}

// txState is a transaction begun on first need, so that a /composite
// request reads the org without its exclusive lock until it writes.
type txState struct {
	o      *org.Org
	origin org.Origin
	tx     *org.Tx
	idx    *schemaIndex
}

// begin returns the open transaction, beginning it if needed.
func (s *txState) begin() *org.Tx {
	if s.tx == nil {
		// Invariant: the schema snapshot is taken before Begin; the org's
		// lock is not reentrant, so nothing may read through *org.Org
		// while s.tx is open.
		s.idx = snapshotSchema(s.o)
		s.tx = s.o.Begin(s.origin)
	}
	return s.tx
}

// view returns how to read the org in the state's current situation.
func (s *txState) view() view {
	if s.tx == nil {
		return view{o: s.o}
	}
	return view{o: s.o, tx: s.tx, idx: s.idx}
}

// finish commits (or rolls back) an open transaction and forgets it.
func (s *txState) finish(commit bool) {
	if s.tx == nil {
		return
	}
	if commit {
		s.tx.Commit()
	} else {
		s.tx.Rollback()
	}
	s.tx = nil
}

// inTx runs fn with a transaction: the /composite request's, or a new one
// that is committed when fn returns (a transaction without changes commits
// nothing). If fn panics the new transaction is rolled back, so the org is
// never left locked.
func (c *call) inTx(fn func(s *txState)) {
	if c.shared != nil {
		fn(c.shared)
		return
	}
	s := &txState{o: c.h.org, origin: c.origin}
	committed := false
	defer func() {
		if !committed {
			s.finish(false)
		}
	}()
	fn(s)
	s.finish(true)
	committed = true
}

// view returns how this call reads the org.
func (c *call) view() view {
	if c.shared != nil {
		return c.shared.view()
	}
	return view{o: c.h.org}
}

// txOpen reports whether a transaction of this call is open, during which
// the platform event and PushTopic callbacks must not run.
func (c *call) txOpen() bool { return c.shared != nil && c.shared.tx != nil }

// schemaIndex is a snapshot of the org's object names and key prefixes, for
// use while a transaction holds the org's lock.
type schemaIndex struct {
	names    []string
	byPrefix map[string]string
}

func snapshotSchema(o *org.Org) *schemaIndex {
	idx := &schemaIndex{names: o.Objects(), byPrefix: map[string]string{}}
	for _, n := range idx.names {
		if d, _, ok := o.Describe(n); ok {
			idx.byPrefix[d.KeyPrefix] = d.Name
		}
	}
	return idx
}

// view reads the org directly, or through an open transaction (whose lock
// the org's own read methods would deadlock on).
type view struct {
	o   *org.Org
	tx  *org.Tx
	idx *schemaIndex
}

// describe returns a private copy of an object's describe.
func (v view) describe(name string) (*salesforce.SObjectDescribe, bool) {
	if v.tx == nil {
		d, _, ok := v.o.Describe(name)
		return d, ok
	}
	p, err := v.tx.Describe(name)
	if err != nil {
		return nil, false
	}
	d := *p
	d.Fields = slices.Clone(p.Fields)
	return &d, true
}

func (v view) get(object, id string) (org.Record, *org.Error) {
	if v.tx == nil {
		return v.o.Get(object, id)
	}
	return v.tx.Get(object, id)
}

// txRecords is the method org.Tx needs for queries inside an open
// /composite transaction; see records.
type txRecords interface {
	Records(object string) ([]org.Record, *org.Error)
}

// records returns the live records of an object. Inside an open
// transaction it needs (*org.Tx).Records, which the org package does not
// have yet; until it does, such queries fail with errQueryInTx.
func (v view) records(object string) ([]org.Record, *org.Error) {
	if v.tx == nil {
		return v.o.Records(object)
	}
	if tr, ok := any(v.tx).(txRecords); ok {
		return tr.Records(object)
	}
	return nil, errQueryInTx
}

// errQueryInTx is the simulator's limitation described at records.
var errQueryInTx = &org.Error{Code: "NOT_SUPPORTED_IN_SFSIM", Message: "sfsim cannot run a query after a write in the same composite request (org.Tx has no Records method)", Fields: []string{}}

func (v view) objects() []string {
	if v.tx == nil {
		return v.o.Objects()
	}
	return slices.Clone(v.idx.names)
}

func (v view) objectOfID(id string) (string, bool) {
	if v.tx == nil {
		return v.o.ObjectOfID(id)
	}
	if len(id) < 3 {
		return "", false
	}
	n, ok := v.idx.byPrefix[id[:3]]
	return n, ok
}

// isPlatformEvent reports whether an sObject name is a platform event.
func isPlatformEvent(name string) bool {
	return len(name) > 3 && strings.EqualFold(name[len(name)-3:], "__e")
}

func isPushTopic(name string) bool { return strings.EqualFold(name, "PushTopic") }
