package salesforce

import (
	"context"
	"github.com/sfconnect/sfconnect/connectorlib"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBreaker_OpensTrialsAndCloses(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newBreaker(2, time.Second, clk.now)
	for i := range 2 {
		if ok, _ := b.allow(); !ok {
			t.Fatalf("call %d refused before the breaker opened", i)
		}
		b.result(true)
	}
	if ok, wait := b.allow(); ok || wait != time.Second {
		t.Fatalf("after 2 overloads: allow = %v, %v; want refused for 1s", ok, wait)
	}
	clk.add(time.Second)
	if ok, _ := b.allow(); !ok {
		t.Fatal("no trial after the cooldown")
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("a second call went out while the trial is in flight")
	}
	b.result(true) // the trial fails: reopen with twice the cooldown
	if ok, wait := b.allow(); ok || wait != 2*time.Second {
		t.Fatalf("after a failed trial: allow = %v, %v; want refused for 2s", ok, wait)
	}
	clk.add(2 * time.Second)
	if ok, _ := b.allow(); !ok {
		t.Fatal("no trial after the doubled cooldown")
	}
	b.result(false)
	if ok, _ := b.allow(); !ok || b.open() {
		t.Fatal("a good trial did not close the breaker")
	}
	// One overload after a success does not open it.
	b.result(true)
	if ok, _ := b.allow(); !ok {
		t.Fatal("a single overload opened the breaker")
	}
}

func TestGovernor_PacesOnlyInsideTheReserve(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	g := newGovernor(10, time.Hour, clk.now)
	ctx := context.Background()
	g.observe(100, 1000) // 900 left: outside the 10% reserve
	for range 3 {
		if err := g.wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	g.observe(950, 1000) // 50 left: inside
	if err := g.wait(ctx); err != nil {
		t.Fatalf("first call inside the reserve: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := g.wait(short); err == nil {
		t.Fatal("a second call inside the reserve did not wait for the interval")
	}
	g.observe(0, 1000) // the daily window rolled over
	if err := g.wait(ctx); err != nil {
		t.Fatalf("after the budget recovered: %v", err)
	}
}

func TestNormalizeID(t *testing.T) {
	for in, want := range map[string]string{
		"001xx000003DGb2":    "001xx000003DGb2AAG",
		"001xx000003DGb2AAG": "001xx000003DGb2AAG",
		"0018a0000000001":    "0018a0000000001AAA",
	} {
		if got, err := normalizeID(in); err != nil || got != want {
			t.Errorf("normalizeID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "001", "001xx000003DGb2-AG", "001xx000003DGb2AAGX"} {
		if _, err := normalizeID(bad); err == nil {
			t.Errorf("normalizeID(%q) accepted", bad)
		}
	}
}

func TestBuildLookups_SplitsLongQueriesAndEscapes(t *testing.T) {
	var segs []*segment
	for i := range 3000 {
		c := &change{object: "Account", extField: "External_Id__c", extID: strings.Repeat("x", 10) + string(rune('a'+i%26)) + itoa(i), op: OpUpsert,
			fields: map[string]any{"Name": "n"}}
		segs = append(segs, &segment{key: c.key(), changes: []*change{c}})
	}
	q := &change{object: "Account", extField: "External_Id__c", extID: `it's a \ test`, op: OpUpsert}
	segs = append(segs, &segment{key: q.key(), changes: []*change{q}})
	qs := buildLookups(segs, true)
	if len(qs) < 3 {
		t.Fatalf("%d queries for 3,001 values of ~15 characters; want them split at %d characters", len(qs), maxSOQLChars)
	}
	for _, l := range qs {
		if len(l.soql) > maxSOQLChars {
			t.Errorf("query of %d characters", len(l.soql))
		}
		if !strings.HasPrefix(l.soql, "SELECT Id, LastModifiedDate, LastModifiedById, External_Id__c, Name FROM Account WHERE External_Id__c IN (") {
			t.Errorf("query %.120s", l.soql)
		}
	}
	if last := qs[len(qs)-1].soql; !strings.Contains(last, `'it\'s a \\ test'`) {
		t.Errorf("the quote and backslash are not escaped: %s", last[len(last)-60:])
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// FuzzJSONDecoder_Decode checks that no input panics the decoder and that
// every error is permanent (bad input goes to the dead-letter topic, it is
// not retried forever).
func FuzzJSONDecoder_Decode(f *testing.F) {
	f.Add([]byte(`{"envelope_version":1,"object":"customer","operation":"UPSERT","external_id":"a","fields":{"name":"x"},"changed_at":1,"idempotency_key":"k"}`))
	f.Add([]byte(`{"envelope_version":1,"object":"c","operation":"DELETE","record_id":"001xx000003DGb2","changed_at":"2026-11-23T10:00:00Z","idempotency_key":"k"}`))
	f.Add([]byte(`{"fields":{"a":[1]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := JSONDecoder{}.Decode(b)
		if err != nil {
			if connectorlib.IsRetryable(err) {
				t.Fatalf("retryable decode error: %v", err)
			}
			return
		}
		if c == nil || c.Fields == nil {
			t.Fatal("nil change without an error")
		}
		m := &mapping{objects: map[string]string{"customer": "Account"}, fields: map[string]map[string]string{"customer": {"name": "Name"}}, extIDs: map[string]string{"Account": "External_Id__c"}}
		_, _ = m.apply(0, c, b)
	})
}
