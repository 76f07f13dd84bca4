package cosmos

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/source"
)

// TestSink_Write_AvroValues applies envelopes the source encoded as Avro
// (Schema Registry wire format, srfake as the registry), and checks that an
// unknown schema id is dead-lettered while a registry outage is retried and
// holds back the later changes of the record.
func TestSink_Write_AvroValues(t *testing.T) {
	srv := cosmosServer(t)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := source.NewAvroEncoder(cl)
	if err != nil {
		t.Fatal(err)
	}
	id := "001A00000000001AAA"
	env := func(ct string, ts int64, fields map[string]any, nulled ...string) []byte {
		e := &source.Envelope{EnvelopeVersion: 1, Kind: source.KindChange, Entity: "Account", RecordID: &id, ChangeType: ct,
			Fields: fields, ChangedFields: []string{}, NulledFields: append([]string{}, nulled...), DiffFields: []string{},
			Header:  &source.Header{RecordIDs: []string{id}, CommitTimestamp: time.UnixMilli(ts).UTC(), CommitNumber: ts, SequenceNumber: 1},
			Channel: "/data/AccountChangeEvent", DedupeKey: "k", ReceivedAt: time.Now().UTC()}
		b, err := enc.Encode("salesforce.Account", e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s := openSink(t, srv, func(c *Config) { c.SchemaRegistryURL = reg.URL() })
	mustWrite(t, s, batch("salesforce.Account", 0,
		raw{key: id, value: env("CREATE", 10, map[string]any{"Name": "Avro", "NumberOfEmployees": int64(7), "Phone": "1"})},
		raw{key: id, value: env("UPDATE", 20, map[string]any{"Name": "Avro 2"}, "Phone")},
		raw{key: id, value: env("UPDATE", 15, map[string]any{"Name": "older"})},
	))
	wantFields(t, getDoc(t, s, id), map[string]any{"Name": "Avro 2", "NumberOfEmployees": 7, "Phone": nil})

	unknown := env("UPDATE", 30, map[string]any{"Name": "x"})
	unknown[4] = 99 // schema id 99: not registered
	be := batchErr(t, write(t, s, batch("salesforce.Account", 3, raw{key: id, value: unknown})))
	if err := be.Failed[0]; connectorlib.IsRetryable(err) || connectorlib.Code(err) != codeDecode {
		t.Errorf("unknown schema id: %v; want a permanent %s", err, codeDecode)
	}

	// A fresh sink has no schema cached; with the registry down, the first
	// record fails retryably and the record's later JSON change waits.
	s2 := openSinkCfg(t, func() Config { c := s.cfg; return c }())
	later := ev{ct: "UPDATE", id: id, ts: 40, cn: 40, fields: map[string]any{"Name": "json"}}
	reg.Close()
	be = batchErr(t, write(t, s2, batch("salesforce.Account", 4, raw{key: id, value: env2(t, enc, id)}, later)))
	for i := range 2 {
		if err := be.Failed[i]; err == nil || !connectorlib.IsRetryable(err) {
			t.Errorf("record %d with the registry down: %v; want a retryable error", i, err)
		}
	}
	if got := getDoc(t, s, id)["Name"]; got != "Avro 2" {
		t.Errorf("Name = %v; the held-back change was applied", got)
	}
}

// env2 is an Avro envelope encoded while the registry still answered (the
// encoder caches its schema id).
func env2(t *testing.T, enc *source.AvroEncoder, id string) []byte {
	t.Helper()
	e := &source.Envelope{EnvelopeVersion: 1, Kind: source.KindChange, Entity: "Account", RecordID: &id, ChangeType: "UPDATE",
		Fields: map[string]any{"Name": "held"}, ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{},
		Header:  &source.Header{RecordIDs: []string{id}, CommitTimestamp: time.UnixMilli(35).UTC(), CommitNumber: 35},
		Channel: "/data/AccountChangeEvent", DedupeKey: "k", ReceivedAt: time.Now().UTC()}
	b, err := enc.Encode("salesforce.Account", e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
