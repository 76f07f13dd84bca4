package cosmos

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// maxDocumentBytes is Cosmos DB's item size limit (2 MB, the JSON as
// stored), less room for the system properties the service adds (_rid,
// _self, _etag, _ts, _attachments: about 150 bytes).
const maxDocumentBytes = 2*1024*1024 - 512

// systemFields are the properties Cosmos DB adds to a stored item; they are
// stripped from a read document before it is modified and written back.
var systemFields = []string{"_rid", "_etag", "_ts", "_self", "_attachments"}

// docState is one document as the sink sees it while applying a group of
// changes: what is stored, and what is to be stored.
type docState struct {
	// stored is the document as read, nil when there is none.
	stored map[string]any
	// etag is the stored document's ETag, the precondition of the write.
	etag string
	// storedPK is the stored document's partition key value.
	storedPK any
	// doc is the document to store; nil: none (deleted, or never created).
	doc map[string]any
	// changed reports whether doc differs from stored.
	changed bool
	// guessed is set when stored was not read but assumed absent (a
	// CREATE of a document neither cached nor read): the create is then
	// conditional on the id being free, and anything else needs a read.
	guessed bool
	// cached is set when stored comes from the document cache, not a read.
	cached bool
}

// outcome is what applying one change did.
type outcome int

const (
	applied outcome = iota + 1
	stale           // older than or equal to the document's version
	exists          // append strategy: the document already exists
)

// apply applies c to st.doc in memory. A permanent error leaves st as it
// was: the change is dead-lettered and the group goes on without it.
func (s *Sink) apply(st *docState, c *change) (outcome, error) {
	cur := st.doc
	var curMeta meta
	hasMeta := false
	if cur != nil {
		curMeta, hasMeta = readMeta(cur)
	}
	live := cur != nil && !curMeta.Deleted
	// Invariant: an older or repeated change never overwrites a newer
	// state. An unversioned change carries no order and applies as is.
	if c.versioned && hasMeta && curMeta.Versioned && !curMeta.less(c.ver) {
		return stale, nil
	}
	o := c.op
	switch s.cfg.WriteStrategy {
	case StrategyDelete:
		o = opDelete
	case StrategyAppend:
		if live && o != opDelete {
			return exists, nil
		}
	}
	var next map[string]any
	m := meta{Source: c.source}
	if c.versioned {
		m.version, m.Versioned = c.ver, true
	} else if hasMeta {
		// No order of its own: keep the document's, so that a later older
		// change is still recognised as older.
		m.version, m.Versioned = curMeta.version, curMeta.Versioned
	}
	switch o {
	case opReplace:
		if s.cfg.WriteStrategy == StrategyPatch && live {
			next = maps.Clone(cur)
		} else {
			next = s.baseDoc(c, cur)
		}
		for k, v := range c.fields {
			next[k] = v
		}
		delete(next, diffField) // a full state holds every field's value
	case opMerge:
		if live {
			next = maps.Clone(cur)
		} else {
			next = s.baseDoc(c, cur)
		}
		for k, v := range c.fields {
			if slices.Contains(c.diff, k) {
				continue
			}
			next[k] = v
		}
		for _, k := range c.nulled {
			if !reservedFields[k] {
				next[k] = nil
			}
		}
		if len(c.diff) > 0 {
			next[diffField] = addNames(next[diffField], c.diff)
		}
	case opDelete:
		if s.cfg.DeleteMode == DeleteHard {
			if cur != nil {
				st.doc, st.changed = nil, true
			}
			return applied, nil
		}
		// Soft: a versioned delete leaves a tombstone even for a document
		// never seen, so that an older change arriving later cannot create
		// it; an unversioned one (a Kafka tombstone) has nothing to add to
		// a tombstone or to an absent document.
		if !c.versioned && (cur == nil || curMeta.Deleted) {
			return applied, nil
		}
		next = s.baseDoc(c, cur)
		m.Deleted = true
		if s.cfg.TombstoneTTL > 0 {
			next["ttl"] = int64(s.cfg.TombstoneTTL.Seconds())
		}
	}
	if o != opDelete {
		delete(next, "ttl") // a revived tombstone lives again
	}
	next[metaField] = m
	if s.pkProp != "id" && s.pkProp != "sobject" {
		if _, ok := next[s.pkProp]; !ok {
			// Stored explicitly, so the document's partition is known.
			next[s.pkProp] = nil
		}
	}
	if n, err := docSize(next); err != nil {
		return 0, connectorlib.PermanentCode(codeInvalid, fmt.Errorf("build document %s: %w", c.docID, err))
	} else if n > maxDocumentBytes {
		return 0, connectorlib.PermanentCode(codeTooLarge, fmt.Errorf(
			"document %s would be %d bytes, over Cosmos DB's 2 MB item limit", c.docID, n))
	}
	st.doc, st.changed = next, true
	return applied, nil
}

// baseDoc is a new document for c: its id, its sObject and, when the
// partition key is a field the change does not carry, the stored one's.
func (s *Sink) baseDoc(c *change, cur map[string]any) map[string]any {
	d := make(map[string]any, len(c.fields)+4)
	d["id"] = c.docID
	entity := c.entity
	if entity == "" && cur != nil {
		entity, _ = cur["sobject"].(string)
	}
	if entity != "" {
		d["sobject"] = entity
	}
	if cur != nil && s.pkProp != "id" && s.pkProp != "sobject" {
		if v, ok := cur[s.pkProp]; ok {
			d[s.pkProp] = v
		}
	}
	return d
}

// docSize returns the size of d as JSON.
func docSize(d map[string]any) (int, error) {
	b, err := json.Marshal(d)
	return len(b), err
}

// pkValue returns the partition key value of a document.
func (s *Sink) pkValue(d map[string]any) any {
	return d[s.pkProp]
}

// addNames adds names to a stored list of names (decoded from JSON as
// []any, or built here as []string), without duplicates.
func addNames(list any, names []string) []string {
	var out []string
	switch l := list.(type) {
	case []string:
		out = slices.Clone(l)
	case []any:
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
