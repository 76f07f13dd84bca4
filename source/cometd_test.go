package source_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

// createPushTopic defines a PushTopic through the REST API, as an admin
// would, and returns its channel.
func createPushTopic(t *testing.T, e *env, name, query string) string {
	t.Helper()
	hc, err := e.auth.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"Name": name, "Query": query, "ApiVersion": 62.0, "NotifyForFields": "Referenced"})
	req, err := http.NewRequest(http.MethodPost, e.sim.URL()+"/services/data/v62.0/sobjects/PushTopic", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.sim.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("create PushTopic %s: HTTP %d: %s", name, resp.StatusCode, b.String())
	}
	return "/topic/" + name
}

// TestSource_CometD_Channels reads a change channel, a platform event and
// a PushTopic over the Streaming API (CometD).
func TestSource_CometD_Channels(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newEnv(t, c, sfsim.StreamTimeouts(10*time.Second, time.Second, time.Second))
	topic := createPushTopic(t, e, "HotAccounts", "SELECT Id, Name, Rating FROM Account")

	var ids []string
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for _, n := range []string{"a", "b", "c"} {
			id, err := tx.Create("Account", map[string]any{"Name": n})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// One transaction, the same change to 3 records: one change event, 3
	// records; the PushTopic notifies once per record.
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for _, id := range ids {
			if err := tx.Update("Account", id, map[string]any{"Rating": "Hot"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "o-7", "Amount__c": 12.5}); err != nil {
		t.Fatal(err)
	}

	cfg := baseConfig(e, "/data/AccountChangeEvent", "/event/Order__e", topic)
	cfg.Transport = source.TransportCometD
	defer e.run(t, cfg, connectorlib.DeliveryExactlyOnce)()

	// Change events: 3 creates and the update fanned out to 3 records.
	updates := map[string]bool{}
	for _, r := range readEnvelopes(t, c, "salesforce.Account", 6) {
		env := validate(t, r.Value)
		if env.RecordID == nil || string(r.Key) != *env.RecordID || len(r.Key) != 18 || env.Kind != source.KindChange ||
			env.Channel != "/data/AccountChangeEvent" {
			t.Fatalf("change record: key %q, %+v", r.Key, env)
		}
		if env.ChangeType == "UPDATE" {
			if env.Fields["Rating"] != "Hot" || len(env.Header.RecordIDs) != 3 {
				t.Fatalf("update of %s: %+v", r.Key, env)
			}
			updates[string(r.Key)] = true
		}
	}
	if len(updates) != 3 {
		t.Fatalf("the 3-record update fanned out to %d records", len(updates))
	}

	// PushTopic: 3 created and 3 updated notifications, keyed by Id.
	pushed := map[string]int{}
	for _, r := range readEnvelopes(t, c, "salesforce.HotAccounts", 6) {
		env := validate(t, r.Value)
		if env.Kind != source.KindPushTopic || env.Channel != topic || env.RecordID == nil || string(r.Key) != *env.RecordID ||
			len(r.Key) != 18 || env.Fields["Id"] != *env.RecordID {
			t.Fatalf("PushTopic record: key %q, %+v", r.Key, env)
		}
		pushed[env.ChangeType]++
		if env.ChangeType == "updated" && env.Fields["Rating"] != "Hot" {
			t.Fatalf("PushTopic update: %+v", env.Fields)
		}
	}
	if pushed["created"] != 3 || pushed["updated"] != 3 {
		t.Fatalf("PushTopic notifications by type: %v", pushed)
	}

	// Platform event: keyed by its EventUuid.
	pe := readEnvelopes(t, c, "salesforce.Order__e", 1)
	env := validate(t, pe[0].Value)
	if env.Kind != source.KindPlatformEvent || env.Fields["OrderNumber__c"] != "o-7" || env.Fields["Amount__c"] != 12.5 ||
		env.EventUUID == nil || string(pe[0].Key) != *env.EventUUID {
		t.Fatalf("platform event record: key %q, %+v", pe[0].Key, env)
	}
}
