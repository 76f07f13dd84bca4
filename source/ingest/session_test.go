package ingest

import (
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSession_ForgetsIDsAfterTheWindow: a notification id older than the
// dedup window is forgotten and tombstoned in the dedup topic, both by the
// running session and by a new one that loads it; a notification repeated
// after the window is written again.
func TestSession_ForgetsIDsAfterTheWindow(t *testing.T) {
	c := kafkatest.NewFake(t)
	base := kafkatest.Topic(t, "ingest")
	cfg := testConfig(base)
	cfg.DedupWindow = time.Hour
	clock := &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	h := startIngestClock(t, c, cfg, "window", connectorlib.DeliveryExactlyOnce, clock.Now)
	post := func(ids ...string) {
		t.Helper()
		if code, body := h.post(EndpointOutbound, outboundBody(sfsim.DefaultOrgID, ids...), nil); code != 200 {
			t.Fatalf("post %v: %d %s", ids, code, body)
		}
	}
	post("04l8a00000000A1")
	post("04l8a00000000A1") // within the window: a duplicate
	clock.Advance(2 * time.Hour)
	post("04l8a00000000B1") // wakes the session, which sweeps A1 out
	post("04l8a00000000A1") // forgotten: written again
	h.close()

	// A new process 2 hours later: B1 and the second A1 have expired too,
	// and are tombstoned when the session opens.
	clock.Advance(2 * time.Hour)
	h = startIngestClock(t, c, cfg, "window", connectorlib.DeliveryExactlyOnce, clock.Now)
	post("04l8a00000000C1")
	h.close()

	perNote := map[string]int{}
	for _, r := range readTopics(t, c, base+".Account") {
		perNote[r.headers[HeaderNotificationID]]++
	}
	if perNote["04l8a00000000A1"] != 2 || perNote["04l8a00000000B1"] != 1 || perNote["04l8a00000000C1"] != 1 {
		t.Fatalf("records per notification %v; want A1 twice (before and after the window), B1 and C1 once", perNote)
	}
	var live, tombstones []string
	latest := map[string]bool{}
	for _, r := range readTopics(t, c, base+".dedup") {
		if r.raw == nil {
			tombstones = append(tombstones, r.key)
			latest[r.key] = false
		} else {
			live = append(live, r.key)
			latest[r.key] = true
		}
	}
	want := map[string]bool{"outbound|00D8a00000SIMRG|04l8a00000000A1": false, "outbound|00D8a00000SIMRG|04l8a00000000B1": false,
		"outbound|00D8a00000SIMRG|04l8a00000000C1": true}
	for k, v := range want {
		if latest[k] != v {
			t.Errorf("dedup key %s: live=%v, want %v (writes %v, tombstones %v)", k, latest[k], v, live, tombstones)
		}
	}
	if len(tombstones) != 3 {
		t.Errorf("tombstones %v; want A1 twice (once per write) and B1", tombstones)
	}
}

// openedSession returns a session of rc opened without Kafka (nothing
// seen), for tests of the queue alone.
func openedSession(rc *Receiver) *session {
	s := newSession(rc)
	s.nextSeq, s.seen, s.swept, s.open = 1, map[string]time.Time{}, rc.now(), true
	rc.attach(s)
	return s
}

// TestSession_ConcurrentRetriesWaitForOneWrite: the same Outbound Message
// sent 8 times at once (a sender retrying a slow request) is queued once;
// every copy is answered when that one write is acked, and a session that
// ends fails them all.
func TestSession_ConcurrentRetriesWaitForOneWrite(t *testing.T) {
	for _, ack := range []bool{true, false} {
		rc := New(testConfig("t"), Deps{Connector: "c", Mode: connectorlib.DeliveryExactlyOnce})
		s := openedSession(rc)
		items, err := rc.parseOutbound(outboundBody(sfsim.DefaultOrgID, "04l8a00000000R1", "04l8a00000000R2"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		replies := make(chan reply, 8)
		for range 8 {
			go func() { replies <- rc.write(t.Context(), items) }()
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			s.mu.Lock()
			n := len(s.inflight)
			s.mu.Unlock()
			if n == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the message was never queued")
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // let the other copies find it in flight
		recs, err := s.Read(t.Context())
		if err != nil || len(recs) != 4 {
			t.Fatalf("read %d records (%v); want the two notifications and their dedup records, once", len(recs), err)
		}
		if ack {
			if err := s.Ack(t.Context(), stream, recs[len(recs)-1].Position); err != nil {
				t.Fatal(err)
			}
		} else {
			_ = s.Close(t.Context())
		}
		for range 8 {
			rp := <-replies
			if ack && rp.status != 200 || !ack && rp.status != 503 {
				t.Fatalf("ack=%v: reply %+v", ack, rp)
			}
		}
		s.mu.Lock()
		queued := len(s.queue)
		s.mu.Unlock()
		if queued != 0 {
			t.Fatalf("%d requests queued after the copies; want none", queued)
		}
		_ = s.Close(t.Context())
	}
}

// TestSession_MaxPending: beyond HTTP_MAX_PENDING records waiting for
// Kafka a request gets 503 and is not queued; one within it is.
func TestSession_MaxPending(t *testing.T) {
	cfg := testConfig("t")
	cfg.MaxPending = 5
	rc := New(cfg, Deps{Connector: "c", Mode: connectorlib.DeliveryExactlyOnce})
	s := openedSession(rc)
	defer s.Close(t.Context())
	items := func(ids ...string) []item {
		it, err := rc.parseOutbound(outboundBody(sfsim.DefaultOrgID, ids...), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	if _, _, _, err := s.submit(items("04l8a00000000P1", "04l8a00000000P2")); err != nil { // 4 records
		t.Fatal(err)
	}
	if _, _, _, err := s.submit(items("04l8a00000000P3")); err != errBusy { // 4+2 > 5
		t.Fatalf("submit beyond MaxPending: %v, want errBusy", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) != 1 || s.queued != 4 || len(s.inflight) != 2 {
		t.Fatalf("queue %d, queued %d, in flight %d; the refused request must leave no trace", len(s.queue), s.queued, len(s.inflight))
	}
}
