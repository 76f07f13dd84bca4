package pubsubserver

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// TestChangePlan_SameBytesAsCDC checks the compiled encoder against
// cdc.Schema.Encode on every kind of change event the org produces.
func TestChangePlan_SameBytesAsCDC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	o := h.org
	mustTx := func(fn func(tx *org.Tx) *org.Error) {
		t.Helper()
		tx := o.Begin(orgOriginREST)
		if err := fn(tx); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
		tx.Commit()
	}
	var acct, contact string
	mustTx(func(tx *org.Tx) *org.Error {
		var err *org.Error
		acct, err = tx.Create("Account", map[string]any{
			"Name": "Acme", "Phone": "555", "BillingStreet": "1 Main", "BillingCity": "Paris", "BillingLatitude": 48.85,
			"AnnualRevenue": 1.5e6, "NumberOfEmployees": float64(42), "Industry": "Banking",
		})
		if err != nil {
			return err
		}
		contact, err = tx.Create("Contact", map[string]any{"LastName": "Lovelace", "FirstName": "Ada", "Salutation": "Ms.", "AccountId": acct, "MailingCity": "London"})
		if err != nil {
			return err
		}
		if _, err = tx.Create("Opportunity", map[string]any{"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-03-01", "Amount": 10.25, "Probability": float64(50)}); err != nil {
			return err
		}
		if _, err = tx.Create("Case", map[string]any{"Subject": "Broken", "AccountId": acct}); err != nil {
			return err
		}
		_, err = tx.Create("Lead", map[string]any{"LastName": "Turing", "Company": "ACE"})
		return err
	})
	mustTx(func(tx *org.Tx) *org.Error {
		return tx.Update("Account", acct, map[string]any{"BillingCity": "Lyon", "Phone": nil, "Description": "x"})
	})
	mustTx(func(tx *org.Tx) *org.Error {
		return tx.Update("Contact", contact, map[string]any{"FirstName": "Augusta"})
	})
	var many []string
	mustTx(func(tx *org.Tx) *org.Error {
		for i := range 150 {
			id, err := tx.Create("Account", map[string]any{"Name": fmt.Sprint("n", i)})
			if err != nil {
				return err
			}
			many = append(many, id)
		}
		return nil
	})
	mustTx(func(tx *org.Tx) *org.Error { // one event with 150 record ids: two array blocks
		for _, id := range many {
			if err := tx.Update("Account", id, map[string]any{"Rating": "Hot"}); err != nil {
				return err
			}
		}
		return nil
	})
	flag := salesforce.Field{Name: "Flag__c", Type: "boolean", Nillable: true, Createable: true, Updateable: true}
	if err := o.AddField("Account", flag); err != nil {
		t.Fatal(err)
	}
	mustTx(func(tx *org.Tx) *org.Error { return tx.Update("Account", acct, map[string]any{"Flag__c": true}) })
	mustTx(func(tx *org.Tx) *org.Error { return tx.Delete("Account", many[0]) })
	mustTx(func(tx *org.Tx) *org.Error { return tx.Undelete("Account", many[0]) })

	evs, _, err := h.bus.Read(bus.AllChangeEvents, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	gap := *evs[0]
	gap.Header.ChangeType, gap.Fields = bus.GapCreate, nil
	overflow := *evs[0]
	overflow.Header.ChangeType, overflow.Header.RecordIDs, overflow.Fields = bus.GapOverflow, []string{bus.OverflowRecordID}, nil
	evs = append(evs, &gap, &overflow)

	var scratch encodeScratch
	planned := 0
	for _, ev := range evs {
		c, err := h.srv.changeCodecFor(ev.Describe)
		if err != nil {
			t.Fatal(err)
		}
		if c.plan == nil {
			t.Fatalf("%s: no plan compiled", ev.Header.EntityName)
		}
		fast, err := c.encode(ev, &scratch)
		if err != nil {
			t.Fatalf("event %d (%s %s): %v", ev.ReplayID, ev.Header.EntityName, ev.Header.ChangeType, err)
		}
		var bitmaps [3][]string
		for i, names := range [3][]string{ev.Header.NulledFields, ev.Header.DiffFields, ev.Header.ChangedFields} {
			bitmaps[i], _ = c.bitmap(names)
		}
		ref, err := c.encodeWithCDC(ev, bitmaps)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fast, ref) {
			t.Fatalf("event %d (%s %s): compiled encoding differs from cdc\n got %x\nwant %x", ev.ReplayID, ev.Header.EntityName, ev.Header.ChangeType, fast, ref)
		}
		planned++
	}
	if planned < 10 {
		t.Fatalf("only %d events compared", planned)
	}
}

func TestChangePlan_FallsBackToCDCForUnplannedValues(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.createAccounts("a")
	evs, _, _ := h.bus.Read(accountTopic, 0, 1)
	ev := *evs[0]
	ev.Fields = map[string]any{"Name": 12.5} // not a string: cdc decides
	c, err := h.srv.changeCodecFor(ev.Describe)
	if err != nil {
		t.Fatal(err)
	}
	var scratch encodeScratch
	if _, err := c.encode(&ev, &scratch); err == nil {
		t.Fatal("a number for a string field encoded")
	}
}
