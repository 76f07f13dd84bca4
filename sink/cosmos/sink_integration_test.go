package cosmos

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// wantFields checks that doc holds exactly the Salesforce fields want
// (besides id, sobject and sfconnect).
func wantFields(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	if doc == nil {
		t.Fatalf("document missing; want fields %v", want)
	}
	got := maps.Clone(doc)
	for _, k := range []string{"id", "sobject", metaField, "ttl"} {
		delete(got, k)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("document fields = %v; want %v", got, want)
	}
}

// TestSink_Write_ChangeTypes applies every change kind and type to the
// real server and checks the document after each step.
func TestSink_Write_ChangeTypes(t *testing.T) {
	srv := cosmosServer(t)
	s := openSink(t, srv, nil)
	const id = "001000000000001AAA"
	steps := []struct {
		name string
		rec  any
		want map[string]any // nil: document absent
	}{
		{"CREATE writes the full document", ev{ct: "CREATE", id: id, ts: 1000, cn: 1, fields: map[string]any{"Name": "Acme", "Industry": "Retail", "NumberOfEmployees": 10}},
			map[string]any{"Name": "Acme", "Industry": "Retail", "NumberOfEmployees": 10}},
		{"UPDATE merges changed fields and nulls nulled ones", ev{ct: "UPDATE", id: id, ts: 2000, cn: 2, fields: map[string]any{"Name": "Acme Corp", "Industry": nil}, nulled: []string{"Industry"}},
			map[string]any{"Name": "Acme Corp", "Industry": nil, "NumberOfEmployees": 10}},
		{"UPDATE with a Pub/Sub nulled field only in nulled_fields", ev{ct: "UPDATE", id: id, ts: 2500, cn: 3, fields: map[string]any{}, nulled: []string{"NumberOfEmployees"}},
			map[string]any{"Name": "Acme Corp", "Industry": nil, "NumberOfEmployees": nil}},
		{"DELETE removes the document", ev{ct: "DELETE", id: id, ts: 3000, cn: 4}, nil},
		{"UNDELETE writes it again", ev{ct: "UNDELETE", id: id, ts: 4000, cn: 5, fields: map[string]any{"Name": "Acme Corp", "Rating": "Hot"}},
			map[string]any{"Name": "Acme Corp", "Rating": "Hot"}},
		{"GAP_REPAIR replaces the whole document", ev{kind: kindGapRepair, ct: "GAP_UPDATE", id: id, ts: 5000, cn: 6, fields: map[string]any{"Name": "Repaired", "SystemModstamp": "1970-01-01T00:00:05.000Z"}},
			map[string]any{"Name": "Repaired", "SystemModstamp": "1970-01-01T00:00:05.000Z"}},
		{"SNAPSHOT replaces the whole document", ev{kind: kindSnapshot, ct: "SNAPSHOT", id: id, fields: map[string]any{"Name": "Snap", "SystemModstamp": "1970-01-01T00:00:06.000Z"}},
			map[string]any{"Name": "Snap", "SystemModstamp": "1970-01-01T00:00:06.000Z"}},
		{"RESYNC replaces the whole document", ev{kind: kindResync, ct: "SNAPSHOT", id: id, fields: map[string]any{"Name": "Resynced", "SystemModstamp": "1970-01-01T00:00:07.000Z"}},
			map[string]any{"Name": "Resynced", "SystemModstamp": "1970-01-01T00:00:07.000Z"}},
		{"GAP_REPAIR of a record gone since deletes", ev{kind: kindGapRepair, ct: "DELETE", id: id, ts: 8000, cn: 9}, nil},
		{"PushTopic created", ev{kind: kindPushTopic, ct: "created", id: id, fields: map[string]any{"Id": id, "Name": "PT", "SystemModstamp": "1970-01-01T00:00:09.000Z"}},
			map[string]any{"Id": id, "Name": "PT", "SystemModstamp": "1970-01-01T00:00:09.000Z"}},
		{"PushTopic updated merges", ev{kind: kindPushTopic, ct: "updated", id: id, fields: map[string]any{"Name": "PT2", "SystemModstamp": "1970-01-01T00:00:10.000Z"}},
			map[string]any{"Id": id, "Name": "PT2", "SystemModstamp": "1970-01-01T00:00:10.000Z"}},
		{"a Kafka tombstone deletes", tombstone(id), nil},
	}
	for i, st := range steps {
		mustWrite(t, s, batch("salesforce.Account", int64(i), st.rec))
		d := getDoc(t, s, id)
		if st.want == nil {
			if d != nil {
				t.Fatalf("step %q: document still present: %v", st.name, d)
			}
			continue
		}
		t.Run(strings.ReplaceAll(st.name, " ", "_"), func(t *testing.T) { wantFields(t, d, st.want) })
		if d["sobject"] != "Account" || d["id"] != id {
			t.Errorf("step %q: id/sobject = %v/%v", st.name, d["id"], d["sobject"])
		}
	}
	// A platform event is one document per event, keyed by the Kafka key.
	pe := ev{kind: kindPlatformEvent, ct: "PUBLISH", entity: "Order__e", fields: map[string]any{"Amount__c": 5}}
	recs := batch("salesforce.Order__e", 100, pe)
	recs[0].Key = []byte("evt-1")
	mustWrite(t, s, recs)
	wantFields(t, getDoc(t, s, "evt-1"), map[string]any{"Amount__c": 5})
}

