package cosmos

import (
	"encoding/json"
	"time"
)

// version orders the states of one Salesforce record. It is stored with
// each document (the sfconnect field) and compared before every write, so
// an older or repeated change never overwrites a newer state.
//
// The order is the commit order of the org: the commit timestamp first (the
// only component a snapshot, a resync or a PushTopic event also has, through
// the record's SystemModstamp), then the commit number (the org's system
// change number, which orders two transactions committed in the same
// millisecond), then the sequence number (which orders the changes one
// transaction made to the same record). At equal positions, a full state (a
// snapshot, a resync or a gap repair) ranks above a change event: it holds
// the same state plus every field a delta lacks, so it may complete a
// document built from deltas, while the same full state seen again is a
// duplicate. Kafka offsets are deliberately not part of the order: a record's
// changes may reach the sink through different topics (a resync, a replayed
// copy of a topic) whose offsets say nothing about Salesforce's order.
type version struct {
	TS   int64 `json:"ts"`   // commit timestamp (or SystemModstamp), Unix milliseconds
	CN   int64 `json:"cn"`   // commit number
	Seq  int32 `json:"seq"`  // sequence number within the transaction
	Full bool  `json:"full"` // built from a full state rather than a delta
}

// less reports whether v orders strictly before w.
func (v version) less(w version) bool {
	switch {
	case v.TS != w.TS:
		return v.TS < w.TS
	case v.CN != w.CN:
		return v.CN < w.CN
	case v.Seq != w.Seq:
		return v.Seq < w.Seq
	}
	return !v.Full && w.Full
}

// meta is the sink's bookkeeping in each document, under metaField.
type meta struct {
	version
	// Versioned is false for documents only ever written by unversioned
	// records (a platform event, a state without SystemModstamp): any
	// record may then replace them.
	Versioned bool `json:"versioned"`
	// Deleted marks a soft-delete tombstone.
	Deleted bool `json:"deleted,omitempty"`
	// Source names the Kafka record last applied (topic/partition@offset),
	// for tracing a document back to its change.
	Source string `json:"source"`
}

// diffField lists, in a document, the large text fields whose last change
// came as a diff (Pub/Sub diffFields) the sink cannot apply: their value
// may be stale until the next full state of the record. It is a property of
// its own so that a patch setting metaField leaves it alone.
const diffField = "sfconnect_diff_skipped"

// metaField is the document property holding meta. No Salesforce field is
// all lowercase (standard fields are capitalised, custom ones end in __c),
// so it cannot collide with one; and it has no leading underscore, which
// Cosmos DB's patch treats as a system property it refuses to set.
const metaField = "sfconnect"

// parseModstamp reads a Salesforce datetime (2026-11-23T10:00:00.000Z or
// 2026-11-23T10:00:00.000+0000) as Unix milliseconds.
func parseModstamp(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok || s == "" {
		return 0, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// readMeta extracts meta from a stored document; ok is false when the
// document has none (written by someone else).
func readMeta(doc map[string]any) (meta, bool) {
	raw, ok := doc[metaField]
	if !ok {
		return meta{}, false
	}
	if m, ok := raw.(meta); ok {
		return m, true // built by this process (cached)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return meta{}, false
	}
	var m meta
	if json.Unmarshal(b, &m) != nil {
		return meta{}, false
	}
	return m, true
}
