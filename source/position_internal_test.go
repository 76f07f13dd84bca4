package source

import (
	"bytes"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// TestStampPositions gives each record of the channel the latest commit at
// or before it, and leaves other streams' positions alone.
func TestStampPositions(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	recs := []connectorlib.Record{
		{Stream: "/data/X", Position: connectorlib.Position{1}, Time: t0},
		{Stream: "/data/X", Position: connectorlib.Position{1}, Time: t0},
		{Stream: "/data/X", Position: connectorlib.Position{2}}, // a keepalive marker
		{Stream: "snapshot:X", Position: snapshotDone},
		{Stream: "/data/X", Position: connectorlib.Position{3}, Time: t0.Add(-time.Hour)}, // commits are not ordered across transactions
		{Stream: "/data/X", Position: connectorlib.Position{4}, Time: t0.Add(time.Second)},
	}
	last := stampPositions(recs, "/data/X", t0.Add(-time.Minute))
	want := []struct {
		id     byte
		commit time.Time
	}{{1, t0}, {1, t0}, {2, t0}, {0, time.Time{}}, {3, t0}, {4, t0.Add(time.Second)}}
	for i, w := range want {
		if recs[i].Stream != "/data/X" {
			if !bytes.Equal(recs[i].Position, snapshotDone) {
				t.Errorf("record %d: another stream's position became %q", i, recs[i].Position)
			}
			continue
		}
		id, commit := ParsePosition(recs[i].Position)
		if !bytes.Equal(id, []byte{w.id}) || !commit.Equal(w.commit.Truncate(time.Millisecond)) {
			t.Errorf("record %d: replay id %x commit %v; want %x %v", i, id, commit, w.id, w.commit)
		}
	}
	if !last.Equal(t0.Add(time.Second)) {
		t.Errorf("last commit %v", last)
	}
}
