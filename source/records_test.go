package source

import (
	"bytes"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
)

func headerMap(t *testing.T, hs []connectorlib.Header) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, h := range hs {
		if _, dup := m[h.Key]; dup {
			t.Fatalf("header %s twice", h.Key)
		}
		m[h.Key] = h.Value
	}
	return m
}

// TestRecordMaker_Records: keys, header values (every one its own bytes,
// empty values empty rather than null) and the tombstone after a DELETE.
func TestRecordMaker_Records(t *testing.T) {
	t.Parallel()
	cfg := &Config{TopicTemplate: "sf.{entity}", Tombstones: true}
	m := &recordMaker{cfg: cfg, values: JSONEncoder{}}
	id := "001xx000003DGb2AAG"
	env := Envelope{
		EnvelopeVersion: EnvelopeVersion, Kind: KindChange, Entity: "Account", RecordID: &id, ChangeType: "DELETE",
		Header:  &Header{RecordIDs: []string{id}, TransactionKey: "", CommitTimestamp: time.UnixMilli(1_760_000_000_123).UTC()},
		Channel: "/data/AccountChangeEvent", ReplayID: []byte{0x00, 0xAB}, DedupeKey: "d", ReceivedAt: time.Now(),
		ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{}, flat: envelopeFields(nil),
	}
	recs, err := m.records("/data/AccountChangeEvent", connectorlib.Position{1}, []Envelope{env})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want the change and its tombstone", len(recs))
	}
	r := recs[0]
	if r.Topic != "sf.Account" || string(r.Key) != id || !r.Time.Equal(env.Header.CommitTimestamp) {
		t.Fatalf("record %+v", r)
	}
	want := map[string]string{
		HeaderKind: "CHANGE", HeaderChangeType: "DELETE", HeaderEntity: "Account", HeaderChannel: "/data/AccountChangeEvent",
		HeaderEnvelope: "1", HeaderReplayID: "00ab", HeaderTransactionKey: "", HeaderCommitTimestamp: "1760000000123",
	}
	got := headerMap(t, r.Headers)
	if len(got) != len(want) {
		t.Fatalf("headers %q, want %q", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g == nil || string(g) != v {
			t.Fatalf("header %s = %q (nil %v), want %q", k, g, g == nil, v)
		}
	}
	// The slices do not overlap: appending to one leaves the others be.
	_ = append(got[HeaderKind], 'X')
	if string(got[HeaderChangeType]) != "DELETE" {
		t.Fatalf("header values share bytes: %q", got[HeaderChangeType])
	}
	ts := recs[1]
	if ts.Value != nil || !bytes.Equal(ts.Key, r.Key) || len(ts.Headers) != 3 || ts.Topic != r.Topic {
		t.Fatalf("tombstone %+v", ts)
	}
}

// TestRecordMaker_PlatformEventKey: platform events are keyed by the
// configured payload field (a string as it is, other values as JSON), else
// by the event UUID.
func TestRecordMaker_PlatformEventKey(t *testing.T) {
	t.Parallel()
	uuid := "e-1"
	env := Envelope{
		EnvelopeVersion: EnvelopeVersion, Kind: KindPlatformEvent, Entity: "Order__e", ChangeType: "PUBLISH",
		Channel: "/event/Order__e", ReplayID: []byte{1}, EventUUID: &uuid, DedupeKey: "d", ReceivedAt: time.Now(),
		flat: envelopeFields(unranked([]cdc.FlatField{{Name: "OrderNumber__c", Value: testValue("O-7")}, {Name: "Count__c", Value: testValue(int32(3))}})),
	}
	for _, c := range []struct{ field, want string }{{"OrderNumber__c", "O-7"}, {"Count__c", "3"}, {"Missing__c", "e-1"}, {"", "e-1"}} {
		m := &recordMaker{cfg: &Config{TopicTemplate: "sf.{entity}"}, values: JSONEncoder{}, peKey: c.field}
		recs, err := m.records("/event/Order__e", connectorlib.Position{1}, []Envelope{env})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || string(recs[0].Key) != c.want {
			t.Fatalf("key field %q: key %q, want %q", c.field, recs[0].Key, c.want)
		}
		if _, ok := headerMap(t, recs[0].Headers)[HeaderTransactionKey]; ok {
			t.Fatal("platform event with a transaction key header")
		}
	}
}