// TestSink_Write_OneBatch_SameResultAsOneByOne writes a record's whole
// history in one batch (coalesced into one read and one write) and checks
// the document equals the one built change by change.
func TestSink_Write_OneBatch_SameResultAsOneByOne(t *testing.T) {
	srv := cosmosServer(t)
	hist := []any{
		ev{ct: "CREATE", id: "a1", ts: 1, cn: 1, fields: map[string]any{"Name": "A", "Phone": "1"}},
		ev{ct: "UPDATE", id: "a1", ts: 2, cn: 2, fields: map[string]any{"Phone": "2"}},
		ev{ct: "CREATE", id: "b1", ts: 2, cn: 2, seq: 1, fields: map[string]any{"Name": "B"}},
		ev{ct: "DELETE", id: "b1", ts: 3, cn: 3},
		ev{ct: "UPDATE", id: "a1", ts: 4, cn: 4, fields: map[string]any{"Name": "A2", "Phone": nil}, nulled: []string{"Phone"}},
	}
	one := openSink(t, srv, nil)
	mustWrite(t, one, batch("t", 0, hist...))
	each := openSink(t, srv, nil)
	for i, r := range hist {
		mustWrite(t, each, batch("t", int64(i), r))
	}
	a, b := allDocs(t, one), allDocs(t, each)
	if len(a) != 1 || a["a1"] == nil {
		t.Fatalf("one batch left %v; want only a1", a)
	}
	wantFields(t, a["a1"], map[string]any{"Name": "A2", "Phone": nil})
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("one batch: %v\none by one: %v", a, b)
	}
}

