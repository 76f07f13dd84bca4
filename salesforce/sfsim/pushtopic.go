package sfsim

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/soql"
)

// pushTopic is one PushTopic: a SOQL query whose matching record changes
// are streamed on /topic/<Name>.
type pushTopic struct {
	name      string
	query     *soql.Query
	notify    map[string]bool // change types that notify
	forFields string          // All, Referenced, Select or Where
	matching  map[string]bool // ids of records that currently match
}

// pushTopics holds the org's PushTopics and turns commits into their events.
type pushTopics struct {
	org *org.Org
	bus *bus.Bus
	now func() time.Time

	mu     sync.Mutex
	seq    int
	topics map[string]*pushTopic
}

// create defines a PushTopic from the fields of a PushTopic record insert
// (Name, Query, ApiVersion, NotifyForOperation*, NotifyForFields).
func (p *pushTopics) create(fields map[string]any) (string, *org.Error) {
	str := func(k string) string {
		for fk, v := range fields {
			if strings.EqualFold(fk, k) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	flag := func(k string) bool {
		for fk, v := range fields {
			if strings.EqualFold(fk, k) {
				b, ok := v.(bool)
				return !ok || b
			}
		}
		return true // Salesforce's defaults notify on every operation
	}
	name, q := str("Name"), str("Query")
	if name == "" || q == "" {
		return "", &org.Error{Code: org.CodeRequiredFieldMissing, Message: "Required fields are missing: [Name, Query]", Fields: []string{"Name", "Query"}}
	}
	query, err := soql.Parse(q)
	if err != nil {
		return "", &org.Error{Code: "INVALID_FIELD", Message: err.Error(), Fields: []string{"Query"}}
	}
	d, _, ok := p.org.Describe(query.Object())
	if !ok {
		return "", &org.Error{Code: "INVALID_TYPE", Message: fmt.Sprintf("sObject type '%s' is not supported.", query.Object()), Fields: []string{"Query"}}
	}
	if err := query.Bind(d); err != nil {
		return "", &org.Error{Code: "INVALID_FIELD", Message: err.Error(), Fields: []string{"Query"}}
	}
	forFields := str("NotifyForFields")
	if forFields == "" {
		forFields = "Referenced"
	}
	t := &pushTopic{name: name, query: query, forFields: forFields, matching: map[string]bool{}, notify: map[string]bool{
		org.ChangeCreate: flag("NotifyForOperationCreate"), org.ChangeUpdate: flag("NotifyForOperationUpdate"),
		org.ChangeDelete: flag("NotifyForOperationDelete"), org.ChangeUndelete: flag("NotifyForOperationUndelete"),
	}}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.topics == nil {
		p.topics = map[string]*pushTopic{}
	}
	if _, dup := p.topics[name]; dup {
		return "", &org.Error{Code: org.CodeDuplicateValue, Message: "duplicate value found: Name", Fields: []string{"Name"}}
	}
	p.topics[name] = t
	p.bus.AddPushTopic(name)
	p.seq++
	return fmt.Sprintf("0IF8a%010dAAA", p.seq), nil
}

// pushTypes maps change types to PushTopic event types.
var pushTypes = map[string]string{
	org.ChangeCreate: "created", org.ChangeUpdate: "updated", org.ChangeDelete: "deleted", org.ChangeUndelete: "undeleted",
}

// onCommit publishes the PushTopic events of a commit. Register it with
// org.OnCommit after the bus, so that change events come first.
func (p *pushTopics) onCommit(c *org.Commit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var evs []*bus.Event
	now := p.now()
	for _, ch := range c.Changes {
		for _, t := range p.topics {
			if !strings.EqualFold(t.query.Object(), ch.Object) {
				continue
			}
			for _, id := range ch.RecordIDs {
				if ev := t.event(&ch, id, now); ev != nil {
					evs = append(evs, ev)
				}
			}
		}
	}
	if len(evs) > 0 {
		p.bus.Publish(evs...)
	}
}

// event returns the PushTopic event for one record of a change, or nil.
// With several record ids in one change, the record after the change is
// that of the last id; its values stand for all (they made the same
// change).
func (t *pushTopic) event(ch *org.Change, id string, now time.Time) *bus.Event {
	wasMatching := t.matching[id]
	matches := ch.After != nil && t.query.Match(ch.After, now)
	if ch.Type == org.ChangeDelete {
		matches = false
	}
	if matches {
		t.matching[id] = true
	} else {
		delete(t.matching, id)
	}
	switch {
	case !t.notify[ch.Type]:
		return nil
	case ch.Type == org.ChangeDelete && !wasMatching:
		return nil
	case ch.Type != org.ChangeDelete && !matches:
		return nil
	case ch.Type == org.ChangeUpdate && !t.relevant(ch):
		return nil
	}
	sobject := map[string]any{"Id": id}
	if ch.After != nil {
		for _, f := range t.query.Fields() {
			sobject[f] = ch.After[f]
		}
		sobject["Id"] = id
	}
	return &bus.Event{Kind: bus.KindPushTopic, Channel: "/topic/" + t.name, PushType: pushTypes[ch.Type], Fields: sobject, Published: now}
}

// relevant applies NotifyForFields to an update: All notifies on any
// change; Select, Referenced and Where on a change to a selected field.
// (The simulator does not track the WHERE clause's fields separately.)
func (t *pushTopic) relevant(ch *org.Change) bool {
	if strings.EqualFold(t.forFields, "All") {
		return true
	}
	for _, f := range t.query.Fields() {
		for _, c := range ch.Changed {
			if strings.EqualFold(f, c) && c != "LastModifiedDate" {
				return true
			}
		}
	}
	return false
}
