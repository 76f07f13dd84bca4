package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadCommitted reads every partition of topic from its start offset up to
// its last stable offset as of the call, read_committed, calling fn for each
// committed data record in offset order per partition. It stops with an
// error when no record arrives for idle while the end is not reached, so a
// caller never mistakes a stalled read for an empty topic.
//
// opts are the connection options (seeds, TLS, SASL); admin serves the
// offset lookups.
func ReadCommitted(ctx context.Context, admin *kadm.Client, opts []kgo.Opt, topic string, idle time.Duration, fn func(*kgo.Record) error) error {
	starts, err := admin.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	ends, err := admin.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list stable offsets of %s: %w", topic, err)
	}
	// want holds, per partition, the last offset that must be seen.
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > start.Offset {
			want[o.Partition] = o.Offset - 1
			from[o.Partition] = kgo.NewOffset().At(start.Offset)
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) are kept so that reaching
		// the last stable offset is observable even when it is a marker.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("open reader of %s: %w", topic, err)
	}
	defer cl.Close()
	for len(want) > 0 {
		pctx, cancel := context.WithTimeout(ctx, idle)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, err)
			}
		})
		if ferr != nil {
			return fmt.Errorf("read %s: %w", topic, ferr)
		}
		if fs.NumRecords() == 0 {
			return fmt.Errorf("read %s: no progress for %s before reaching the last stable offset", topic, idle)
		}
		var cbErr error
		fs.EachRecord(func(r *kgo.Record) {
			if last, ok := want[r.Partition]; ok && r.Offset >= last {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() || cbErr != nil {
				return
			}
			cbErr = fn(r)
		})
		if cbErr != nil {
			return cbErr
		}
	}
	return nil
}