// TestSink_Write_VersionGuard checks that older and repeated changes are
// no-ops, in both delete modes.
func TestSink_Write_VersionGuard(t *testing.T) {
	srv := cosmosServer(t)
	create := ev{ct: "CREATE", id: "r1", ts: 1000, cn: 10, fields: map[string]any{"Name": "v1"}}
	upd := ev{ct: "UPDATE", id: "r1", ts: 2000, cn: 20, fields: map[string]any{"Name": "v2"}}
	old := ev{ct: "UPDATE", id: "r1", ts: 1500, cn: 15, fields: map[string]any{"Name": "old"}}
	sameMsLaterCommit := ev{ct: "UPDATE", id: "r1", ts: 2000, cn: 21, fields: map[string]any{"Name": "v3"}}
	del := ev{ct: "DELETE", id: "r1", ts: 3000, cn: 30}

	t.Run("older and duplicate updates are skipped", func(t *testing.T) {
		s := openSink(t, srv, nil)
		mustWrite(t, s, batch("t", 0, create, upd))
		mustWrite(t, s, batch("t", 2, old, upd, create))
		if got := getDoc(t, s, "r1")["Name"]; got != "v2" {
			t.Fatalf("Name = %v after older and duplicate changes; want v2", got)
		}
		if n := testutil.ToFloat64(s.metrics.Changes.WithLabelValues("stale")); n != 3 {
			t.Errorf("stale changes = %v; want 3", n)
		}
		mustWrite(t, s, batch("t", 5, sameMsLaterCommit))
		if got := getDoc(t, s, "r1")["Name"]; got != "v3" {
			t.Errorf("Name = %v; a later commit number in the same millisecond must apply", got)
		}
	})
	t.Run("soft delete keeps a tombstone no older change revives", func(t *testing.T) {
		s := openSink(t, srv, func(c *Config) { c.DeleteMode = DeleteSoft; c.TombstoneTTL = 3600e9 })
		mustWrite(t, s, batch("t", 0, create, upd, del))
		mustWrite(t, s, batch("t", 3, create, old, upd)) // a replay from the start
		d := getDoc(t, s, "r1")
		if d == nil || !metaOf(t, d).Deleted {
			t.Fatalf("document after a replayed history = %v; want a tombstone", d)
		}
		if _, has := d["Name"]; has {
			t.Errorf("tombstone keeps Salesforce fields: %v", d)
		}
		if d["ttl"] == nil {
			t.Errorf("tombstone has no ttl though COSMOS_TOMBSTONE_TTL is set: %v", d)
		}
		// A DELETE of a record never seen leaves a tombstone too, so that its
		// late CREATE cannot create it.
		mustWrite(t, s, batch("t", 6, ev{ct: "DELETE", id: "r2", ts: 50, cn: 5}, ev{ct: "CREATE", id: "r2", ts: 40, cn: 4, fields: map[string]any{"Name": "late"}}))
		if d := getDoc(t, s, "r2"); d == nil || !metaOf(t, d).Deleted {
			t.Errorf("r2 = %v; want a tombstone", d)
		}
		// UNDELETE, newer than the delete, revives it without a ttl.
		mustWrite(t, s, batch("t", 8, ev{ct: "UNDELETE", id: "r1", ts: 4000, cn: 40, fields: map[string]any{"Name": "back"}}))
		d = getDoc(t, s, "r1")
		if d == nil || metaOf(t, d).Deleted || d["Name"] != "back" || d["ttl"] != nil {
			t.Errorf("after UNDELETE: %v", d)
		}
	})
	t.Run("hard delete converges on a replay from the start", func(t *testing.T) {
		s := openSink(t, srv, nil)
		hist := batch("t", 0, create, upd, del)
		mustWrite(t, s, hist)
		mustWrite(t, s, hist)
		if d := getDoc(t, s, "r1"); d != nil {
			t.Errorf("document present after the replayed history ending in DELETE: %v", d)
		}
	})
}

