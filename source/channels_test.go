package source_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/schemas"
	"github.com/sfconnect/sfconnect/source"
)

// invoiceDescribe is a custom object, Invoice__c (key prefix a01), built
// the way salesforce/sfsim/testdata/sim.json declares it.
func invoiceDescribe() salesforce.SObjectDescribe {
	f := func(name, typ string, length int) salesforce.Field {
		return salesforce.Field{Name: name, Label: name, Type: typ, Length: length, Nillable: true, Createable: true, Updateable: true}
	}
	sys := func(name, typ string) salesforce.Field {
		fl := f(name, typ, 0)
		fl.Createable, fl.Updateable, fl.DefaultedOnCreate = false, false, true
		if typ == "reference" {
			fl.Length, fl.ReferenceTo = 18, []string{"User"}
		}
		return fl
	}
	id := sys("Id", "id")
	id.Length, id.Nillable, id.IDLookup = 18, false, true
	deleted := sys("IsDeleted", "boolean")
	deleted.Nillable = false
	name := f("Name", "string", 80)
	name.Nillable, name.IDLookup = false, true
	total := f("Total__c", "currency", 0)
	total.Precision, total.Scale = 18, 2
	owner := f("OwnerId", "reference", 18)
	owner.ReferenceTo = []string{"User"}
	return salesforce.SObjectDescribe{
		Name: "Invoice__c", Label: "Invoice", LabelPlural: "Invoices", KeyPrefix: "a01", Custom: true,
		Createable: true, Updateable: true, Deletable: true, Queryable: true,
		Fields: []salesforce.Field{
			id, deleted, name, total, owner,
			sys("CreatedDate", "datetime"), sys("CreatedById", "reference"),
			sys("LastModifiedDate", "datetime"), sys("LastModifiedById", "reference"),
			sys("SystemModstamp", "datetime"),
		},
	}
}

// byChannel validates every record of recs, checks that it is keyed by its
// 18-character record id, and groups the envelopes by channel.
func byChannel(t *testing.T, recs []*kgo.Record) map[string][]source.Envelope {
	t.Helper()
	out := map[string][]source.Envelope{}
	for _, r := range recs {
		env := validate(t, r.Value)
		if env.RecordID == nil || string(r.Key) != *env.RecordID || len(r.Key) != 18 {
			t.Fatalf("record on %s: key %q, record id %v; want the 18-character Id", r.Topic, r.Key, env.RecordID)
		}
		if h := header(r, source.HeaderChannel); h != env.Channel {
			t.Fatalf("record on %s: header %s=%q, envelope channel %q", r.Topic, source.HeaderChannel, h, env.Channel)
		}
		out[env.Channel] = append(out[env.Channel], env)
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestSource_PubSub_Channels reads, over Pub/Sub with TLS, the change
// channels of Account, Contact and a custom object, /data/ChangeEvents
// (every entity, one topic per entity) and a custom channel carrying
// Account and Invoice__c, into one runner.
func TestSource_PubSub_Channels(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newEnv(t, c, sfsim.Objects(invoiceDescribe()), sfsim.CustomChannel("/data/Sales__chn", "Account", "Invoice__c"),
		sfsim.StreamTimeouts(10*time.Second, time.Second, time.Second))
	if !strings.HasPrefix(e.sim.URL(), "https://") {
		t.Fatalf("sim URL %s: want TLS", e.sim.URL())
	}
	account, err := e.sim.Create("Account", map[string]any{"Name": "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	contact, err := e.sim.Create("Contact", map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "AccountId": account})
	if err != nil {
		t.Fatal(err)
	}
	var invoices []string
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for _, n := range []string{"INV-1", "INV-2", "INV-3"} {
			id, err := tx.Create("Invoice__c", map[string]any{"Name": n, "Total__c": 99.5})
			if err != nil {
				return err
			}
			invoices = append(invoices, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// One transaction, the same change to 3 invoices: one event, 3 records.
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for _, id := range invoices {
			if err := tx.Update("Invoice__c", id, map[string]any{"Total__c": 120.25}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	cfg := baseConfig(e, "/data/AccountChangeEvent", "/data/ContactChangeEvent", "/data/Invoice__ChangeEvent",
		"/data/ChangeEvents", "/data/Sales__chn")
	defer e.run(t, cfg, connectorlib.DeliveryExactlyOnce)()

	// Account: its own channel, ChangeEvents and Sales__chn.
	acc := byChannel(t, readEnvelopes(t, c, "salesforce.Account", 3))
	for _, ch := range []string{"/data/AccountChangeEvent", "/data/ChangeEvents", "/data/Sales__chn"} {
		if len(acc[ch]) != 1 {
			t.Fatalf("Account records from %s: %d, want 1 (all: %v)", ch, len(acc[ch]), acc)
		}
		env := acc[ch][0]
		if *env.RecordID != account || env.Entity != "Account" || env.ChangeType != "CREATE" || env.Kind != source.KindChange ||
			env.Fields["Name"] != "Acme" {
			t.Fatalf("Account record from %s: %+v", ch, env)
		}
	}

	// Contact: its own channel and ChangeEvents, not Sales__chn. The Name
	// compound is flattened with a dot, as the envelope schema documents.
	con := byChannel(t, readEnvelopes(t, c, "salesforce.Contact", 2))
	if len(con) != 2 || len(con["/data/ContactChangeEvent"]) != 1 || len(con["/data/ChangeEvents"]) != 1 {
		t.Fatalf("Contact records by channel: %v", con)
	}
	if !strings.Contains(schemas.ChangeEnvelope, "Compound fields are flattened with a dot") {
		t.Fatal("the envelope schema no longer documents how compound fields are flattened")
	}
	for ch, envs := range con {
		env := envs[0]
		if *env.RecordID != contact || env.Fields["Name.FirstName"] != "Ada" || env.Fields["Name.LastName"] != "Lovelace" ||
			env.Fields["AccountId"] != account {
			t.Fatalf("Contact record from %s: fields %v", ch, env.Fields)
		}
		for _, k := range []string{"Name", "FirstName", "LastName"} {
			if _, ok := env.Fields[k]; ok {
				t.Fatalf("Contact record from %s has an unflattened %s: %v", ch, k, env.Fields)
			}
		}
	}

	// Invoice__c: its own channel, ChangeEvents and Sales__chn; each carries
	// 3 creates (different values: one event each) and the update fanned
	// out from one event to 3 records.
	inv := byChannel(t, readEnvelopes(t, c, "salesforce.Invoice__c", 18))
	for _, ch := range []string{"/data/Invoice__ChangeEvent", "/data/ChangeEvents", "/data/Sales__chn"} {
		creates, updates := map[string]bool{}, map[string]bool{}
		for _, env := range inv[ch] {
			if env.Entity != "Invoice__c" || !strings.HasPrefix(*env.RecordID, "a01") {
				t.Fatalf("Invoice__c record from %s: %+v", ch, env)
			}
			switch env.ChangeType {
			case "CREATE":
				creates[*env.RecordID] = true
			case "UPDATE":
				if env.Fields["Total__c"] != 120.25 || len(env.Header.RecordIDs) != 3 {
					t.Fatalf("Invoice__c update from %s: fields %v", ch, env.Fields)
				}
				updates[*env.RecordID] = true
			}
		}
		if len(inv[ch]) != 6 || len(creates) != 3 || len(updates) != 3 {
			t.Fatalf("Invoice__c records from %s: %d (%d creates, %d updates), want 6 (3, 3)", ch, len(inv[ch]), len(creates), len(updates))
		}
	}
}
