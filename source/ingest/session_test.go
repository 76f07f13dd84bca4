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