// TestSink_Write_Strategies covers each write strategy.
func TestSink_Write_Strategies(t *testing.T) {
	srv := cosmosServer(t)
	create := ev{ct: "CREATE", id: "s1", ts: 1, cn: 1, fields: map[string]any{"Name": "first", "Phone": "1"}}
	later := ev{ct: "UPDATE", id: "s1", ts: 2, cn: 2, fields: map[string]any{"Name": "second"}}
	snapshot := ev{kind: kindSnapshot, ct: "SNAPSHOT", id: "s1", fields: map[string]any{"Name": "snap", "SystemModstamp": "1970-01-01T00:00:01.000Z"}}

	t.Run("append creates once and keeps the first", func(t *testing.T) {
		s := openSink(t, srv, func(c *Config) { c.WriteStrategy = StrategyAppend })
		mustWrite(t, s, batch("t", 0, create, later))
		wantFields(t, getDoc(t, s, "s1"), map[string]any{"Name": "first", "Phone": "1"})
		if n := testutil.ToFloat64(s.metrics.Changes.WithLabelValues("exists")); n != 1 {
			t.Errorf("exists = %v; want 1", n)
		}
		mustWrite(t, s, batch("t", 2, tombstone("s1")))
		if d := getDoc(t, s, "s1"); d != nil {
			t.Errorf("append ignored a tombstone: %v", d)
		}
	})
	t.Run("delete deletes whatever the record", func(t *testing.T) {
		s := openSink(t, srv, nil)
		mustWrite(t, s, batch("t", 0, create))
		d := openSinkCfg(t, func() Config { c := s.cfg; c.WriteStrategy = StrategyDelete; return c }())
		mustWrite(t, d, batch("t", 1, later))
		if doc := getDoc(t, s, "s1"); doc != nil {
			t.Errorf("delete strategy left %v", doc)
		}
	})
	t.Run("patch keeps fields the application added", func(t *testing.T) {
		s := openSink(t, srv, func(c *Config) { c.WriteStrategy = StrategyPatch })
		mustWrite(t, s, batch("t", 0, create))
		doc := getDoc(t, s, "s1")
		doc["appScore"] = 42
		if _, err := s.container.UpsertItem(t.Context(), azcosmos.NewPartitionKeyString("s1"), mustJSON(t, doc), nil); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, s, batch("t", 1, later, snapshot))
		// The newer snapshot merges: Phone, absent from it, and appScore
		// survive.
		wantFields(t, getDoc(t, s, "s1"), map[string]any{"Name": "snap", "Phone": "1", "SystemModstamp": "1970-01-01T00:00:01.000Z", "appScore": 42})
	})
	t.Run("overwrite replaces and drops what it does not own", func(t *testing.T) {
		s := openSink(t, srv, nil)
		mustWrite(t, s, batch("t", 0, ev{kind: kindSnapshot, ct: "SNAPSHOT", id: "s1", fields: map[string]any{"Name": "s0", "SystemModstamp": "1970-01-01T00:00:00.000Z"}}))
		doc := getDoc(t, s, "s1")
		doc["appScore"] = 42
		if _, err := s.container.UpsertItem(t.Context(), azcosmos.NewPartitionKeyString("s1"), mustJSON(t, doc), nil); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, s, batch("t", 1, snapshot))
		wantFields(t, getDoc(t, s, "s1"), map[string]any{"Name": "snap", "SystemModstamp": "1970-01-01T00:00:01.000Z"})
	})
	t.Run("overwrite_if_not_modified skips a change that lost a race", func(t *testing.T) {
		s := openSink(t, srv, func(c *Config) { c.WriteStrategy = StrategyOverwriteIfNotModified })
		mustWrite(t, s, batch("t", 0, create))
		// Another writer changes the document between the sink's read and
		// its write.
		s.beforeStore = func(id string) {
			doc := getDoc(t, s, id)
			doc["Name"] = "theirs"
			if _, err := s.container.ReplaceItem(t.Context(), azcosmos.NewPartitionKeyString(id), id, mustJSON(t, doc), nil); err != nil {
				t.Error(err)
			}
		}
		mustWrite(t, s, batch("t", 1, later))
		s.beforeStore = nil
		if got := getDoc(t, s, "s1")["Name"]; got != "theirs" {
			t.Errorf("Name = %v; want the other writer's value kept", got)
		}
		if n := testutil.ToFloat64(s.metrics.Changes.WithLabelValues("conflict")); n != 1 {
			t.Errorf("conflicts = %v; want 1", n)
		}
	})
	t.Run("overwrite re-reads after a race and applies", func(t *testing.T) {
		s := openSink(t, srv, nil)
		mustWrite(t, s, batch("t", 0, create))
		raced := false
		s.beforeStore = func(id string) {
			if raced {
				return
			}
			raced = true
			doc := getDoc(t, s, id)
			doc["Phone"] = "theirs"
			if _, err := s.container.ReplaceItem(t.Context(), azcosmos.NewPartitionKeyString(id), id, mustJSON(t, doc), nil); err != nil {
				t.Error(err)
			}
		}
		mustWrite(t, s, batch("t", 1, later))
		wantFields(t, getDoc(t, s, "s1"), map[string]any{"Name": "second", "Phone": "theirs"})
		if n := testutil.ToFloat64(s.metrics.Retries.WithLabelValues("precondition")); n != 1 {
			t.Errorf("precondition retries = %v; want 1", n)
		}
	})
}

