package offsetstore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

func TestKafka_Load_LatestPerStreamOfThisConnector(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		topic := kafkatest.Topic(t, "offsets")
		cl := c.Client(t)
		if err := kafkaio.EnsureTopics(ctx, c.Admin(t), kafkaio.CompactedTopic(topic)); err != nil {
			t.Fatal(err)
		}
		mine := NewKafka(cl, c.Opts(), topic, "mine")
		other := NewKafka(cl, c.Opts(), topic, "other")
		got, err := mine.Load(ctx)
		if err != nil || len(got) != 0 {
			t.Fatalf("empty topic: %v %v", got, err)
		}
		steps := []struct {
			s      *Kafka
			stream string
			pos    string
		}{
			{mine, "a", "1"}, {mine, "b", "7"}, {other, "a", "99"}, {mine, "a", "2"}, {mine, "c", "5"},
		}
		for _, st := range steps {
			if err := st.s.Put(ctx, map[string][]byte{st.stream: []byte(st.pos)}); err != nil {
				t.Fatal(err)
			}
		}
		// A tombstone resets stream c.
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: mine.Record("c", nil).Key}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		got, err = mine.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got["a"]) != "2" || string(got["b"]) != "7" {
			t.Fatalf("Load = %q, want a=2 b=7", got)
		}

		// A record this version cannot read stops the load: never skipped.
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: mine.Record("a", nil).Key, Value: []byte(`{"v":9}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if _, err := mine.Load(ctx); err == nil {
			t.Fatal("Load accepted an unsupported record")
		}
	})
}

func TestKafka_Load_IgnoresAbortedTransactions(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		topic := kafkatest.Topic(t, "offsets")
		if err := kafkaio.EnsureTopics(ctx, c.Admin(t), kafkaio.CompactedTopic(topic)); err != nil {
			t.Fatal(err)
		}
		tx := c.Client(t, kgo.TransactionalID(kafkatest.Topic(t, "txn")))
		store := NewKafka(tx, c.Opts(), topic, "conn")
		for i, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
			if err := tx.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := tx.ProduceSync(ctx, store.Record("s", []byte{byte('1' + i)})).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := tx.EndTransaction(ctx, commit); err != nil {
				t.Fatal(err)
			}
		}
		got, err := NewKafka(c.Client(t), c.Opts(), topic, "conn").Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got["s"]) != "1" {
			t.Fatalf("Load = %q, want the committed position 1, not the aborted 2", got)
		}
	})
}

func FuzzDecode(f *testing.F) {
	s := NewKafka(nil, nil, "t", "conn")
	r := s.Record("/data/AccountChangeEvent", []byte{0, 0, 0, 0, 0, 0, 1, 2})
	f.Add(r.Key, r.Value)
	f.Add(r.Key, []byte(nil))
	f.Add([]byte(`{"connector":"c","stream":""}`), []byte(`{"v":1}`))
	f.Add([]byte(`[`), []byte(`{`))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		e, err := decode(k, v)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a record that decodes the same.
		if e.tombstone {
			return
		}
		again, err := decode(NewKafka(nil, nil, "t", e.connector).Record(e.stream, e.position).Key,
			NewKafka(nil, nil, "t", e.connector).Record(e.stream, e.position).Value)
		if err != nil || again.stream != e.stream || !bytes.Equal(again.position, e.position) {
			t.Fatalf("round trip of %+v: %+v, %v", e, again, err)
		}
	})
}
