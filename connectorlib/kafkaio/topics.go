package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic config keys and values used here.
const (
	cfgCleanupPolicy = "cleanup.policy"
	cfgRetentionMs   = "retention.ms"
	policyCompact    = "compact"
	policyDelete     = "delete"
)

const (
	// compactedSegmentAge rolls a segment of a compacted topic every 6 h.
	// The cleaner only compacts closed segments, and a low-volume offsets
	// topic would otherwise keep one open segment for the 7-day default,
	// making every restart read a week of superseded positions.
	compactedSegmentAge = 6 * time.Hour
	// compactedSegmentBytes caps a segment at 64 MiB for the same reason on
	// a busy topic (the 1 GiB default is far more than an offsets topic
	// ever needs to read on start-up).
	compactedSegmentBytes = 64 << 20
	// compactedMinLag keeps the last hour of positions uncompacted, so that
	// an operator investigating an incident can still see how the stored
	// positions moved; it costs at most one hour of extra records to read
	// on restart.
	compactedMinLag = time.Hour

	// dlqRetention keeps dead-lettered records for 14 days: long enough to
	// survive a holiday or a slow incident review before someone inspects
	// and replays them, while still bounding storage.
	dlqRetention = 14 * 24 * time.Hour
)

// describeRetries and describeBackoff bound how long EnsureTopics waits for
// a topic that a concurrent creator has just made to become visible to
// DescribeConfigs (metadata propagates to all brokers asynchronously).
const (
	describeRetries = 10
	describeBackoff = 200 * time.Millisecond
)

// TopicSpec describes a topic for EnsureTopics.
type TopicSpec struct {
	// Name is the topic name.
	Name string
	// Partitions is the partition count, or -1 for the broker default.
	Partitions int32
	// ReplicationFactor is the replication factor, or -1 for the broker
	// default (default.replication.factor).
	ReplicationFactor int16
	// Configs are topic configs applied at creation (nil values are
	// skipped by the broker). A cleanup.policy containing "compact" also
	// makes EnsureTopics verify that an existing topic is compacted.
	Configs map[string]*string
}

// CompactedTopic returns the spec of an offsets-style topic: one partition
// (a single ordered log of positions), broker-default replication,
// cleanup.policy=compact so that the latest position of every key is kept
// forever, segments rolled every 6 h or 64 MiB so that compaction keeps the
// topic small, and min.compaction.lag.ms of 1 h so that recent history stays
// inspectable.
//
// A broker that rejects one of these settings (some managed services accept
// only a subset of topic configs) fails creation with INVALID_CONFIG; create
// the topic out of band with cleanup.policy=compact and EnsureTopics accepts
// it.
func CompactedTopic(name string) TopicSpec {
	return TopicSpec{
		Name:              name,
		Partitions:        1,
		ReplicationFactor: -1,
		Configs: map[string]*string{
			cfgCleanupPolicy:        kadm.StringPtr(policyCompact),
			"segment.ms":            kadm.StringPtr(strconv.FormatInt(compactedSegmentAge.Milliseconds(), 10)),
			"segment.bytes":         kadm.StringPtr(strconv.Itoa(compactedSegmentBytes)),
			"min.compaction.lag.ms": kadm.StringPtr(strconv.FormatInt(compactedMinLag.Milliseconds(), 10)),
		},
	}
}

// DLQTopic returns the spec of a dead-letter topic with the given partition
// count (-1 for the broker default) and broker-default replication.
// Dead-lettered records need a human, so they are kept for 14 days
// (cleanup.policy=delete, retention.ms=1209600000) rather than the 7-day
// broker default. Azure Event Hubs Standard caps retention at 7 days and
// rejects this spec; pre-create the topic there.
func DLQTopic(name string, partitions int32) TopicSpec {
	return TopicSpec{
		Name:              name,
		Partitions:        partitions,
		ReplicationFactor: -1,
		Configs: map[string]*string{
			cfgCleanupPolicy: kadm.StringPtr(policyDelete),
			cfgRetentionMs:   kadm.StringPtr(strconv.FormatInt(dlqRetention.Milliseconds(), 10)),
		},
	}
}

