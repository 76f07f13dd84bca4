package cometd_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cometd"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// Test org.
const (
	orderEvent   = "Order__e"
	orderChannel = "/event/Order__e"
	acctChannel  = "/data/AccountChangeEvent"
	// longPoll is the simulator's long-poll timeout: short, so held
	// connects are exercised but tests never wait long.
	longPoll = 300 * time.Millisecond
	// recvTimeout bounds a test's wait for events.
	recvTimeout = 10 * time.Second
)

// newSim starts a TLS simulator with the Order__e platform event and short
// long polls; opts are added.
func newSim(t *testing.T, opts ...sfsim.Opt) *sfsim.Sim {
	t.Helper()
	field := salesforce.Field{Name: "OrderNumber__c", Label: "Order Number", Type: "string", Nillable: true, Createable: true}
	all := append([]sfsim.Opt{
		sfsim.PlatformEvent(orderEvent, field),
		sfsim.StreamTimeouts(time.Minute, time.Minute, longPoll),
	}, opts...)
	sim, err := sfsim.New(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// simTokens is a TokenProvider backed by sim.Token(): it caches one token
// until that token is invalidated, and counts Invalidate calls.
type simTokens struct {
	sim *sfsim.Sim
	// fixed, when set, is returned instead of a real token.
	fixed string

	mu          sync.Mutex
	token       string
	sessions    int
	invalidated []string
}

func (p *simTokens) Session(ctx context.Context) (salesforce.Session, error) {
	if err := ctx.Err(); err != nil {
		return salesforce.Session{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions++
	if p.token == "" {
		p.token = p.fixed
		if p.token == "" {
			p.token = p.sim.Token()
		}
	}
	return salesforce.Session{
		AccessToken: p.token, InstanceURL: p.sim.URL(), OrgID: p.sim.OrgID(), UserID: p.sim.UserID(),
		IssuedAt: time.Now(),
	}, nil
}

func (p *simTokens) Invalidate(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invalidated = append(p.invalidated, token)
	if token == p.token {
		p.token = ""
	}
}

func (p *simTokens) invalidations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.invalidated...)
}

// tlsClient returns an HTTP client trusting the simulator's certificate.
func tlsClient(t *testing.T, sim *sfsim.Sim) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(sim.CACertPEM()) {
		t.Fatal("cannot parse the simulator's CA certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// newClient returns a Client for sim and its token provider.
func newClient(t *testing.T, sim *sfsim.Sim) (*cometd.Client, *simTokens) {
	t.Helper()
	tokens := &simTokens{sim: sim}
	c := cometd.New(cometd.Config{Tokens: tokens, HTTPClient: tlsClient(t, sim), LongPollTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, tokens
}

// subscribe subscribes or fails the test.
func subscribe(t *testing.T, c *cometd.Client, channel string, from int64) *cometd.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	sub, err := c.Subscribe(ctx, channel, from)
	if err != nil {
		t.Fatalf("Subscribe(%s, %d): %v", channel, from, err)
	}
	return sub
}

// recvN receives until it has n events, failing the test on an error or
// after recvTimeout.
func recvN(t *testing.T, sub *cometd.Subscription, n int) []cometd.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	var out []cometd.Message
	for len(out) < n {
		msgs, err := sub.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv after %d of %d events: %v", len(out), n, err)
		}
		if len(msgs) == 0 {
			t.Fatal("Recv returned no events and no error")
		}
		out = append(out, msgs...)
	}
	if len(out) > n {
		t.Fatalf("received %d events, want %d: %v", len(out), n, names(t, out))
	}
	return out
}

// expectNone checks that no event arrives within d.
func expectNone(t *testing.T, sub *cometd.Subscription, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	msgs, err := sub.Recv(ctx)
	if err == nil {
		t.Fatalf("unexpected events: %v", names(t, msgs))
	}
	if ctx.Err() == nil {
		t.Fatalf("Recv: %v", err)
	}
}

// eventData is the part of an event's data the tests look at.
type eventData struct {
	Schema  string         `json:"schema"`
	Payload map[string]any `json:"payload"`
	Event   struct {
		ReplayID  int64  `json:"replayId"`
		EventUUID string `json:"EventUuid"`
		Type      string `json:"type"`
	} `json:"event"`
	SObject map[string]any `json:"sobject"`
}

func decode(t *testing.T, m cometd.Message) eventData {
	t.Helper()
	var d eventData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatalf("event data %s: %v", m.Data, err)
	}
	if d.Event.ReplayID != m.ReplayID {
		t.Fatalf("Message.ReplayID %d, data.event.replayId %d", m.ReplayID, d.Event.ReplayID)
	}
	return d
}

// names returns the record or order name of each event: payload Name (change
// events), payload OrderNumber__c (platform events) or sobject Name
// (PushTopic events).
func names(t *testing.T, msgs []cometd.Message) []string {
	t.Helper()
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		d := decode(t, m)
		var v any
		switch {
		case d.SObject != nil:
			v = d.SObject["Name"]
		case d.Payload["OrderNumber__c"] != nil:
			v = d.Payload["OrderNumber__c"]
		default:
			v = d.Payload["Name"]
		}
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// createAccounts creates accounts with the given names, one transaction
// each, and returns the replay id of each one's change event.
func createAccounts(t *testing.T, sim *sfsim.Sim, accountNames ...string) []int64 {
	t.Helper()
	ids := make([]int64, 0, len(accountNames))
	for _, n := range accountNames {
		if _, err := sim.Create("Account", map[string]any{"Name": n}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sim.LatestReplayID())
	}
	return ids
}

// checkOrder fails unless msgs carry increasing replay ids on channel.
func checkOrder(t *testing.T, channel string, msgs []cometd.Message) {
	t.Helper()
	for i, m := range msgs {
		if m.Channel != channel {
			t.Errorf("event %d on %s, want %s", i, m.Channel, channel)
		}
		if i > 0 && m.ReplayID <= msgs[i-1].ReplayID {
			t.Errorf("event %d replay id %d after %d", i, m.ReplayID, msgs[i-1].ReplayID)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