// TestSink_Write_FieldPartitionKey partitions by a Salesforce field: an
// UPDATE without it finds the document, a change of it moves the document.
func TestSink_Write_FieldPartitionKey(t *testing.T) {
	srv := cosmosServer(t)
	s := openSink(t, srv, func(c *Config) { c.PartitionKey = "/AccountId" })
	mustWrite(t, s, batch("t", 0,
		ev{ct: "CREATE", entity: "Contact", id: "c1", ts: 1, cn: 1, fields: map[string]any{"LastName": "L", "AccountId": "acc1"}},
		ev{ct: "CREATE", entity: "Contact", id: "c2", ts: 1, cn: 1, seq: 1, fields: map[string]any{"LastName": "N"}}))
	s.pks = newPKCache(pkCacheSize) // as a fresh process: resolve by query
	mustWrite(t, s, batch("t", 2, ev{ct: "UPDATE", entity: "Contact", id: "c1", ts: 2, cn: 2, fields: map[string]any{"LastName": "L2"}}))
	wantFields(t, getDocPK(t, s, "c1", azcosmos.NewPartitionKeyString("acc1")), map[string]any{"LastName": "L2", "AccountId": "acc1"})
	mustWrite(t, s, batch("t", 3, ev{ct: "UPDATE", entity: "Contact", id: "c1", ts: 3, cn: 3, fields: map[string]any{"AccountId": "acc2"}}))
	if d := getDocPK(t, s, "c1", azcosmos.NewPartitionKeyString("acc1")); d != nil {
		t.Errorf("document still under the old partition key: %v", d)
	}
	wantFields(t, getDocPK(t, s, "c1", azcosmos.NewPartitionKeyString("acc2")), map[string]any{"LastName": "L2", "AccountId": "acc2"})
	if d := getDocPK(t, s, "c2", azcosmos.NullPartitionKey); d == nil || d["AccountId"] != nil {
		t.Errorf("c2 without AccountId = %v; want stored with AccountId null", d)
	}
	mustWrite(t, s, batch("t", 4, ev{ct: "DELETE", entity: "Contact", id: "c1", ts: 4, cn: 4}))
	if docs := allDocs(t, s); len(docs) != 1 {
		t.Errorf("documents after DELETE: %v; want only c2", docs)
	}
}

// TestSink_Write_PoisonRecords checks that undecodable, unknown and
// oversized records fail permanently with their reason while the rest of
// the batch is applied.
func TestSink_Write_PoisonRecords(t *testing.T) {
	srv := cosmosServer(t)
	s := openSink(t, srv, nil)
	huge := strings.Repeat("x", 2*1024*1024)
	recs := batch("t", 0,
		ev{ct: "CREATE", id: "ok1", ts: 1, cn: 1, fields: map[string]any{"Name": "one"}},
		raw{key: "bad1", value: []byte(`{"envelope_version":1,"kind":"CHANGE",`)},
		ev{ct: "MERGE", id: "bad2", ts: 1, cn: 1},
		ev{ct: "CREATE", id: "big", ts: 1, cn: 1, fields: map[string]any{"Description": huge}},
		ev{ct: "UPDATE", id: "ok1", ts: 2, cn: 2, fields: map[string]any{"Description": huge}},
		ev{ct: "UPDATE", id: "ok1", ts: 3, cn: 3, fields: map[string]any{"Phone": "3"}},
		raw{key: "bad3", value: []byte{0, 0, 0, 0, 1, 2}},
		ev{ct: "CREATE", id: "bad4", ts: 1, cn: 1, fields: map[string]any{"_etag": "x"}},
	)
	be := batchErr(t, write(t, s, recs))
	want := map[int]string{1: codeDecode, 2: codeChangeType, 3: codeTooLarge, 4: codeTooLarge, 6: codeDecode, 7: codeInvalid}
	for i, code := range want {
		err := be.Failed[i]
		switch {
		case err == nil:
			t.Errorf("record %d not failed; want %s", i, code)
		case connectorlib.IsRetryable(err):
			t.Errorf("record %d: retryable error %v; want permanent", i, err)
		case connectorlib.Code(err) != code:
			t.Errorf("record %d: code %q (%v); want %s", i, connectorlib.Code(err), err, code)
		}
	}
	if be.Len() != len(want) {
		t.Errorf("failed records %v; want exactly %v", be.Failed, want)
	}
	wantFields(t, getDoc(t, s, "ok1"), map[string]any{"Name": "one", "Phone": "3"})
	if d := getDoc(t, s, "big"); d != nil {
		t.Error("the oversized document was written")
	}
}

