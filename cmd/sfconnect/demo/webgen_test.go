package demo

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// TestGenerateWebApp: the simulated web application publishes changes the
// sink accepts, to Accounts the container holds, and refuses a bad rate.
func TestGenerateWebApp(t *testing.T) {
	c := kafkatest.NewFake(t)
	c.CreateTopic(t, "webapp.changes", 1, nil)
	s := New(Deps{Salesforce: &fakeOrg{}, Producer: c.Client(t), WebAppTopic: "webapp.changes"})
	if err := s.GenerateWebApp(context.Background(), 0); err == nil {
		t.Error("rate 0 accepted")
	}
	s.setIDs(Columns{WebApp: []Row{{Account: Account{ID: "001A"}, Present: true}, {Account: Account{ID: "001B"}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = s.GenerateWebApp(ctx, 50)

	cl := c.Client(t, kgo.ConsumeTopics("webapp.changes"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	var got []*kgo.Record
	for len(got) < 3 && rctx.Err() == nil {
		cl.PollFetches(rctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	if len(got) < 3 {
		t.Fatalf("read %d changes, want at least 3", len(got))
	}
	for _, r := range got {
		chg, err := sfsink.JSONDecoder{}.Decode(r.Value)
		if err != nil {
			t.Fatalf("the sink rejects %s: %v", r.Value, err)
		}
		// Only the Account the container holds.
		if chg.RecordID != "001A" || string(r.Key) != "001A" || len(chg.Fields) != 1 || chg.Fields["employees"] == nil {
			t.Errorf("change %+v", chg)
		}
	}
}
