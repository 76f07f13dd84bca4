package bus

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// DefaultRetention is how long events stay replayable: 72 hours.
const DefaultRetention = 72 * time.Hour

// ErrInvalidReplayID reports a replay id the bus cannot resume after: older
// than the retention window, or newer than anything published.
var ErrInvalidReplayID = errors.New("replay id is invalid or outside the retention window")

// ErrUnknownChannel reports a channel that does not exist.
var ErrUnknownChannel = errors.New("unknown channel")

// Config configures a Bus.
type Config struct {
	Now       func() time.Time
	Retention time.Duration
	// OverflowLimit is the number of changes of one transaction after which
	// the rest become GAP_OVERFLOW events (Salesforce: 100,000).
	OverflowLimit int
}

// Bus is the event log. Safe for concurrent use.
type Bus struct {
	cfg Config

	mu         sync.Mutex
	events     []*Event // ordered by ReplayID
	next       int64    // next replay id
	purgedUpTo int64    // highest replay id removed by retention
	changed    chan struct{}
	custom     map[string][]string // custom channel -> member objects
	platform   map[string]bool     // /event/X__e channels
	pushTopics map[string]bool     // /topic/X channels
	objects    func() []string     // objects selected for change data capture
}

// New returns an empty bus. objects lists the objects whose change events
// exist (all objects of the org, in the simulator).
func New(cfg Config, objects func() []string) *Bus {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.OverflowLimit <= 0 {
		cfg.OverflowLimit = 100_000
	}
	return &Bus{cfg: cfg, next: 1, changed: make(chan struct{}), custom: map[string][]string{},
		platform: map[string]bool{}, pushTopics: map[string]bool{}, objects: objects}
}

// SetRetention changes the retention window.
func (b *Bus) SetRetention(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg.Retention = d
}

// AddCustomChannel defines /data/<Name>__chn carrying the change events of
// the given objects.
func (b *Bus) AddCustomChannel(channel string, objects ...string) error {
	if !strings.HasPrefix(channel, "/data/") || !strings.HasSuffix(channel, "__chn") {
		return fmt.Errorf("custom channel %q must look like /data/Name__chn", channel)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.custom[channel] = append(b.custom[channel], objects...)
	return nil
}

// AddPlatformEvent defines the platform event channel /event/<Name>__e.
func (b *Bus) AddPlatformEvent(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.platform["/event/"+name] = true
}

// AddPushTopic defines /topic/<Name>.
func (b *Bus) AddPushTopic(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pushTopics["/topic/"+name] = true
}

// Exists reports whether channel names a channel of the org.
//
// The org's object list is read before taking the bus lock: the org calls
// into the bus (OnCommit) while holding its own lock, so the bus must never
// call into the org while holding its lock.
func (b *Bus) Exists(channel string) bool {
	objects := b.objects()
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case channel == AllChangeEvents:
		return true
	case b.platform[channel], b.pushTopics[channel]:
		return true
	case len(b.custom[channel]) > 0:
		return true
	}
	for _, o := range objects {
		if ChangeChannel(o) == channel {
			return true
		}
	}
	return false
}

// matches reports whether ev is delivered on channel.
func (b *Bus) matches(ev *Event, channel string) bool {
	if ev.Channel == channel {
		return true
	}
	if ev.Kind != KindChange {
		return false
	}
	if channel == AllChangeEvents {
		return true
	}
	for _, o := range b.custom[channel] {
		if o == ev.Header.EntityName {
			return true
		}
	}
	return false
}

// publish appends events, assigning replay ids. The caller holds mu.
func (b *Bus) publish(evs ...*Event) {
	now := b.cfg.Now()
	for _, ev := range evs {
		ev.ReplayID = b.next
		ev.Published = now
		b.next++
		b.events = append(b.events, ev)
	}
	b.purge()
	close(b.changed)
	b.changed = make(chan struct{})
}

// purge drops events older than the retention window. The caller holds mu.
func (b *Bus) purge() {
	cut := b.cfg.Now().Add(-b.cfg.Retention)
	n := sort.Search(len(b.events), func(i int) bool { return b.events[i].Published.After(cut) })
	if n > 0 {
		b.purgedUpTo = b.events[n-1].ReplayID
		clear(b.events[:n])
		b.events = b.events[n:]
	}
}

