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

// TestSourceRunner_Run_TransactionBytesBound shows that large records make
// smaller transactions: with a 64 KiB bound, 40 Reads of one 16 KiB record
// need at least 10 transactions, and every record arrives in order.
func TestSourceRunner_Run_TransactionBytesBound(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newSourceEnv(t, c, DeliveryExactlyOnce)
	e.cfg.TransactionMaxRecords = 1000
	e.cfg.TransactionMaxBytes = 64 << 10
	e.cfg.TransactionLinger = 200 * time.Millisecond
	var steps []scriptStep
	for n := 1; n <= 40; n++ {
		value := make([]byte, 16<<10)
		copy(value, strconv.Itoa(n)+";")
		steps = append(steps, scriptStep{recs: []Record{{Stream: "s", Position: Position(strconv.Itoa(n)), Topic: e.topic,
			Key: []byte("k"), Value: value}}})
	}
	src := &scriptSource{script: steps}
	deps, reg := testDeps(c)
	h := e.start(t, func() (Source, error) { return src, nil }, deps)
	waitUntil(t, 15*time.Second, "40 records committed", func() bool { return len(readTopic(t, c, e.topic)) == 40 })
	if err := h.stop(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for i, r := range readTopic(t, c, e.topic) {
		if want := strconv.Itoa(i+1) + ";"; string(r.Value[:len(want)]) != want {
			t.Fatalf("record %d starts %q, want %q", i, r.Value[:8], want)
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
	// 40 x 16 KiB = 640 KiB; a transaction closes once it holds 64 KiB
	// (4 records), so 10 at least. Without the bound the 200 ms linger
	// would put them in one or two.
	if commits < 10 {
		t.Fatalf("%v transactions for 640 KiB under a 64 KiB bound", commits)
	}
	t.Logf("40 records of 16 KiB committed in %v transactions", commits)
}

func TestByteSize_Decode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]ByteSize{"16MiB": 16 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "1000": 1000, "0": 0} {
		var b ByteSize
		if err := b.Decode(in); err != nil || b != want {
			t.Errorf("Decode(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "12MB", "lots"} {
		var b ByteSize
		if err := b.Decode(in); err == nil {
			t.Errorf("Decode(%q) accepted as %d", in, b)
		}
	}
	if s := ByteSize(16 << 20).String(); s != "16MiB" {
		t.Errorf("String() = %q", s)
	}
}
