package connectorlib

import (
	"context"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
)

// TestSourceRunner_Run_PositionMarkersAdvanceWithoutProducing shows that a
// record without a topic produces nothing, yet its position becomes durable
// (and is acked) once the records before it are.
func TestSourceRunner_Run_PositionMarkersAdvanceWithoutProducing(t *testing.T) {
	t.Parallel()
	for _, mode := range []DeliveryMode{DeliveryExactlyOnce, DeliveryAtLeastOnce} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			c := kafkatest.NewFake(t)
			e := newSourceEnv(t, c, mode)
			rec := func(pos string, data bool) Record {
				r := Record{Stream: "s", Position: Position(pos)}
				if data {
					r.Topic, r.Key, r.Value = e.topic, []byte("k"), []byte(pos)
				}
				return r
			}
			src := &scriptSource{script: []scriptStep{
				{recs: []Record{rec("1", true), rec("2", false), rec("3", true)}},
				{recs: []Record{rec("4", false)}},
				{recs: []Record{rec("5", false), rec("6", false)}},
			}}
			deps, _ := testDeps(c)
			h := e.start(t, func() (Source, error) { return src, nil }, deps)
			waitUntil(t, 15*time.Second, "position 6 acked", func() bool { return src.acked("s") == "6" })
			if err := h.stop(t, 10*time.Second); err != nil {
				t.Fatal(err)
			}

			recs := readTopic(t, c, e.topic)
			if len(recs) != 2 || string(recs[0].Value) != "1" || string(recs[1].Value) != "3" {
				t.Fatalf("produced %d records; want only the data records 1 and 3", len(recs))
			}
			ps, err := offsetstore.NewKafka(c.Client(t), c.Opts(), e.cfg.Offsets(), e.cfg.Name).Load(context.Background())
			if err != nil || string(ps["s"]) != "6" {
				t.Fatalf("stored position %q, %v; want 6", ps["s"], err)
			}
		})
	}
}
