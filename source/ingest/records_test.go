package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/sfconnect/sfconnect/schemas"
	"github.com/sfconnect/sfconnect/source"
)

// TestRecords_EnvelopesFitTheSchema: the records of an Outbound Message
// and of webhook events are change envelopes that encode with the
// envelope's Avro schema (the new kinds included) and decode back equal.
func TestRecords_EnvelopesFitTheSchema(t *testing.T) {
	t.Parallel()
	schema, err := avro.ParseWithCache(schemas.ChangeEnvelope, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	rc := New(testConfig("t"), Deps{Connector: "c"})
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	msg, err := ParseOutbound([]byte(salesforceMessage))
	if err != nil {
		t.Fatal(err)
	}
	om, err := rc.outboundItems(msg, now)
	if err != nil {
		t.Fatal(err)
	}
	events, err := ParseWebhook([]byte(apexSerialized), "job", 10)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := rc.webhookItems(events, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range append(om, wh...) {
		var env source.Envelope
		if err := json.Unmarshal(it.record.Value, &env); err != nil {
			t.Fatal(err)
		}
		if env.Kind != KindOutboundMessage && env.Kind != KindWebhook || env.DedupeKey != it.key || it.record.Topic != "t."+env.Entity ||
			string(it.record.Key) != *env.RecordID {
			t.Fatalf("record %s: %+v", it.record.Key, env)
		}
		b, err := avro.Marshal(schema, &env)
		if err != nil {
			t.Fatalf("%s envelope does not fit the schema: %v", env.Kind, err)
		}
		var back source.Envelope
		if err := avro.Unmarshal(schema, b, &back); err != nil || back.Kind != env.Kind || back.DedupeKey != env.DedupeKey {
			t.Fatalf("Avro round trip: %+v, %v", back, err)
		}
	}
}

// TestRecords_DeletedBeforeDelivery: a notification whose record was
// deleted before delivery carries no fields and no Id; its record is keyed
// by the notification id, with a null record_id.
func TestRecords_DeletedBeforeDelivery(t *testing.T) {
	t.Parallel()
	body := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D8a00000SIMRGEA5</OrganizationId><ActionId>04k1</ActionId><Notification><Id>04l8a000000009AAA0</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"/></Notification></notifications></soapenv:Body></soapenv:Envelope>`
	msg, err := ParseOutbound([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	items, err := New(testConfig("t"), Deps{Connector: "c"}).outboundItems(msg, time.Now())
	if err != nil || len(items) != 1 {
		t.Fatalf("%v %v", items, err)
	}
	var env source.Envelope
	if err := json.Unmarshal(items[0].record.Value, &env); err != nil {
		t.Fatal(err)
	}
	if string(items[0].record.Key) != "04l8a000000009AAA0" || env.RecordID != nil || env.Entity != "Account" || len(env.Fields) != 0 {
		t.Fatalf("key %s, envelope %+v", items[0].record.Key, env)
	}
}
