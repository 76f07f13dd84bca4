package kafkaio_test

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

// topicConfig returns a described config value of topic.
func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctxTimeout(t, 5*time.Second), topic)
	if err != nil {
		t.Fatalf("describe %s: %v", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatalf("describe %s: %v", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c.MaybeValue()
		}
	}
	t.Fatalf("topic %s: config %s not reported", topic, key)
	return ""
}

func createTopic(t *testing.T, adm *kadm.Client, name string, configs map[string]*string) {
	t.Helper()
	if _, err := adm.CreateTopic(ctxTimeout(t, 5*time.Second), 1, 1, configs, name); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func TestEnsureTopics(t *testing.T) {
	t.Parallel()
	compactDelete := map[string]*string{"cleanup.policy": kadm.StringPtr("compact,delete")}

	tests := []struct {
		name     string
		existing map[string]map[string]*string // topics created before EnsureTopics
		specs    []kafkaio.TopicSpec
		// wantErr is a substring of the error; empty means success.
		wantErr          string
		wantNotCompacted bool
	}{
		{name: "creates compacted topic", specs: []kafkaio.TopicSpec{kafkaio.CompactedTopic("offsets")}},
		{name: "creates dlq topic", specs: []kafkaio.TopicSpec{kafkaio.DLQTopic("dlq", 3)}},
		{
			name:     "accepts existing compacted topic",
			existing: map[string]map[string]*string{"offsets": {"cleanup.policy": kadm.StringPtr("compact")}},
			specs:    []kafkaio.TopicSpec{kafkaio.CompactedTopic("offsets")},
		},
		{
			name:     "accepts existing compact,delete topic with infinite retention",
			existing: map[string]map[string]*string{"offsets": {"cleanup.policy": kadm.StringPtr("compact,delete"), "retention.ms": kadm.StringPtr("-1")}},
			specs:    []kafkaio.TopicSpec{kafkaio.CompactedTopic("offsets")},
		},
		{
			name:     "leaves an existing dlq topic alone",
			existing: map[string]map[string]*string{"dlq": {"retention.ms": kadm.StringPtr("1000")}},
			specs:    []kafkaio.TopicSpec{kafkaio.DLQTopic("dlq", 3)},
		},
		{
			name:             "rejects existing delete-policy offsets topic",
			existing:         map[string]map[string]*string{"offsets": nil},
			specs:            []kafkaio.TopicSpec{kafkaio.DLQTopic("dlq", 1), kafkaio.CompactedTopic("offsets")},
			wantErr:          `ensure topic "offsets": cleanup.policy is "delete", want "compact"`,
			wantNotCompacted: true,
		},
		{
			name:             "rejects existing compact,delete offsets topic with finite retention",
			existing:         map[string]map[string]*string{"offsets": compactDelete},
			specs:            []kafkaio.TopicSpec{kafkaio.CompactedTopic("offsets")},
			wantErr:          `ensure topic "offsets": cleanup.policy is "compact,delete" with retention.ms=604800000`,
			wantNotCompacted: true,
		},
		{
			name:     "accepts compact,delete when the spec asks for it",
			existing: map[string]map[string]*string{"changelog": compactDelete},
			specs:    []kafkaio.TopicSpec{{Name: "changelog", Partitions: 1, ReplicationFactor: -1, Configs: compactDelete}},
		},
		{
			name:    "rejects bad specs",
			specs:   []kafkaio.TopicSpec{{Name: "a", Partitions: 0, ReplicationFactor: -1}, {Name: "", Partitions: 1, ReplicationFactor: 0}},
			wantErr: "partitions must be positive or -1",
		},
		{
			name:    "rejects duplicate specs",
			specs:   []kafkaio.TopicSpec{kafkaio.CompactedTopic("x"), kafkaio.CompactedTopic("x")},
			wantErr: `spec 2 repeats topic "x"`,
		},
		{
			name:    "reports broker rejection",
			specs:   []kafkaio.TopicSpec{{Name: "too-replicated", Partitions: 1, ReplicationFactor: 3}},
			wantErr: `create topic "too-replicated": INVALID_REPLICATION_FACTOR`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			adm := newAdmin(t, newCluster(t))
			for name, configs := range tt.existing {
				createTopic(t, adm, name, configs)
			}
			for round := 1; round <= 2; round++ { // the second round checks idempotence
				err := kafkaio.EnsureTopics(ctxTimeout(t, 10*time.Second), adm, tt.specs...)
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("round %d: EnsureTopics() = %v", round, err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("round %d: EnsureTopics() = %v, want it to contain %q", round, err, tt.wantErr)
				}
				if got := errors.Is(err, kafkaio.ErrTopicNotCompacted); got != tt.wantNotCompacted {
					t.Errorf("errors.Is(err, ErrTopicNotCompacted) = %v, want %v", got, tt.wantNotCompacted)
				}
			}
			if tt.wantErr != "" {
				return
			}

			// The topics exist with the spec's settings unless they
			// existed before.
			details, err := adm.ListTopics(ctxTimeout(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.specs {
				d, ok := details[s.Name]
				if !ok {
					t.Fatalf("topic %s not created", s.Name)
				}
				if _, pre := tt.existing[s.Name]; pre {
					continue
				}
				if got := int32(len(d.Partitions)); got != s.Partitions {
					t.Errorf("topic %s has %d partitions, want %d", s.Name, got, s.Partitions)
				}
				for k, v := range s.Configs {
					if got := topicConfig(t, adm, s.Name, k); got != *v {
						t.Errorf("topic %s: %s = %q, want %q", s.Name, k, got, *v)
					}
				}
			}
		})
	}
}

func TestCompactedTopic(t *testing.T) {
	t.Parallel()
	s := kafkaio.CompactedTopic("offsets")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "cleanup.policy", got: *s.Configs["cleanup.policy"], want: "compact"},
		{name: "partitions", got: strconv.Itoa(int(s.Partitions)), want: "1"},
		{name: "replication factor", got: strconv.Itoa(int(s.ReplicationFactor)), want: "-1"},
		{name: "min.compaction.lag.ms", got: *s.Configs["min.compaction.lag.ms"], want: "3600000"},
		{name: "segment.ms", got: *s.Configs["segment.ms"], want: "21600000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
			}
		})
	}
	d := kafkaio.DLQTopic("dlq", 6)
	if *d.Configs["cleanup.policy"] != "delete" || *d.Configs["retention.ms"] != "1209600000" || d.Partitions != 6 {
		t.Errorf("DLQTopic = %+v", d)
	}
}

