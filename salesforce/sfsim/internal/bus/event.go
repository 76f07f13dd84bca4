package bus

import (
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
)

// Kind is the kind of an event.
type Kind int

// Event kinds.
const (
	KindChange Kind = iota + 1
	KindPlatform
	KindPushTopic
)

// Change types beyond the org's CREATE/UPDATE/DELETE/UNDELETE.
const (
	GapCreate   = "GAP_CREATE"
	GapUpdate   = "GAP_UPDATE"
	GapDelete   = "GAP_DELETE"
	GapUndelete = "GAP_UNDELETE"
	GapOverflow = "GAP_OVERFLOW"
)

// OverflowRecordID is the record id of overflow events.
const OverflowRecordID = "000000000000000AAA"

// Header is a change event's ChangeEventHeader, with field lists in
// describe names (surfaces convert them to their wire forms).
type Header struct {
	EntityName      string
	RecordIDs       []string
	ChangeType      string
	ChangeOrigin    string
	TransactionKey  string
	SequenceNumber  int
	CommitTimestamp int64
	CommitNumber    int64
	CommitUser      string
	ChangedFields   []string
	NulledFields    []string
	DiffFields      []string
}

// Event is one event on the bus. Events are immutable once published.
type Event struct {
	ReplayID  int64
	Kind      Kind
	Published time.Time
	// Channel is the event's own channel: /data/<Object>ChangeEvent,
	// /event/<Name>__e or /topic/<Name>.
	Channel string

	// Change events.
	Header   Header
	Describe *salesforce.SObjectDescribe // the object's describe at commit

	// Fields are the body values in describe names: a change event's
	// values, a platform event's payload, a PushTopic event's sObject.
	Fields map[string]any

	// Platform events.
	EventUUID string
	// PushTopic events: created, updated, deleted or undeleted.
	PushType string
}

// ChangeChannel returns the change event channel of an object:
// /data/AccountChangeEvent, /data/Employee__ChangeEvent for Employee__c.
func ChangeChannel(object string) string {
	if base, ok := strings.CutSuffix(object, "__c"); ok {
		return "/data/" + base + "__ChangeEvent"
	}
	return "/data/" + object + "ChangeEvent"
}

// AllChangeEvents is the channel carrying every selected object's changes.
const AllChangeEvents = "/data/ChangeEvents"
