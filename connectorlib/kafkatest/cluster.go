package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables read by this package.
const (
	// EnvBrokers lists the real broker's addresses, comma separated.
	EnvBrokers = "TEST_KAFKA_BROKERS"
	// EnvRequired, when "1", makes a missing real broker a test failure.
	EnvRequired = "TEST_KAFKA_REQUIRED"
)

// Kind names a cluster implementation.
type Kind string

// Cluster kinds.
const (
	KindFake Kind = "kfake"
	KindReal Kind = "kafka"
)

// Cluster is a Kafka cluster a test talks to.
type Cluster struct {
	Kind  Kind
	seeds []string
	// Fake is the in-process cluster, nil for a real broker. Tests may use
	// it for fault injection (ControlKey) or on-demand compaction.
	Fake *kfake.Cluster
}

// NewFake starts a one-broker in-process kfake cluster on 127.0.0.1 and
// closes it when t ends.
func NewFake(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &Cluster{Kind: KindFake, seeds: c.ListenAddrs(), Fake: c}
}

// Real returns the real broker announced by EnvBrokers, or nil when there
// is none (failing t when EnvRequired is set).
func Real(t testing.TB) *Cluster {
	t.Helper()
	v := os.Getenv(EnvBrokers)
	if v == "" {
		if os.Getenv(EnvRequired) == "1" {
			t.Fatalf("%s is not set but %s=1: the real Kafka broker did not start", EnvBrokers, EnvRequired)
		}
		return nil
	}
	return &Cluster{Kind: KindReal, seeds: strings.Split(v, ",")}
}

// Each runs fn as a subtest against a fresh kfake cluster and, when
// available, against the real broker.
func Each(t *testing.T, fn func(t *testing.T, c *Cluster)) {
	t.Helper()
	t.Run(string(KindFake), func(t *testing.T) { fn(t, NewFake(t)) })
	if real := Real(t); real != nil {
		t.Run(string(KindReal), func(t *testing.T) { fn(t, real) })
	}
}

// Seeds returns the cluster's bootstrap addresses.
func (c *Cluster) Seeds() []string { return append([]string(nil), c.seeds...) }

// Opts returns the client options to reach the cluster.
func (c *Cluster) Opts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(c.seeds...)} }

// Client returns a client of the cluster with extra opts, closed when t
// ends.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(c.Opts(), opts...)...)
	if err != nil {
		t.Fatalf("create kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client of the cluster.
func (c *Cluster) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}

// CreateTopic creates a topic with the given partitions and configs.
func (c *Cluster) CreateTopic(t testing.TB, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Admin(t).CreateTopic(ctx, partitions, -1, configs, name)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Topic returns a topic name unique to this test run, readable from the
// test name and base.
func Topic(t testing.TB, base string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 120 {
		name = name[:120]
	}
	return base + "." + name + "." + hex.EncodeToString(b[:])
}