// TestSink_Write_ConditionalPatch applies UPDATEs of documents the sink has
// not cached with one conditional patch each (no read): the stand-in
// evaluates the version condition, an older UPDATE is a no-op, and an
// UPDATE of a missing document falls back to creating it.
func TestSink_Write_ConditionalPatch(t *testing.T) {
	srv := cosmosServer(t)
	s := openSink(t, srv, func(c *Config) { c.WriteStrategy, c.DocumentCache = StrategyPatch, 0 })
	reads := func() float64 { return testutil.ToFloat64(s.metrics.RequestCharge.WithLabelValues("read")) }
	readsBefore := reads()
	mustWrite(t, s, batch("t", 0, ev{ct: "CREATE", id: "p1", ts: 10, cn: 10, fields: map[string]any{"Name": "a", "Phone": "1", "Rating": "Hot"}}))
	mustWrite(t, s, batch("t", 1, ev{ct: "UPDATE", id: "p1", ts: 20, cn: 20, fields: map[string]any{"Name": "b"}, nulled: []string{"Phone"}}))
	mustWrite(t, s, batch("t", 2, ev{ct: "UPDATE", id: "p1", ts: 15, cn: 15, fields: map[string]any{"Name": "older"}}))
	mustWrite(t, s, batch("t", 3, ev{ct: "UPDATE", id: "p1", ts: 20, cn: 20, seq: 1, fields: map[string]any{"Rating": "Cold"}}))
	mustWrite(t, s, batch("t", 4, ev{ct: "UPDATE", id: "p1", ts: 20, cn: 20, seq: 1, fields: map[string]any{"Rating": "dup"}}))
	if n := reads() - readsBefore; n != 0 {
		t.Errorf("%v reads; want none", n)
	}
	d := getDoc(t, s, "p1")
	if p, ok := d["Phone"]; ok && p != nil {
		t.Errorf("Phone = %v; want null or absent", p)
	}
	delete(d, "Phone") // the stand-in removes a property set to null; Cosmos DB stores null
	wantFields(t, d, map[string]any{"Name": "b", "Rating": "Cold"})
	if m := metaOf(t, getDoc(t, s, "p1")); m.version != (version{TS: 20, CN: 20, Seq: 1}) || m.Source != "t/0@3" {
		t.Errorf("meta = %+v", m)
	}
	if n := testutil.ToFloat64(s.metrics.Documents.WithLabelValues("patch")); n != 2 {
		t.Errorf("patches = %v; want 2", n)
	}
	if n := testutil.ToFloat64(s.metrics.Changes.WithLabelValues("stale")); n != 2 {
		t.Errorf("stale = %v; want 2", n)
	}
	mustWrite(t, s, batch("t", 5, ev{ct: "UPDATE", id: "p2", ts: 1, cn: 1, fields: map[string]any{"Name": "partial"}}))
	wantFields(t, getDoc(t, s, "p2"), map[string]any{"Name": "partial"})
}
