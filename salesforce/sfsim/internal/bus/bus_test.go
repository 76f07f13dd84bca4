package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/simclock"
)

func newTestBus(t *testing.T) (*Bus, *org.Org, *simclock.Clock) {
	t.Helper()
	clock := &simclock.Clock{}
	o, err := org.New(org.Config{OrgID: "00D8a0000000001AAA", UserID: "0058a0000000001AAA", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b := New(Config{Now: clock.Now, OverflowLimit: 5}, o.Objects)
	o.OnCommit(b.OnCommit)
	return b, o, clock
}

func TestBus_OnCommit_OneEventPerChangeInOrder(t *testing.T) {
	t.Parallel()
	b, o, _ := newTestBus(t)
	tx := o.Begin(org.Origin{API: "rest", Version: "62.0", Client: "sfconnect"})
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		id, _ := tx.Create("Account", map[string]any{"Name": n})
		ids = append(ids, id)
	}
	cid, _ := tx.Create("Contact", map[string]any{"LastName": "x", "AccountId": ids[0]})
	tx.Commit()
	tx = o.Begin(org.Origin{})
	for _, id := range ids {
		_ = tx.Update("Account", id, map[string]any{"Industry": "Banking"})
	}
	tx.Commit()

	evs, latest, err := b.Read(ChangeChannel("Account"), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if latest != 5 || len(evs) != 4 {
		t.Fatalf("latest %d, %d account events; want 5 and 4", latest, len(evs))
	}
	for i, ev := range evs[:3] {
		if ev.Header.SequenceNumber != i+1 || ev.Header.ChangeType != org.ChangeCreate || ev.Header.ChangeOrigin != "com/salesforce/api/rest/62.0;client=sfconnect" {
			t.Fatalf("event %d header %+v", i, ev.Header)
		}
	}
	merged := evs[3]
	if len(merged.Header.RecordIDs) != 3 || merged.Header.ChangeType != org.ChangeUpdate {
		t.Fatalf("one transaction touching 3 records with the same change: %+v", merged.Header)
	}
	all, _, _ := b.Read(AllChangeEvents, 0, 100)
	contacts, _, _ := b.Read("/data/ContactChangeEvent", 0, 100)
	if len(all) != 5 || len(contacts) != 1 || contacts[0].Header.RecordIDs[0] != cid {
		t.Fatalf("all=%d contacts=%d", len(all), len(contacts))
	}
	// Reading after a replay id resumes strictly after it.
	rest, _, _ := b.Read(AllChangeEvents, evs[1].ReplayID, 100)
	if len(rest) != 3 || rest[0].ReplayID != evs[1].ReplayID+1 {
		t.Fatalf("resume after %d: %d events", evs[1].ReplayID, len(rest))
	}
}

func TestBus_Read_RetentionWindow(t *testing.T) {
	t.Parallel()
	b, o, clock := newTestBus(t)
	tx := o.Begin(org.Origin{})
	_, _ = tx.Create("Account", map[string]any{"Name": "old"})
	tx.Commit()
	clock.Advance(DefaultRetention + time.Minute)
	tx = o.Begin(org.Origin{})
	_, _ = tx.Create("Account", map[string]any{"Name": "new"})
	tx.Commit()
	if _, _, err := b.Read(AllChangeEvents, 0, 10); !errors.Is(err, ErrInvalidReplayID) {
		t.Fatalf("replay from before the window: %v", err)
	}
	if err := b.CheckReplayID(0); !errors.Is(err, ErrInvalidReplayID) {
		t.Fatalf("CheckReplayID(0) = %v", err)
	}
	if err := b.CheckReplayID(99); !errors.Is(err, ErrInvalidReplayID) {
		t.Fatalf("future replay id accepted: %v", err)
	}
	evs, _, err := b.Read(AllChangeEvents, b.Earliest(), 10)
	if err != nil || len(evs) != 1 || evs[0].Fields["Name"] != "new" {
		t.Fatalf("from earliest: %v %v", evs, err)
	}
}

func TestBus_OnCommit_OverflowBecomesGapOverflow(t *testing.T) {
	t.Parallel()
	b, o, _ := newTestBus(t)
	tx := o.Begin(org.Origin{})
	for range 8 {
		_, _ = tx.Create("Account", map[string]any{"Name": "n"})
	}
	tx.Commit()
	evs, _, _ := b.Read(AllChangeEvents, 0, 100)
	if len(evs) != 6 {
		t.Fatalf("want 5 events and one overflow, got %d", len(evs))
	}
	last := evs[5].Header
	if last.ChangeType != GapOverflow || len(last.RecordIDs) != 1 || last.RecordIDs[0] != OverflowRecordID {
		t.Fatalf("overflow header %+v", last)
	}
}

func TestBus_Wait_WakesOnPublish(t *testing.T) {
	t.Parallel()
	b, _, _ := newTestBus(t)
	b.AddPlatformEvent("Order__e")
	done := make(chan error, 1)
	go func() { done <- b.Wait(context.Background(), 0) }()
	time.Sleep(10 * time.Millisecond)
	b.Publish(&Event{Kind: KindPlatform, Channel: "/event/Order__e", Fields: map[string]any{"A__c": "x"}})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake")
	}
	if !b.Exists("/event/Order__e") || b.Exists("/event/Nope__e") || !b.Exists("/data/LeadChangeEvent") {
		t.Fatal("channel existence wrong")
	}
}

// Commits (org lock, then bus lock) racing channel lookups (which read the
// org's objects) must not deadlock.
func TestBus_Exists_ConcurrentWithCommits(t *testing.T) {
	t.Parallel()
	b, o, _ := newTestBus(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop := make(chan struct{})
		lookups := make(chan struct{})
		go func() {
			defer close(lookups)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !b.Exists(ChangeChannel("Account")) {
					t.Error("Account change channel reported missing")
					return
				}
			}
		}()
		for i := 0; i < 2000; i++ {
			tx := o.Begin(org.Origin{})
			if _, err := tx.Create("Account", map[string]any{"Name": "n"}); err != nil {
				t.Error(err)
			}
			tx.Commit()
		}
		close(stop)
		<-lookups
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("commits and channel lookups deadlocked")
	}
	if got := b.Latest(); got != 2000 {
		t.Fatalf("latest replay id %d, want 2000", got)
	}
}
