package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// openSink builds and opens a sink on its own container; mutate adjusts
// the configuration first.
func openSink(t testing.TB, srv *testServer, mutate func(*Config)) *Sink {
	t.Helper()
	cfg := srv.testConfig(containerName(t))
	if mutate != nil {
		mutate(&cfg)
	}
	return openSinkCfg(t, cfg)
}

func openSinkCfg(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg, Deps{Metrics: NewMetrics(nil, "test")})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// ev describes one change envelope for tests.
type ev struct {
	kind, ct, id, entity string
	fields               map[string]any
	nulled, diff         []string
	ts                   int64 // commit timestamp, ms; 0: no header
	cn                   int64
	seq                  int32
}

// value encodes e as the source does.
func (e ev) value() []byte {
	if e.kind == "" {
		e.kind = kindChange
	}
	if e.entity == "" {
		e.entity = "Account"
	}
	m := map[string]any{
		"envelope_version": 1, "kind": e.kind, "entity": e.entity, "record_id": e.id, "change_type": e.ct,
		"fields": e.fields, "changed_fields": []string{}, "nulled_fields": e.nulled, "diff_fields": e.diff,
		"channel": "/data/" + e.entity + "ChangeEvent", "dedupe_key": "k", "received_at": time.Now().UTC(),
	}
	if m["fields"] == nil {
		m["fields"] = map[string]any{}
	}
	if m["nulled_fields"] == nil {
		m["nulled_fields"] = []string{}
	}
	if e.ts != 0 {
		m["header"] = map[string]any{
			"record_ids": []string{e.id}, "change_origin": "", "transaction_key": "tx", "sequence_number": e.seq,
			"commit_timestamp": time.UnixMilli(e.ts).UTC(), "commit_number": e.cn, "commit_user": "005",
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// batch builds the records of evs for one partition, offsets from off.
func batch(topic string, off int64, evs ...any) []connectorlib.Record {
	out := make([]connectorlib.Record, len(evs))
	for i, x := range evs {
		r := connectorlib.Record{Topic: topic, Partition: 0, Offset: off + int64(i)}
		switch e := x.(type) {
		case ev:
			r.Key, r.Value = []byte(e.id), e.value()
		case tombstone:
			r.Key = []byte(e)
			r.Headers = []connectorlib.Header{{Key: headerEntity, Value: []byte("Account")}}
		case raw:
			r.Key, r.Value = []byte(e.key), e.value
		}
		out[i] = r
	}
	return out
}

// tombstone is a Kafka tombstone for a record id.
type tombstone string

// raw is a record with an arbitrary value.
type raw struct {
	key   string
	value []byte
}

func write(t testing.TB, s *Sink, recs []connectorlib.Record) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.Write(ctx, recs)
}

func mustWrite(t testing.TB, s *Sink, recs []connectorlib.Record) {
	t.Helper()
	if err := write(t, s, recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// getDoc reads a document by id (partitioned by /id), nil when absent,
// without the Cosmos system properties.
func getDoc(t testing.TB, s *Sink, id string) map[string]any {
	t.Helper()
	return getDocPK(t, s, id, azcosmos.NewPartitionKeyString(id))
}

func getDocPK(t testing.TB, s *Sink, id string, pk azcosmos.PartitionKey) map[string]any {
	t.Helper()
	resp, err := s.container.ReadItem(context.Background(), pk, id, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	var d map[string]any
	if err := json.Unmarshal(resp.Value, &d); err != nil {
		t.Fatal(err)
	}
	for _, f := range systemFields {
		delete(d, f)
	}
	return d
}

// allDocs returns every document of the sink's container by id.
func allDocs(t testing.TB, s *Sink) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	pager := s.container.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		for _, it := range page.Items {
			var d map[string]any
			if err := json.Unmarshal(it, &d); err != nil {
				t.Fatal(err)
			}
			for _, f := range systemFields {
				delete(d, f)
			}
			id, _ := d["id"].(string)
			if _, dup := out[id]; dup {
				t.Errorf("document id %s is stored twice", id)
			}
			out[id] = d
		}
	}
	return out
}

// batchErr returns the BatchError of err, failing the test otherwise.
func batchErr(t testing.TB, err error) *connectorlib.BatchError {
	t.Helper()
	var be *connectorlib.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Write returned %v (%T); want a *connectorlib.BatchError", err, err)
	}
	return be
}

// metaOf returns a document's sfconnect bookkeeping.
func metaOf(t testing.TB, d map[string]any) meta {
	t.Helper()
	m, ok := readMeta(d)
	if !ok {
		t.Fatalf("document %v has no %s", d["id"], metaField)
	}
	return m
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
