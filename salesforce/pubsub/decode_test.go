package pubsub_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
)

// TestClient_DecodeChange_Update: an UPDATE's bitmaps come back as field
// names, compound components included.
func TestClient_DecodeChange_Update(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	ctx := context.Background()
	id, err := sim.Create("Account", map[string]any{"Name": "Acme", "Phone": "555-0100", "BillingCity": "Paris", "BillingStreet": "1 Rue"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Update("Account", id, map[string]any{"BillingCity": "Lyon", "Phone": nil}); err != nil {
		t.Fatal(err)
	}
	events, _ := recvEvents(t, subscribe(t, c, earliest(accountTopic, 0)), 2)

	create, _, err := c.DecodeChange(ctx, events[0])
	if err != nil {
		t.Fatalf("DecodeChange(create): %v", err)
	}
	if create.Header.ChangeType != cdc.ChangeTypeCreate || create.Fields["Name"] != "Acme" {
		t.Fatalf("create = %+v", create)
	}

	ev, schema, err := c.DecodeChange(ctx, events[1])
	if err != nil {
		t.Fatalf("DecodeChange(update): %v", err)
	}
	h := ev.Header
	if h.ChangeType != cdc.ChangeTypeUpdate || h.EntityName != "Account" || !slices.Equal(h.RecordIDs, []string{id}) {
		t.Fatalf("header = %+v", h)
	}
	if schema.Name() != "AccountChangeEvent" {
		t.Fatalf("schema = %s", schema.Name())
	}
	for _, name := range []string{"BillingAddress.City", "Phone"} {
		if !slices.Contains(h.ChangedFields, name) {
			t.Fatalf("ChangedFields = %v, want %s among them", h.ChangedFields, name)
		}
	}
	if !slices.Contains(h.NulledFields, "Phone") {
		t.Fatalf("NulledFields = %v, want Phone", h.NulledFields)
	}
	if addr, _ := ev.Fields["BillingAddress"].(map[string]any); addr["City"] != "Lyon" {
		t.Fatalf("BillingAddress = %v, want City Lyon", ev.Fields["BillingAddress"])
	}
}

func TestClient_DecodePlatform(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	publishOrders(t, sim, 2)
	events, _ := recvEvents(t, subscribe(t, c, earliest(orderTopic, 0)), 2)
	pe, schema, err := c.DecodePlatform(context.Background(), events[1])
	if err != nil {
		t.Fatalf("DecodePlatform: %v", err)
	}
	if schema.Kind() != cdc.KindPlatformEvent || pe.Fields["OrderNumber__c"] != "O-1" || pe.Fields["Amount__c"] != float64(1) {
		t.Fatalf("DecodePlatform = %v (schema %s)", pe.Fields, schema.Name())
	}
}

// TestClient_Decode_WrongKind: decoding an event as the other kind is a
// permanent DECODE error.
func TestClient_Decode_WrongKind(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	ctx := context.Background()
	publishOrders(t, sim, 1)
	orders, _ := recvEvents(t, subscribe(t, c, earliest(orderTopic, 0)), 1)
	_, _, err := c.DecodeChange(ctx, orders[0])
	if !errors.Is(err, cdc.ErrWrongKind) || connectorlib.IsRetryable(err) || connectorlib.Code(err) != "DECODE" {
		t.Fatalf("DecodeChange(platform event) = %v; want permanent DECODE wrapping cdc.ErrWrongKind", err)
	}
	bad := orders[0]
	bad.Payload = []byte{0xff, 0xff, 0xff}
	_, _, err = c.DecodePlatform(ctx, bad)
	if !errors.Is(err, cdc.ErrMalformedPayload) || connectorlib.IsRetryable(err) {
		t.Fatalf("DecodePlatform(garbage) = %v; want permanent ErrMalformedPayload", err)
	}
}

// TestClient_DecodeFlat_AgreesWithDecode: the flat decoders give the same
// header (bitmaps as names) and the same values, flattened, and the same
// errors as DecodeChange and DecodePlatform.
func TestClient_DecodeFlat_AgreesWithDecode(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c := newClient(t, sim)
	ctx := context.Background()
	id, err := sim.Create("Account", map[string]any{"Name": "Acme", "Phone": "555-0100", "BillingCity": "Paris"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Update("Account", id, map[string]any{"BillingCity": "Lyon", "Phone": nil}); err != nil {
		t.Fatal(err)
	}
	publishOrders(t, sim, 1)
	changes, _ := recvEvents(t, subscribe(t, c, earliest(accountTopic, 0)), 2)
	orders, _ := recvEvents(t, subscribe(t, c, earliest(orderTopic, 0)), 1)

	var flat cdc.FlatChange
	for _, ev := range changes {
		want, wantSchema, err := c.DecodeChange(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		schema, err := c.DecodeChangeFlat(ctx, ev, &flat)
		if err != nil || schema != wantSchema {
			t.Fatalf("DecodeChangeFlat: schema %v, %v", schema, err)
		}
		if !reflect.DeepEqual(flat.Header, want.Header) {
			t.Fatalf("header %+v, want %+v", flat.Header, want.Header)
		}
		got := map[string]any{}
		for _, f := range flat.Fields {
			got[f.Name] = f.Value.Interface()
		}
		if got["Name"] != want.Fields["Name"] || got["BillingAddress.City"] != want.Fields["BillingAddress"].(map[string]any)["City"] {
			t.Fatalf("flat fields %v, want %v", got, want.Fields)
		}
	}
	pe, _, err := c.DecodePlatform(ctx, orders[0])
	if err != nil {
		t.Fatal(err)
	}
	fields, _, err := c.DecodePlatformFlat(ctx, orders[0], nil)
	if err != nil || len(fields) != len(pe.Fields) {
		t.Fatalf("DecodePlatformFlat = %v, %v; want %v", fields, err, pe.Fields)
	}
	for _, f := range fields {
		if pe.Fields[f.Name] != f.Value.Interface() {
			t.Fatalf("%s = %v, want %v", f.Name, f.Value.Interface(), pe.Fields[f.Name])
		}
	}

	// Errors: the wrong kind, and garbage.
	_, _, wantErr := c.DecodeChange(ctx, orders[0])
	if _, err := c.DecodeChangeFlat(ctx, orders[0], &flat); err == nil || err.Error() != wantErr.Error() || connectorlib.Code(err) != "DECODE" {
		t.Fatalf("DecodeChangeFlat(platform event) = %v, want %v", err, wantErr)
	}
	bad := changes[0]
	bad.Payload = []byte{0xff, 0xff, 0xff}
	_, _, wantErr = c.DecodeChange(ctx, bad)
	if _, err := c.DecodeChangeFlat(ctx, bad, &flat); err == nil || err.Error() != wantErr.Error() || connectorlib.IsRetryable(err) {
		t.Fatalf("DecodeChangeFlat(garbage) = %v, want %v", err, wantErr)
	}
	_, _, wantErr = c.DecodePlatform(ctx, bad)
	if _, _, err := c.DecodePlatformFlat(ctx, bad, nil); err == nil || err.Error() != wantErr.Error() {
		t.Fatalf("DecodePlatformFlat(garbage) = %v, want %v", err, wantErr)
	}
}
