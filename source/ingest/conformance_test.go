package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/conformance"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

// conformanceDriver runs the connectorlib source conformance suite against
// the ingest source: the upstream of each subtest is a receiver with its
// HTTP server, and Produce posts signed webhooks to it, as Apex would.
// Posts wait for their Ack like real senders; those never acked end with
// 503 when the suite closes the source.
type conformanceDriver struct {
	cluster *kafkatest.Cluster
	mu      sync.Mutex
	ups     map[*testing.T]*upstream
	seq     atomic.Int64
}

type upstream struct {
	rc     *Receiver
	srv    *Server
	client *http.Client
	posts  sync.WaitGroup
}

func (d *conformanceDriver) upstream(t *testing.T) *upstream {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u := d.ups[t]; u != nil {
		return u
	}
	cfg := testConfig(conformance.UniqueName(t))
	rc := New(cfg, Deps{Connector: conformance.UniqueName(t), Mode: connectorlib.DeliveryExactlyOnce, Kafka: d.cluster.Opts()})
	srv, err := NewServer(cfg, rc.Handler())
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve()
	}()
	// No keep-alive: no idle connection outlives the subtest's leak check.
	u := &upstream{rc: rc, srv: srv, client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
		u.posts.Wait()
	})
	d.ups[t] = u
	return u
}

func (d *conformanceDriver) Features() conformance.SourceFeatures {
	return conformance.SourceFeatures{MaxBatch: readLimit(testConfig("")), Timeout: 20 * time.Second}
}

func (d *conformanceDriver) NewSource(t *testing.T) connectorlib.Source {
	return newSession(d.upstream(t).rc)
}

// Produce posts n webhook events, in requests of up to MaxEvents, and
// returns once the open session has queued them.
func (d *conformanceDriver) Produce(t *testing.T, n int) {
	u := d.upstream(t)
	s := u.rc.current()
	if s == nil {
		t.Fatal("driver: Produce without an open source")
	}
	s.mu.Lock()
	before := s.nextSeq
	s.mu.Unlock()
	requests := 0
	for done := 0; done < n; requests++ {
		k := min(n-done, testConfig("").MaxEvents)
		events := make([]map[string]any, k)
		for i := range events {
			id := d.seq.Add(1)
			events[i] = map[string]any{"id": fmt.Sprint("evt-", id), "changeType": "UPDATE",
				"sObject": map[string]any{"attributes": map[string]any{"type": "Account"}, "Id": fmt.Sprintf("0018a%013d", id)}}
		}
		done += k
		body, _ := json.Marshal(events)
		u.posts.Add(1)
		go func() {
			defer u.posts.Done()
			req, _ := http.NewRequest(http.MethodPost, u.srv.URL()+"/webhook", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Sfconnect-Signature", Sign([]byte(testSecret), body))
			if resp, err := u.client.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		queued := s.nextSeq - before
		s.mu.Unlock()
		if queued >= uint64(requests) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("driver: %d of %d requests queued in 20s", queued, requests)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (d *conformanceDriver) Inject(*testing.T, conformance.Fault) bool { return false }

func (d *conformanceDriver) InvalidPosition(*testing.T) connectorlib.Positions { return nil }

// EventID implements conformance.EventIdentifier: an event is its data
// record and its dedup record, one event id.
func (d *conformanceDriver) EventID(r connectorlib.Record) string {
	if id, ok := r.Header(HeaderNotificationID); ok {
		return string(id)
	}
	return strings.TrimPrefix(string(r.Key), "webhook|")
}

func (d *conformanceDriver) Configs() []conformance.ConfigCase {
	build := func(mod func(*Config)) func(t *testing.T) error {
		return func(*testing.T) error {
			cfg := testConfig("c")
			mod(&cfg)
			return cfg.Validate()
		}
	}
	return []conformance.ConfigCase{
		{Name: "objects", Build: build(func(c *Config) { c.Objects = nil }), WantErr: "SFCONNECT_HTTP_OBJECTS"},
		{Name: "organization id", Build: build(func(c *Config) { c.OrganizationID = "" }), WantErr: "SFCONNECT_HTTP_ORGANIZATION_ID"},
		{Name: "secret", Build: build(func(c *Config) { c.Secret = "" }), WantErr: "SFCONNECT_HTTP_SECRET"},
	}
}

// TestConformance runs the connectorlib source conformance suite. The
// ingest source has no replay (Salesforce retries instead), so the resume
// tests skip; Read, backpressure, Close and configuration checks run.
func TestConformance(t *testing.T) {
	d := &conformanceDriver{cluster: kafkatest.NewFake(t), ups: map[*testing.T]*upstream{}}
	conformance.RunSource(t, d)
}