// EnsureTopics creates the topics in specs that do not exist yet. A topic
// that already exists, or that a concurrent caller creates first
// (TOPIC_ALREADY_EXISTS), counts as success and its partitions, replication
// and configs are left alone, with one exception: if its spec asks for
// compaction, the existing topic must be compacted too, or EnsureTopics
// returns an error wrapping ErrTopicNotCompacted. An offsets topic with a
// delete policy would silently lose positions once retention runs.
//
// Existing topics are found with a metadata request first, so a principal
// allowed to describe but not to create topics can run against
// pre-provisioned topics. All problems are returned joined.
func EnsureTopics(ctx context.Context, adm *kadm.Client, specs ...TopicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	names := make([]string, 0, len(specs))
	var errs []error
	for i, s := range specs {
		if err := s.validate(); err != nil {
			errs = append(errs, err)
		}
		if slices.Contains(names, s.Name) {
			errs = append(errs, fmt.Errorf("ensure topics: spec %d repeats topic %q", i+1, s.Name))
		}
		names = append(names, s.Name)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}

	var verify []TopicSpec
	for _, s := range specs {
		d, listed := details[s.Name]
		switch {
		case listed && d.Err == nil:
			verify = append(verify, s)
		case !listed || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, s.Configs, s.Name)
			switch {
			case err == nil:
			case errors.Is(err, kerr.TopicAlreadyExists):
				verify = append(verify, s) // a concurrent creator won the race
			case resp.ErrMessage != "":
				errs = append(errs, fmt.Errorf("create topic %q: %w: %s", s.Name, err, resp.ErrMessage))
			default:
				errs = append(errs, fmt.Errorf("create topic %q: %w", s.Name, err))
			}
		default:
			errs = append(errs, fmt.Errorf("describe topic %q: %w", s.Name, d.Err))
		}
	}

	if err := verifyCompaction(ctx, adm, verify); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s TopicSpec) validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("topic name is empty"))
	}
	if s.Partitions == 0 || s.Partitions < -1 {
		errs = append(errs, fmt.Errorf("partitions must be positive or -1, got %d", s.Partitions))
	}
	if s.ReplicationFactor == 0 || s.ReplicationFactor < -1 {
		errs = append(errs, fmt.Errorf("replication factor must be positive or -1, got %d", s.ReplicationFactor))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check topic spec %q: %w", s.Name, err)
	}
	return nil
}

// policies splits a cleanup.policy value ("compact,delete") into its parts.
func policies(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(strings.ToLower(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// wantCompaction reports whether s asks for compaction, and whether it also
// accepts deletion by retention.
func (s TopicSpec) wantCompaction() (compact, allowDelete bool) {
	v := s.Configs[cfgCleanupPolicy]
	if v == nil {
		return false, true
	}
	ps := policies(*v)
	return slices.Contains(ps, policyCompact), slices.Contains(ps, policyDelete)
}

// verifyCompaction checks that every existing topic in specs that must be
// compacted is.
func verifyCompaction(ctx context.Context, adm *kadm.Client, specs []TopicSpec) error {
	pending := map[string]TopicSpec{}
	for _, s := range specs {
		if compact, _ := s.wantCompaction(); compact {
			pending[s.Name] = s
		}
	}
	var errs []error
	for attempt := 1; len(pending) > 0; attempt++ {
		names := make([]string, 0, len(pending))
		for n := range pending {
			names = append(names, n)
		}
		slices.Sort(names)
		rcs, err := adm.DescribeTopicConfigs(ctx, names...)
		if err != nil && len(rcs) == 0 {
			return fmt.Errorf("describe topic configs: %w", err)
		}
		for _, n := range names {
			rc, onErr := rcs.On(n, nil)
			switch {
			case onErr != nil && err != nil:
				onErr = err // the shard holding n failed
			case onErr == nil:
				onErr = rc.Err
			}
			switch {
			case errors.Is(onErr, kerr.UnknownTopicOrPartition) && attempt < describeRetries:
				continue // just created by someone else; not visible yet
			case onErr != nil:
				errs = append(errs, fmt.Errorf("describe configs of topic %q: %w", n, onErr))
			default:
				if err := checkCompaction(pending[n], rc); err != nil {
					errs = append(errs, err)
				}
			}
			delete(pending, n)
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("describe topic configs: %w", ctx.Err()))...)
		case <-time.After(describeBackoff):
		}
	}
	return errors.Join(errs...)
}

// checkCompaction compares the described configs of an existing topic with
// what spec requires.
func checkCompaction(spec TopicSpec, rc kadm.ResourceConfig) error {
	// Kafka always reports cleanup.policy; if a broker leaves it out, the
	// Kafka default ("delete") is the safe assumption.
	policy, retention := policyDelete, ""
	for _, c := range rc.Configs {
		switch c.Key {
		case cfgCleanupPolicy:
			policy = c.MaybeValue()
		case cfgRetentionMs:
			retention = c.MaybeValue()
		}
	}
	have := policies(policy)
	_, allowDelete := spec.wantCompaction()
	switch {
	case !slices.Contains(have, policyCompact):
		return fmt.Errorf("ensure topic %q: cleanup.policy is %q, want %q (a position store on a topic that is not compacted loses positions once retention deletes old segments): %w",
			spec.Name, policy, policyCompact, ErrTopicNotCompacted)
	case !allowDelete && slices.Contains(have, policyDelete) && retention != "-1":
		return fmt.Errorf("ensure topic %q: cleanup.policy is %q with retention.ms=%s, want %q (retention deletes the position of any key not rewritten within retention.ms): %w",
			spec.Name, policy, retention, policyCompact, ErrTopicNotCompacted)
	}
	return nil
}