// TestEnsureTopics_concurrentCreators runs several EnsureTopics at once on
// the same new topic: exactly one creates it, the others see
// TOPIC_ALREADY_EXISTS, and all succeed.
func TestEnsureTopics_concurrentCreators(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const n = 8
	adms := make([]*kadm.Client, n)
	for i := range adms {
		adms[i] = newAdmin(t, c)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, adm := range adms {
		wg.Go(func() {
			errs[i] = kafkaio.EnsureTopics(ctxTimeout(t, 10*time.Second), adm, kafkaio.CompactedTopic("offsets"))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("creator %d: %v", i, err)
		}
	}
}

// TestEnsureTopics_lostRace makes the metadata lookup miss topics that
// exist, as when another process creates them between the lookup and the
// create: CreateTopics then answers TOPIC_ALREADY_EXISTS, and EnsureTopics
// must still verify compaction.
func TestEnsureTopics_lostRace(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	adm := newAdmin(t, c)
	createTopic(t, adm, "raced-ok", map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	createTopic(t, adm, "raced-bad", nil)

	host, portStr, err := net.SplitHostPort(c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	hidden := []string{"raced-ok", "raced-bad"}
	var (
		mu     sync.Mutex
		hidCnt int
	)
	c.ControlKey(int16(kmsg.Metadata), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.MetadataRequest)
		mentions := slices.ContainsFunc(req.Topics, func(rt kmsg.MetadataRequestTopic) bool {
			return rt.Topic != nil && slices.Contains(hidden, *rt.Topic)
		})
		if !mentions {
			return nil, nil, false
		}
		mu.Lock()
		hidCnt++
		mu.Unlock()
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = c.CurrentNode(), host, int32(port)
		resp.Brokers = []kmsg.MetadataResponseBroker{b}
		resp.ControllerID = b.NodeID
		for _, rt := range req.Topics {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic = rt.Topic
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, true
	})

	ctx := ctxTimeout(t, 10*time.Second)
	if err := kafkaio.EnsureTopics(ctx, adm, kafkaio.CompactedTopic("raced-ok")); err != nil {
		t.Errorf("EnsureTopics(raced-ok) = %v", err)
	}
	err = kafkaio.EnsureTopics(ctx, adm, kafkaio.CompactedTopic("raced-bad"))
	if !errors.Is(err, kafkaio.ErrTopicNotCompacted) {
		t.Errorf("EnsureTopics(raced-bad) = %v, want ErrTopicNotCompacted", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hidCnt == 0 {
		t.Fatal("metadata for the raced topics was never hidden; the test did not exercise the race")
	}
}
