package connectorlib

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

// TestSourceRunner_Run_CoalescesReadsIntoOneTransaction shows that records
// the source already has share a transaction (fewer commits than Reads),
// and that a Read error met while coalescing loses none of the records
// read before it.
func TestSourceRunner_Run_CoalescesReadsIntoOneTransaction(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newSourceEnv(t, c, DeliveryExactlyOnce)
	e.cfg.TransactionMaxRecords = 1000
	e.cfg.TransactionLinger = 50 * time.Millisecond
	var steps []scriptStep
	n := 0
	for range 50 {
		var recs []Record
		for range 10 {
			n++
			recs = append(recs, Record{Stream: "s", Position: Position(strconv.Itoa(n)), Topic: e.topic,
				Key: []byte("k"), Value: []byte(fmt.Sprint(n))})
		}
		steps = append(steps, scriptStep{recs: recs})
	}
	steps = append(steps, scriptStep{err: Retryable(errors.New("upstream hiccup"))})
	src := &scriptSource{script: steps}
	deps, reg := testDeps(c)
	h := e.start(t, func() (Source, error) { return src, nil }, deps)
	waitUntil(t, 15*time.Second, "500 records committed", func() bool { return len(readTopic(t, c, e.topic)) == 500 })
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	recs := readTopic(t, c, e.topic)
	if len(recs) != 500 {
		t.Fatalf("%d records, want 500", len(recs))
	}
	for i, r := range recs {
		if string(r.Value) != strconv.Itoa(i+1) {
			t.Fatalf("record %d is %s", i, r.Value)
		}
	}
	var commits float64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sfconnect_source_transactions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "commit" {
					commits += m.GetCounter().GetValue()
				}
			}
		}
	}
	if commits >= 50 {
		t.Fatalf("%v commits for 50 Reads: nothing was coalesced", commits)
	}
	t.Logf("50 Reads of 10 records committed in %v transactions", commits)
}
