package connectorlib

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

const (
	sinkKillRecords = 20_000
	sinkKillCount   = 5
	sinkPartitions  = 3
)

// isPoison decides which produced events the file sink rejects.
func isPoison(e int) bool { return e%997 == 500 }

type partOffset struct {
	p int32
	o int64
}

func TestSinkRunner_Run_SurvivesKills(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		topic := kafkatest.Topic(t, "in")
		dlq := kafkatest.Topic(t, "dlq")
		name := kafkatest.Topic(t, "sink")
		c.CreateTopic(t, topic, sinkPartitions, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		// Produce the input and remember where each event landed.
		produced := map[partOffset]string{}
		pr := c.Client(t)
		recs := make([]*kgo.Record, 0, sinkKillRecords)
		for e := range sinkKillRecords {
			v := strconv.Itoa(e)
			if isPoison(e) {
				v = "poison-" + v
			}
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%03d", e%50), Value: []byte(v)})
		}
		res := pr.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			produced[partOffset{r.Record.Partition, r.Record.Offset}] = string(r.Record.Value)
		}

		file := filepath.Join(t.TempDir(), "applied.txt")
		env := []string{"KT_BROKERS=" + joinSeeds(c), "KT_TOPIC=" + topic, "KT_NAME=" + name,
			"KT_DLQ=" + dlq, "KT_FILE=" + file}
		adm := c.Admin(t)
		group := "sfconnect-" + name
		seed := time.Now().UnixNano()
		rng := rand.New(rand.NewPCG(uint64(seed), 0))
		t.Logf("kill points seed %d", seed)
		targets := make([]int64, sinkKillCount)
		for i := range targets {
			targets[i] = 1 + rng.Int64N(sinkKillRecords/sinkKillCount)
		}
		for k, target := range targets {
			ch := startChild(t, "sink", env...)
			for ch.progress.Load() < target {
				if ch.exited() {
					t.Fatalf("sink child %d exited early: %v\n%s", k, ch.err, ch.stderr.String())
				}
				if ctx.Err() != nil {
					t.Fatalf("sink child %d made no progress to %d", k, target)
				}
				time.Sleep(200 * time.Microsecond)
			}
			time.Sleep(time.Duration(rng.Int64N(int64(10 * time.Millisecond))))
			ch.kill(t)
			// Invariant: offsets never move past an unapplied record.
			checkCommittedCovered(ctx, t, c, adm, group, topic, dlq, file)
		}

		ch := startChild(t, "sink", env...)
		for {
			if ch.exited() {
				t.Fatalf("final sink child exited early: %v\n%s", ch.err, ch.stderr.String())
			}
			if committedAll(ctx, t, adm, group, topic) {
				break
			}
			if ctx.Err() != nil {
				_ = ch.cmd.Process.Signal(syscall.SIGQUIT)
				<-ch.done
				t.Fatalf("sink did not finish (progress %d):\n%s", ch.progress.Load(), ch.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code := ch.terminate(t, 30*time.Second); code != childOK {
			t.Fatalf("sink child exited %d after SIGTERM:\n%s", code, ch.stderr.String())
		}
		covered := checkCommittedCovered(ctx, t, c, adm, group, topic, dlq, file)

		// Every good record applied, every poisoned one dead-lettered, and
		// nothing else.
		applied := map[partOffset]int{}
		lastPerPartition := map[int32]int64{}
		reordered := 0
		for _, l := range readApplied(t, file) {
			po := partOffset{l.partition, l.offset}
			if produced[po] != l.value {
				t.Fatalf("applied %v with value %q, produced %q", po, l.value, produced[po])
			}
			// A redelivery restarts at the committed offset, so order is
			// only checked between first applications.
			if applied[po] == 0 {
				if last, ok := lastPerPartition[l.partition]; ok && l.offset < last {
					reordered++
				}
				lastPerPartition[l.partition] = l.offset
			}
			applied[po]++
		}
		var missing, dups, poisoned int
		for po, v := range produced {
			switch {
			case len(v) > 6 && v[:6] == "poison":
				poisoned++
				if applied[po] != 0 {
					t.Errorf("poisoned %v was applied", po)
				}
				if !covered.dead[po] {
					t.Errorf("poisoned %v is not in the dead-letter topic", po)
				}
			case applied[po] == 0:
				missing++
			default:
				dups += applied[po] - 1
				if covered.dead[po] {
					t.Errorf("good record %v was dead-lettered", po)
				}
			}
		}
		if missing != 0 || reordered != 0 {
			t.Fatalf("%d records lost, %d applied out of partition order", missing, reordered)
		}
		t.Logf("sink on %s: %d records, %d kills, %d poisoned to DLQ, %d redelivered duplicates", c.Kind, sinkKillRecords, sinkKillCount, poisoned, dups)
	})
}

type coverage struct {
	dead map[partOffset]bool
}

// checkCommittedCovered asserts that every offset below the group's
// committed offset was applied or dead-lettered, and that dead letters carry
// the documented headers.
func checkCommittedCovered(ctx context.Context, t *testing.T, c *kafkatest.Cluster, adm *kadm.Client, group, topic, dlq, file string) coverage {
	t.Helper()
	applied := map[partOffset]bool{}
	for _, l := range readApplied(t, file) {
		applied[partOffset{l.partition, l.offset}] = true
	}
	cov := coverage{dead: map[partOffset]bool{}}
	err := kafkaio.ReadCommitted(ctx, adm, c.Opts(), dlq, 30*time.Second, func(r *kgo.Record) error {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		p, _ := strconv.ParseInt(h[HeaderDLQPartition], 10, 32)
		o, _ := strconv.ParseInt(h[HeaderDLQOffset], 10, 64)
		if h[HeaderDLQTopic] != topic || h[HeaderDLQConnector] == "" || h[HeaderDLQErrorClass] != string(ClassPermanent) ||
			h[HeaderDLQErrorCode] != "POISON" || h[HeaderDLQErrorMessage] != fmt.Sprintf("record %s is poisoned", r.Value) {
			return fmt.Errorf("dead letter with wrong headers: %v", h)
		}
		cov.dead[partOffset{int32(p), o}] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic != topic {
			return
		}
		for off := int64(0); off < o.At; off++ {
			po := partOffset{o.Partition, off}
			if !applied[po] && !cov.dead[po] {
				t.Fatalf("partition %d committed at %d, but offset %d was neither applied nor dead-lettered", o.Partition, o.At, off)
			}
		}
	})
	return cov
}

// committedAll reports whether the group committed every partition's end.
func committedAll(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string) bool {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	done := true
	ends.Each(func(e kadm.ListedOffset) {
		o, ok := offs.Lookup(topic, e.Partition)
		if !ok || o.At < e.Offset {
			done = false
		}
	})
	return done
}

var _ = slices.Sort[[]int]
