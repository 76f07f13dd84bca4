package source_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

// positions returns the offset store of f's source and its stored
// positions.
func positions(t *testing.T, f *faultEnv) (*offsetstore.Kafka, map[string][]byte) {
	t.Helper()
	store := offsetstore.NewKafka(f.c.Client(t), f.c.Opts(), "sfconnect.offsets."+f.name+".0", f.name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return store, ps
}

// lastModified is the LastModifiedDate of the Account named name.
func lastModified(t *testing.T, sim *sfsim.Sim, name string) time.Time {
	t.Helper()
	rec, err := sim.Get("Account", accountID(t, sim, name))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse("2006-01-02T15:04:05.000-0700", rec["LastModifiedDate"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestSource_Position_RestoresOldFormat stores a position as sources
// before this version wrote them (the bare replay id) and restarts: the
// source resumes after it, delivering nothing twice and nothing lost.
func TestSource_Position_RestoresOldFormat(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t)
	cfg := baseConfig(f.env, accountChannel)
	r := f.start(t, cfg)
	before := createAccounts(t, f.sim, "before", 3)
	accountEnvelopes(t, f.c, len(before))
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	store, ps := positions(t, f)
	replayID, commit := source.ParsePosition(ps[accountChannel])
	if want := lastModified(t, f.sim, "before-3"); !commit.Equal(want) || len(replayID) != 8 {
		t.Fatalf("stored position %x: replay id %x, commit %v; want an 8-byte replay id and commit %v", ps[accountChannel], replayID, commit, want)
	}
	if err := store.Put(context.Background(), map[string][]byte{accountChannel: replayID}); err != nil {
		t.Fatal(err)
	}
	if _, ps := positions(t, f); !bytes.Equal(ps[accountChannel], replayID) {
		t.Fatalf("old-format position not stored: %x", ps[accountChannel])
	}
	r = f.start(t, cfg)
	after := createAccounts(t, f.sim, "after", 3)
	expectOnce(t, accountEnvelopes(t, f.c, count(before, after)), before, after)
	alive(t, r)
}

// TestSource_Resync_AfterRestartStartsAtStoredCommit restarts the source at
// a replay id out of retention under the resync policy: the stored position
// carries the last commit, so the resync re-reads only records modified
// since that commit minus SOURCE_RESYNC_BUFFER, not the whole object.
func TestSource_Resync_AfterRestartStartsAtStoredCommit(t *testing.T) {
	t.Parallel()
	const retention = time.Hour
	f := newFaultEnv(t, sfsim.Retention(retention))
	cfg := baseConfig(f.env, accountChannel) // SOURCE_RESYNC_BUFFER 1m
	old := createAccounts(t, f.sim, "old", 2)
	f.sim.AdvanceClock(30 * time.Minute) // old is well outside the buffer
	r := f.start(t, cfg)
	before := createAccounts(t, f.sim, "before", 3)
	accountEnvelopes(t, f.c, count(old, before))
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	lost := createAccounts(t, f.sim, "lost", 2)
	f.sim.AdvanceClock(retention + time.Minute)
	kept := createAccounts(t, f.sim, "kept", 2)
	cfg.OnInvalidReplay = source.ReplayResync
	r = f.start(t, cfg)
	f.waitMetric(t, "sfconnect_source_invalid_replay_total", accountChannel, 1)
	envs := accountEnvelopes(t, f.c, count(old, before)+count(before, lost, kept))
	resynced := map[string]bool{}
	for _, e := range envs {
		if e.Kind == source.KindResync {
			resynced[e.Fields["Name"].(string)] = true
		}
	}
	for _, n := range append(append(append([]string{}, before...), lost...), kept...) {
		if !resynced[n] {
			t.Errorf("%s, modified at or after the stored commit, was not resynced", n)
		}
	}
	for _, n := range old {
		if resynced[n] {
			t.Errorf("%s, modified 30 minutes before the stored commit, was resynced: the resync ignored the stored commit", n)
		}
	}
	if len(resynced) != count(before, lost, kept) {
		t.Errorf("resynced %v; want exactly before, lost and kept", resynced)
	}
	alive(t, r)
}

// TestParsePosition_BothFormats reads a bare replay id (the old format)
// and a position with a commit timestamp.
func TestParsePosition_BothFormats(t *testing.T) {
	old := connectorlib.Position{0, 0, 0, 0, 0, 0, 0x12, 0x34}
	if id, commit := source.ParsePosition(old); !bytes.Equal(id, old) || !commit.IsZero() {
		t.Errorf("old format: replay id %x, commit %v", id, commit)
	}
	if id, commit := source.ParsePosition(nil); id != nil || !commit.IsZero() {
		t.Errorf("no position: replay id %x, commit %v", id, commit)
	}
}