// Publish appends events (platform events, PushTopic events, injected
// events) and returns their replay ids.
func (b *Bus) Publish(evs ...*Event) []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publish(evs...)
	ids := make([]int64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ReplayID
	}
	return ids
}

// Latest returns the replay id of the newest event (0 when none).
func (b *Bus) Latest() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next - 1
}

// Earliest returns the replay id a subscription from EARLIEST resumes
// after: just before the oldest retained event.
func (b *Bus) Earliest() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.purge()
	return b.purgedUpTo
}

// CheckReplayID reports ErrInvalidReplayID when a subscription cannot
// resume after replayID: events after it were purged, or it is in the
// future.
func (b *Bus) CheckReplayID(replayID int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.purge()
	if replayID < b.purgedUpTo || replayID > b.next-1 {
		return fmt.Errorf("%w: %d (retained after %d up to %d)", ErrInvalidReplayID, replayID, b.purgedUpTo, b.next-1)
	}
	return nil
}

// Read returns up to max events of channel with replay ids after after, and
// the newest replay id of the whole bus. It fails with ErrInvalidReplayID
// when events after after were purged.
func (b *Bus) Read(channel string, after int64, max int) ([]*Event, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.purge()
	if after < b.purgedUpTo {
		return nil, b.next - 1, fmt.Errorf("%w: %d", ErrInvalidReplayID, after)
	}
	i := sort.Search(len(b.events), func(i int) bool { return b.events[i].ReplayID > after })
	var out []*Event
	for ; i < len(b.events) && len(out) < max; i++ {
		if b.matches(b.events[i], channel) {
			out = append(out, b.events[i])
		}
	}
	return out, b.next - 1, nil
}

// Wait blocks until an event with a replay id after after is published, or
// ctx is done.
func (b *Bus) Wait(ctx context.Context, after int64) error {
	for {
		b.mu.Lock()
		latest, ch := b.next-1, b.changed
		b.mu.Unlock()
		if latest > after {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// OnCommit turns a committed transaction into change events, in sequence
// order; changes past OverflowLimit become one GAP_OVERFLOW event per
// entity. Register it with org.OnCommit.
func (b *Bus) OnCommit(c *org.Commit) {
	var evs []*Event
	overflowed := map[string]bool{}
	for i, ch := range c.Changes {
		h := Header{
			EntityName: ch.Object, RecordIDs: ch.RecordIDs, ChangeType: ch.Type, ChangeOrigin: c.Origin,
			TransactionKey: c.TransactionKey, SequenceNumber: i + 1, CommitTimestamp: c.CommitTimestamp,
			CommitNumber: c.CommitNumber, CommitUser: c.CommitUser,
			ChangedFields: ch.Changed, NulledFields: ch.Nulled,
		}
		ev := &Event{Kind: KindChange, Channel: ChangeChannel(ch.Object), Header: h, Describe: ch.Describe, Fields: ch.Fields}
		if i >= b.cfg.OverflowLimit {
			if overflowed[ch.Object] {
				continue
			}
			overflowed[ch.Object] = true
			ev.Header.ChangeType, ev.Header.RecordIDs = GapOverflow, []string{OverflowRecordID}
			ev.Header.ChangedFields, ev.Header.NulledFields, ev.Fields = nil, nil, nil
		}
		evs = append(evs, ev)
	}
	b.Publish(evs...)
}

// InjectGap publishes a gap event for the given records: a header-only
// event telling subscribers to re-read those records.
func (b *Bus) InjectGap(object *org.Change, changeType string) int64 {
	ev := &Event{Kind: KindChange, Channel: ChangeChannel(object.Object), Describe: object.Describe, Header: Header{
		EntityName: object.Object, RecordIDs: object.RecordIDs, ChangeType: changeType,
		TransactionKey: "", SequenceNumber: 1, CommitTimestamp: b.cfg.Now().UnixMilli(),
	}}
	return b.Publish(ev)[0]
}
