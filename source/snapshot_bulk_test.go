package source_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

// TestSource_Snapshot_BulkAndSOQLGiveIdenticalRecords snapshots the same
// org twice, once by paged SOQL (threshold 0) and once by a Bulk API 2.0
// query job (threshold below the record count), and requires the same
// SNAPSHOT records: same keys and the same envelope values, field types
// included (numbers, booleans, datetimes, nulls, text with quotes, commas
// and newlines), apart from the per-run dedupe key and receive time.
func TestSource_Snapshot_BulkAndSOQLGiveIdenticalRecords(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newEnv(t, c, sfsim.StreamTimeouts(time.Minute, 200*time.Millisecond, time.Second))
	const n = 2300 // more than one snapshot page of 2,000
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range n {
			f := map[string]any{"Name": fmt.Sprintf(`Bulk "%d", Ltd`, i), "NumberOfEmployees": float64(i)}
			if i%3 == 0 {
				f["AnnualRevenue"] = float64(i) + 0.25
				f["Description"] = "first line\nsecond, line"
				f["BillingCity"] = "Paris"
			}
			if _, err := tx.Create("Account", f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	snapshot := func(name string, threshold int) (map[string]map[string]any, string) {
		t.Helper()
		run := *e
		run.name = kafkatest.Topic(t, name)
		cfg := baseConfig(&run, "/data/AccountChangeEvent")
		cfg.InitialReplay = source.ReplayLatest
		cfg.SnapshotObjects = []string{"Account"}
		cfg.SnapshotBulk = threshold
		cfg.TopicTemplate = name + ".{entity}"
		logs := &syncBuffer{}
		r := run.start(t, cfg, connectorlib.DeliveryExactlyOnce, runOpts{
			metrics: source.NewMetrics(prometheus.NewRegistry(), run.name),
			logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		})
		recs := readEnvelopes(t, c, name+".Account", n)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]any{}
		for _, rec := range recs {
			validate(t, rec.Value)
			var v map[string]any
			if err := json.Unmarshal(rec.Value, &v); err != nil {
				t.Fatal(err)
			}
			if v["kind"] != source.KindSnapshot || v["record_id"] != string(rec.Key) {
				t.Fatalf("%s: record %s: %s", name, rec.Key, rec.Value)
			}
			delete(v, "dedupe_key")
			delete(v, "received_at")
			out[string(rec.Key)] = v
		}
		return out, logs.String()
	}
	soql, soqlLog := snapshot("soql", 0)
	bulk, bulkLog := snapshot("bulk", n-1)
	if !strings.Contains(soqlLog, "via=soql") || !strings.Contains(bulkLog, "via=bulk") || !strings.Contains(bulkLog, fmt.Sprintf("done=%d total=%d", n, n)) {
		t.Fatalf("snapshot paths not as configured:\nSOQL run:\n%s\nBulk run:\n%s", soqlLog, bulkLog)
	}
	if len(soql) != n || len(bulk) != n {
		t.Fatalf("%d SOQL and %d Bulk records, want %d each", len(soql), len(bulk), n)
	}
	for id, want := range soql {
		if got := bulk[id]; !reflect.DeepEqual(got, want) {
			w, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			t.Fatalf("record %s differs:\nSOQL %s\nBulk %s", id, w, g)
		}
	}
}
