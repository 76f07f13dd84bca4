package connectorlib

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
)

const (
	killTotal = 100_000 // numbered events the source emits
	killCount = 20      // SIGKILLs per run
)

func TestSourceRunner_Run_ExactlyOnceSurvivesKills(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		res := runSourceKills(t, c, DeliveryExactlyOnce)
		if res.duplicates != 0 || res.missing != 0 || res.outOfOrder != 0 {
			t.Fatalf("exactly_once: %d duplicates, %d missing, %d out of order per key", res.duplicates, res.missing, res.outOfOrder)
		}
	})
}

func TestSourceRunner_Run_AtLeastOnceSurvivesKills(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		res := runSourceKills(t, c, DeliveryAtLeastOnce)
		if res.missing != 0 {
			t.Fatalf("at_least_once lost %d events", res.missing)
		}
		t.Logf("at_least_once: %d duplicates over %d kills (allowed)", res.duplicates, killCount)
	})
}

type killResult struct {
	duplicates, missing, outOfOrder int
}

// runSourceKills runs the source runner in a child process, SIGKILLs it at
// killCount random points, restarts it each time, lets the last run finish
// and stop on SIGTERM, then reads the topic read_committed.
func runSourceKills(t *testing.T, c *kafkatest.Cluster, mode DeliveryMode) killResult {
	topic := kafkatest.Topic(t, "numbers")
	offsets := kafkatest.Topic(t, "offsets")
	name := kafkatest.Topic(t, "conn")
	c.CreateTopic(t, topic, 4, nil)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill points seed %d", seed)
	targets := make([]int64, killCount)
	for i := range targets {
		targets[i] = rng.Int64N(killTotal)
	}
	slices.Sort(targets)

	env := []string{
		"KT_BROKERS=" + joinSeeds(c), "KT_TOPIC=" + topic, "KT_OFFSETS=" + offsets,
		"KT_NAME=" + name, "KT_MODE=" + string(mode), "KT_TOTAL=" + strconv.Itoa(killTotal),
	}
	adm := c.Admin(t)
	var progress []int64 // acked events at each kill
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for k, target := range targets {
		ch := startChild(t, "source", env...)
		for ch.progress.Load() < target {
			if ch.exited() {
				t.Fatalf("child %d exited early: %v\n%s", k, ch.err, ch.stderr.String())
			}
			if ctx.Err() != nil {
				t.Fatalf("no progress to %d (at %d)", target, ch.progress.Load())
			}
			time.Sleep(200 * time.Microsecond)
		}
		progress = append(progress, ch.progress.Load())
		// A random delay past the acked point lands the kill anywhere in
		// the read / produce / commit cycle.
		time.Sleep(time.Duration(rng.Int64N(int64(20 * time.Millisecond))))
		ch.kill(t)
	}
	t.Logf("acked events at the %d kills: %v", len(progress), progress)

	// The last run completes; the positions tell when.
	ch := startChild(t, "source", env...)
	reader := c.Client(t)
	store := offsetstore.NewKafka(reader, c.Opts(), offsets, name)
	for {
		if ch.exited() {
			t.Fatalf("final child exited early: %v\n%s", ch.err, ch.stderr.String())
		}
		ps, err := store.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(ps[streamName(0)]) == strconv.Itoa(killTotal/2-1) && string(ps[streamName(1)]) == strconv.Itoa(killTotal/2-1) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("source did not finish; positions %q", ps)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := ch.terminate(t, 30*time.Second); code != childOK {
		t.Fatalf("child exited %d after SIGTERM:\n%s", code, ch.stderr.String())
	}

	seen := make([]int, killTotal)
	lastPerKey := map[string]int{}
	var res killResult
	err := kafkaio.ReadCommitted(ctx, adm, c.Opts(), topic, 30*time.Second, func(r *kgo.Record) error {
		e, err := strconv.Atoi(string(r.Value))
		if err != nil || e < 0 || e >= killTotal {
			return fmt.Errorf("unexpected value %q", r.Value)
		}
		seen[e]++
		if last, ok := lastPerKey[string(r.Key)]; ok && e <= last {
			res.outOfOrder++
		}
		lastPerKey[string(r.Key)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range seen {
		switch {
		case n == 0:
			res.missing++
		case n > 1:
			res.duplicates += n - 1
		}
	}
	t.Logf("%s on %s: %d events, %d kills, %d duplicates, %d missing, %d out of order",
		mode, c.Kind, killTotal, killCount, res.duplicates, res.missing, res.outOfOrder)
	return res
}
