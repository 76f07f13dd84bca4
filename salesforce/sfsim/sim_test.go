package sfsim_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// The tests in this package drive a Sim the way its users do: through the
// Go control API or /sim/, and through the real protocols (HTTPS with the
// sim's certificate, gRPC over TLS with the generated Pub/Sub client,
// Bayeux long-polling). Every test runs its own Sim on free ports.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// apiVersion is the REST and Streaming API version the tests use.
const apiVersion = "62.0"

// waitFor bounds every wait for an event or an answer.
const waitFor = 10 * time.Second

// orderFields are the custom fields of the Order__e platform event most
// tests define.
var orderFields = []salesforce.Field{
	{Name: "OrderNumber__c", Label: "Order Number", Type: "string", Length: 40, Nillable: true, Createable: true},
	{Name: "Amount__c", Label: "Amount", Type: "double", Nillable: true, Createable: true},
}

// env is a running Sim with clients for each of its surfaces.
type env struct {
	t     *testing.T
	sim   *sfsim.Sim
	tr    *http.Transport
	http  *http.Client
	ps    pubsubpb.PubSubClient
	token string // from the OAuth client_credentials flow

	mu      sync.Mutex
	schemas map[string]*cdc.Schema
}

// newEnv starts a Sim with Order__e, short stream timeouts and opts, and
// logs in over OAuth. Everything is closed when the test ends.
func newEnv(t *testing.T, opts ...sfsim.Opt) *env {
	t.Helper()
	all := append([]sfsim.Opt{
		sfsim.PlatformEvent("Order__e", orderFields...),
		sfsim.StreamTimeouts(0, 0, 2*time.Second),
	}, opts...)
	sim, err := sfsim.New(all...)
	if err != nil {
		t.Fatalf("sfsim.New: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(sim.CACertPEM()) {
		t.Fatal("CACertPEM: no certificate")
	}
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	e := &env{t: t, sim: sim, schemas: map[string]*cdc.Schema{}}
	e.tr = &http.Transport{TLSClientConfig: tlsConf}
	e.http = &http.Client{Transport: e.tr, Timeout: waitFor}
	conn, err := grpc.NewClient(sim.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)))
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: clients close before the Sim.
	t.Cleanup(func() {
		_ = conn.Close()
		e.tr.CloseIdleConnections()
	})
	e.ps = pubsubpb.NewPubSubClient(conn)
	e.token = e.login()
	return e
}

// login runs the OAuth client_credentials flow and returns the token.
func (e *env) login() string {
	e.t.Helper()
	resp, body := e.post("/services/oauth2/token", "application/x-www-form-urlencoded", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sfsim.DefaultClientID}, "client_secret": {sfsim.DefaultClientSecret},
	}.Encode())
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("OAuth token: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("OAuth token body %s: %v", body, err)
	}
	if tok.InstanceURL != e.sim.URL() {
		e.t.Fatalf("instance_url = %q, want %q", tok.InstanceURL, e.sim.URL())
	}
	return tok.AccessToken
}

// do sends a request to the sim and returns the response (body closed)
// and its body.
func (e *env) do(method, path string, body io.Reader, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.sim.URL()+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// post sends a POST with a raw body.
func (e *env) post(path, contentType, body string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, path, strings.NewReader(body), http.Header{"Content-Type": {contentType}})
}

// rest calls the REST API at /services/data/v62.0<path> with token and
// an optional JSON body; extra are header name/value pairs.
func (e *env) rest(token, method, path string, body any, extra ...string) (*http.Response, []byte) {
	e.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(b)
		h.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Add(extra[i], extra[i+1])
	}
	return e.do(method, "/services/data/v"+apiVersion+path, r, h)
}

// restCreate creates a record over REST and returns its id.
func (e *env) restCreate(object string, fields map[string]any, extra ...string) string {
	e.t.Helper()
	resp, body := e.rest(e.token, http.MethodPost, "/sobjects/"+object, fields, extra...)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("REST create %s: %d %s", object, resp.StatusCode, body)
	}
	var out struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
	}
	if err := json.Unmarshal(body, &out); err != nil || !out.Success || out.ID == "" {
		e.t.Fatalf("REST create %s: body %s: %v", object, body, err)
	}
	return out.ID
}

// restGet reads a record over REST and returns its status and fields.
func (e *env) restGet(object, id string) (int, map[string]any) {
	e.t.Helper()
	resp, body := e.rest(e.token, http.MethodGet, "/sobjects/"+object+"/"+id, nil)
	var rec map[string]any
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &rec); err != nil {
			e.t.Fatalf("REST get %s/%s: %s: %v", object, id, body, err)
		}
	}
	return resp.StatusCode, rec
}

// callCtx returns a context for a Pub/Sub call authenticated with token.
func (e *env) callCtx(token string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	e.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "accesstoken", token, "instanceurl", e.sim.URL(), "tenantid", e.sim.OrgID())
}

// schema fetches (once) and parses a schema with GetSchema.
func (e *env) schema(id string) *cdc.Schema {
	e.t.Helper()
	e.mu.Lock()
	s := e.schemas[id]
	e.mu.Unlock()
	if s != nil {
		return s
	}
	info, err := e.ps.GetSchema(e.callCtx(e.token), &pubsubpb.SchemaRequest{SchemaId: id})
	if err != nil {
		e.t.Fatalf("GetSchema(%s): %v", id, err)
	}
	s, err = cdc.ParseSchema(info.GetSchemaJson())
	if err != nil {
		e.t.Fatalf("parse schema %s: %v", id, err)
	}
	if s.ID() != id {
		e.t.Fatalf("schema %s has fingerprint %s", id, s.ID())
	}
	e.mu.Lock()
	e.schemas[id] = s
	e.mu.Unlock()
	return s
}

// change decodes a change event with its schema from GetSchema.
func (e *env) change(ce *pubsubpb.ConsumerEvent) *cdc.ChangeEvent {
	e.t.Helper()
	s := e.schema(ce.GetEvent().GetSchemaId())
	ev, err := s.Decode(ce.GetEvent().GetPayload())
	if err != nil {
		e.t.Fatalf("decode change event: %v", err)
	}
	return ev
}

// changedFields returns the names in a change event's changedFields.
func (e *env) changedFields(ce *pubsubpb.ConsumerEvent, ev *cdc.ChangeEvent) []string {
	e.t.Helper()
	names, err := e.schema(ce.GetEvent().GetSchemaId()).DecodeFields(ev.Header.ChangedFields)
	if err != nil {
		e.t.Fatalf("decode changedFields: %v", err)
	}
	return names
}

// platform decodes a platform event with its schema from GetSchema.
func (e *env) platform(ce *pubsubpb.ConsumerEvent) map[string]any {
	e.t.Helper()
	ev, err := e.schema(ce.GetEvent().GetSchemaId()).DecodePlatform(ce.GetEvent().GetPayload())
	if err != nil {
		e.t.Fatalf("decode platform event: %v", err)
	}
	return ev.Fields
}

// subscription is a Pub/Sub Subscribe stream read by a goroutine that keeps
// 100 events requested.
type subscription struct {
	t      *testing.T
	events chan *pubsubpb.ConsumerEvent
	done   chan struct{}
	err    error // how the stream ended; valid once done is closed
	cancel context.CancelFunc
}

// subscribe opens a subscription to topic at preset (and replayID for
// CUSTOM) with token.
func (e *env) subscribe(token, topic string, preset pubsubpb.ReplayPreset, replayID []byte) *subscription {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.callCtx(token))
	stream, err := e.ps.Subscribe(ctx)
	if err != nil {
		cancel()
		e.t.Fatalf("Subscribe: %v", err)
	}
	s := &subscription{t: e.t, events: make(chan *pubsubpb.ConsumerEvent, 10_000), done: make(chan struct{}), cancel: cancel}
	first := &pubsubpb.FetchRequest{TopicName: topic, ReplayPreset: preset, ReplayId: replayID, NumRequested: 100}
	if err := stream.Send(first); err != nil && !errors.Is(err, io.EOF) {
		cancel()
		e.t.Fatalf("Subscribe: send: %v", err)
	}
	go func() {
		defer close(s.done)
		for {
			resp, err := stream.Recv()
			if err != nil {
				s.err = err
				return
			}
			for _, ev := range resp.GetEvents() {
				s.events <- ev
			}
			if n := len(resp.GetEvents()); n > 0 {
				if err := stream.Send(&pubsubpb.FetchRequest{NumRequested: int32(n)}); err != nil && !errors.Is(err, io.EOF) {
					s.err = err
					return
				}
			}
		}
	}()
	e.t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// next returns the next event, failing the test if none comes in time.
func (s *subscription) next() *pubsubpb.ConsumerEvent {
	s.t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-s.done:
		select {
		case ev := <-s.events:
			return ev
		default:
		}
		s.t.Fatalf("subscription ended while waiting for an event: %v", s.err)
	case <-time.After(waitFor):
		s.t.Fatal("no event within the deadline")
	}
	return nil
}

// none asserts that no event arrives for d.
func (s *subscription) none(d time.Duration) {
	s.t.Helper()
	select {
	case ev := <-s.events:
		s.t.Fatalf("unexpected event %x", ev.GetReplayId())
	case <-time.After(d):
	}
}

// end waits for the stream to end and returns its error.
func (s *subscription) end() error {
	s.t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(waitFor):
		s.t.Fatal("the subscription did not end")
		return nil
	}
}

// replayID decodes the replay id of a consumer event.
func replayID(t *testing.T, ce *pubsubpb.ConsumerEvent) int64 {
	t.Helper()
	n, err := pubsub.DecodeReplayID(ce.GetReplayId())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// bayeux is a minimal long-polling CometD client: JSON arrays POSTed to
// /cometd/62.0 with the bearer token and the BAYEUX_BROWSER cookie.
type bayeux struct {
	e        *env
	client   *http.Client
	token    string
	clientID string
	received []map[string]any // data messages
}

func (e *env) bayeux(token string) *bayeux {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &bayeux{e: e, token: token, client: &http.Client{Transport: e.tr, Jar: jar, Timeout: waitFor}}
}

// send POSTs messages and returns the HTTP status and the reply messages.
func (b *bayeux) send(msgs ...map[string]any) (int, []map[string]any) {
	b.e.t.Helper()
	body, err := json.Marshal(msgs)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, b.e.sim.URL()+"/cometd/"+apiVersion, bytes.NewReader(body))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatalf("Bayeux POST: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		b.e.t.Fatalf("Bayeux reply %s: %v", raw, err)
	}
	return resp.StatusCode, out
}

// meta sends one meta message and returns its reply, keeping data
// messages that came with it.
func (b *bayeux) meta(msg map[string]any) map[string]any {
	b.e.t.Helper()
	if b.clientID != "" {
		msg["clientId"] = b.clientID
	}
	status, out := b.send(msg)
	if status != http.StatusOK {
		b.e.t.Fatalf("Bayeux %s: HTTP %d", msg["channel"], status)
	}
	var rep map[string]any
	for _, m := range out {
		if m["channel"] == msg["channel"] {
			rep = m
		} else {
			b.received = append(b.received, m)
		}
	}
	if rep == nil {
		b.e.t.Fatalf("Bayeux %s: no reply in %v", msg["channel"], out)
	}
	return rep
}

// handshake starts a session and fails the test if it is refused.
func (b *bayeux) handshake() {
	b.e.t.Helper()
	rep := b.meta(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	if rep["successful"] != true {
		b.e.t.Fatalf("handshake refused: %v", rep)
	}
	b.clientID, _ = rep["clientId"].(string)
}

// subscribe subscribes to channel from replay (-1 new, -2 all).
func (b *bayeux) subscribe(channel string, replay int64) {
	b.e.t.Helper()
	rep := b.meta(map[string]any{"channel": "/meta/subscribe", "subscription": channel,
		"ext": map[string]any{"replay": map[string]any{channel: replay}}})
	if rep["successful"] != true {
		b.e.t.Fatalf("subscribe %s refused: %v", channel, rep)
	}
}

// connect sends one /meta/connect and returns its reply.
func (b *bayeux) connect() map[string]any {
	b.e.t.Helper()
	return b.meta(map[string]any{"channel": "/meta/connect", "connectionType": "long-polling"})
}

// await connects until n data messages of channel arrived and returns
// them.
func (b *bayeux) await(channel string, n int) []map[string]any {
	b.e.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		var got []map[string]any
		for _, m := range b.received {
			if m["channel"] == channel {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			b.e.t.Fatalf("got %d of %d events on %s", len(got), n, channel)
		}
		if rep := b.connect(); rep["successful"] != true {
			b.e.t.Fatalf("connect failed: %v", rep)
		}
	}
}

// payload returns data.payload of a CometD data message.
func payload(m map[string]any) map[string]any {
	data, _ := m["data"].(map[string]any)
	p, _ := data["payload"].(map[string]any)
	return p
}

// TestControl_ChangesArriveOnPubSub makes changes through the Go control
// API and over REST and checks the change events a Pub/Sub subscriber
// decodes: UI changes have no change origin, REST changes carry the API and
// the Sforce-Call-Options client, and a transaction that makes the same
// change to three records is one event with three record ids.
func TestControl_ChangesArriveOnPubSub(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/data/AccountChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)

	type want struct {
		changeType cdc.ChangeType
		ids        []string
		origin     string
		changed    string // a field changedFields must name, if any
	}
	check := func(w want) *cdc.ChangeEvent {
		t.Helper()
		ce := sub.next()
		ev := e.change(ce)
		h := ev.Header
		if h.EntityName != "Account" || h.ChangeType != w.changeType || !slices.Equal(h.RecordIDs, w.ids) || h.ChangeOrigin != w.origin {
			t.Fatalf("header = %+v, want %s of %v with origin %q", h, w.changeType, w.ids, w.origin)
		}
		if h.CommitUser != e.sim.UserID() || h.TransactionKey == "" {
			t.Fatalf("header = %+v: want commitUser %s and a transaction key", h, e.sim.UserID())
		}
		if w.changed != "" && !slices.Contains(e.changedFields(ce, ev), w.changed) {
			t.Fatalf("changedFields = %v, want %s", e.changedFields(ce, ev), w.changed)
		}
		return ev
	}

	id, err := e.sim.Create("Account", map[string]any{"Name": "Acme", "Industry": "Banking"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := check(want{changeType: cdc.ChangeTypeCreate, ids: []string{id}}); ev.Fields["Name"] != "Acme" {
		t.Fatalf("create event fields = %v", ev.Fields)
	}
	if err := e.sim.Update("Account", id, map[string]any{"Industry": "Energy"}); err != nil {
		t.Fatal(err)
	}
	if ev := check(want{changeType: cdc.ChangeTypeUpdate, ids: []string{id}, changed: "Industry"}); ev.Fields["Industry"] != "Energy" {
		t.Fatalf("update event fields = %v", ev.Fields)
	}
	if err := e.sim.Delete("Account", id); err != nil {
		t.Fatal(err)
	}
	check(want{changeType: cdc.ChangeTypeDelete, ids: []string{id}})
	if status, _ := e.restGet("Account", id); status != http.StatusNotFound {
		t.Fatalf("REST get of a deleted record: %d, want 404", status)
	}
	if err := e.sim.Undelete("Account", id); err != nil {
		t.Fatal(err)
	}
	check(want{changeType: cdc.ChangeTypeUndelete, ids: []string{id}})
	if status, rec := e.restGet("Account", id); status != http.StatusOK || rec["Industry"] != "Energy" {
		t.Fatalf("REST get of the undeleted record: %d %v", status, rec)
	}

	// Three creates in one transaction are three events (creates never
	// merge) with one transaction key; the same update to the three
	// records is one event.
	var ids []string
	err = e.sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range 3 {
			id, err := tx.Create("Account", map[string]any{"Name": fmt.Sprintf("Tx %d", i)})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 3 {
		ev := check(want{changeType: cdc.ChangeTypeCreate, ids: ids[i : i+1]})
		keys = append(keys, ev.Header.TransactionKey)
		if int(ev.Header.SequenceNumber) != i+1 {
			t.Fatalf("sequenceNumber = %d, want %d", ev.Header.SequenceNumber, i+1)
		}
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatalf("transaction keys %v differ", keys)
	}
	err = e.sim.Transaction(func(tx *sfsim.Tx) error {
		for _, id := range ids {
			if err := tx.Update("Account", id, map[string]any{"Rating": "Hot"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := check(want{changeType: cdc.ChangeTypeUpdate, ids: ids, changed: "Rating"}); ev.Fields["Rating"] != "Hot" {
		t.Fatalf("merged update fields = %v", ev.Fields)
	}

	// A failed transaction commits nothing.
	boom := errors.New("boom")
	err = e.sim.Transaction(func(tx *sfsim.Tx) error {
		if _, err := tx.Create("Account", map[string]any{"Name": "Rolled back"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Transaction = %v, want boom", err)
	}
	// A record error is a *RecordError with Salesforce's status code.
	_, err = e.sim.Create("Account", map[string]any{"Industry": "Banking"})
	var re *sfsim.RecordError
	if !errors.As(err, &re) || re.Code != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("Create without Name = %v, want REQUIRED_FIELD_MISSING", err)
	}

	// A REST write names the API and the client in the change origin.
	restID := e.restCreate("Account", map[string]any{"Name": "From the web app"}, "Sforce-Call-Options", "client=webapp")
	check(want{changeType: cdc.ChangeTypeCreate, ids: []string{restID}, origin: "com/salesforce/api/rest/" + apiVersion + ";client=webapp"})
	sub.none(100 * time.Millisecond)

	recs, err := e.sim.Records("Account")
	if err != nil || len(recs) != 5 {
		t.Fatalf("Records = %d records, %v; want 5", len(recs), err)
	}
	if rec, err := e.sim.Get("Account", restID); err != nil || rec["Name"] != "From the web app" {
		t.Fatalf("Get = %v, %v", rec, err)
	}
}

// TestControl_PlatformEvents publishes Order__e from Go and over REST and
// receives both on Pub/Sub and on CometD.
func TestControl_PlatformEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_EARLIEST, nil)
	b := e.bayeux(e.token)
	b.handshake()
	b.subscribe("/event/Order__e", -2)

	replay, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "O-1", "Amount__c": 12.5})
	if err != nil {
		t.Fatal(err)
	}
	if replay != e.sim.LatestReplayID() {
		t.Fatalf("replay id %d, latest %d", replay, e.sim.LatestReplayID())
	}
	resp, body := e.rest(e.token, http.MethodPost, "/sobjects/Order__e", map[string]any{"OrderNumber__c": "O-2", "Amount__c": 7})
	if resp.StatusCode != http.StatusCreated || !bytes.Contains(body, []byte(`"success":true`)) {
		t.Fatalf("REST publish: %d %s", resp.StatusCode, body)
	}

	for i, want := range []struct {
		number string
		amount float64
	}{{"O-1", 12.5}, {"O-2", 7}} {
		ce := sub.next()
		if i == 0 && replayID(t, ce) != replay {
			t.Fatalf("Pub/Sub replay id %d, want %d", replayID(t, ce), replay)
		}
		f := e.platform(ce)
		if f["OrderNumber__c"] != want.number || f["Amount__c"] != want.amount || f["CreatedById"] != e.sim.UserID() {
			t.Fatalf("Pub/Sub event %d = %v", i, f)
		}
	}
	msgs := b.await("/event/Order__e", 2)
	for i, want := range []string{"O-1", "O-2"} {
		if p := payload(msgs[i]); p["OrderNumber__c"] != want {
			t.Fatalf("CometD event %d = %v", i, msgs[i])
		}
	}

	// Undefined events and fields are refused, as Salesforce does.
	if _, err := e.sim.PublishPlatformEvent("Nope__e", nil); err == nil {
		t.Fatal("publishing an undefined event succeeded")
	}
	if _, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"Bogus__c": 1}); err == nil {
		t.Fatal("publishing an undefined field succeeded")
	}
	if _, err := sfsim.New(sfsim.PlatformEvent("Order", orderFields...)); err == nil {
		t.Fatal("New accepted a platform event without __e")
	}
}

// TestControl_AddFieldChangesSchema adds a field between two changes: the
// later event carries a new schema id, and both schemas are served.
func TestControl_AddFieldChangesSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/data/AccountChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)
	id, err := e.sim.Create("Account", map[string]any{"Name": "Before"})
	if err != nil {
		t.Fatal(err)
	}
	before := sub.next()
	if err := e.sim.AddField("Account", salesforce.Field{Name: "Loyalty__c", Label: "Loyalty", Type: "string", Length: 20,
		Nillable: true, Createable: true, Updateable: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.AddField("Account", salesforce.Field{Name: "Loyalty__c", Label: "Loyalty", Type: "string"}); err == nil {
		t.Fatal("adding a field twice succeeded")
	}
	if err := e.sim.Update("Account", id, map[string]any{"Loyalty__c": "Gold"}); err != nil {
		t.Fatal(err)
	}
	after := sub.next()
	oldID, newID := before.GetEvent().GetSchemaId(), after.GetEvent().GetSchemaId()
	if oldID == newID {
		t.Fatalf("schema id %s did not change after AddField", oldID)
	}
	if _, ok := e.schema(oldID).Path("Loyalty__c"); ok {
		t.Fatal("the old schema has the new field")
	}
	if _, ok := e.schema(newID).Path("Loyalty__c"); !ok {
		t.Fatal("the new schema lacks the new field")
	}
	if ev := e.change(after); ev.Fields["Loyalty__c"] != "Gold" {
		t.Fatalf("event fields = %v", ev.Fields)
	}
	// GetTopic names the new schema; both stay retrievable.
	info, err := e.ps.GetTopic(e.callCtx(e.token), &pubsubpb.TopicRequest{TopicName: "/data/AccountChangeEvent"})
	if err != nil || info.GetSchemaId() != newID {
		t.Fatalf("GetTopic = %v, %v; want schema %s", info, err, newID)
	}
	for _, sid := range []string{oldID, newID} {
		if _, err := e.ps.GetSchema(e.callCtx(e.token), &pubsubpb.SchemaRequest{SchemaId: sid}); err != nil {
			t.Fatalf("GetSchema(%s): %v", sid, err)
		}
	}
	if d, ok := e.sim.Describe("Account"); !ok || !slices.ContainsFunc(d.Fields, func(f salesforce.Field) bool { return f.Name == "Loyalty__c" }) {
		t.Fatal("Describe lacks the new field")
	}
}

// TestGenerate produces traffic at 200/s for about a second and counts the
// change events on the bus; it stops when its context is cancelled.
func TestGenerate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if err := e.sim.Generate(context.Background(), bad); err == nil {
			t.Fatalf("Generate accepted the rate %v", bad)
		}
	}
	// A rate too high for a ticker interval runs flat out instead of
	// panicking.
	fast, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if err := e.sim.Generate(fast, 2e9); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Generate(2e9/s) = %v", err)
	}
	stop()
	base := e.sim.LatestReplayID()
	sub := e.subscribe(e.token, "/data/AccountChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := e.sim.Generate(ctx, 200); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Generate = %v, want the context's error", err)
	}
	latest := e.sim.LatestReplayID()
	time.Sleep(100 * time.Millisecond)
	if e.sim.LatestReplayID() != latest {
		t.Fatal("events were produced after Generate returned")
	}

	types := map[cdc.ChangeType]int{}
	for range base {
		sub.next() // the flat-out run's
	}
	var n int
	for n < int(latest-base) {
		ce := sub.next()
		ev := e.change(ce)
		if ev.Header.ChangeOrigin != "" {
			t.Fatalf("generated change has origin %q", ev.Header.ChangeOrigin)
		}
		types[ev.Header.ChangeType]++
		n++
	}
	if n < 50 || types[cdc.ChangeTypeCreate] == 0 || types[cdc.ChangeTypeUpdate] == 0 || len(types) < 2 {
		t.Fatalf("%d events, by type %v; want at least 50 with creates and updates", n, types)
	}
	t.Logf("generated %d events: %v", n, types)
}

// TestLoadFile starts a Sim from a configuration file with a custom object
// and a platform event: the object is writable over REST, its changes
// arrive on its change channel, the event on Pub/Sub; unknown keys fail.
func TestLoadFile(t *testing.T) {
	t.Parallel()
	opts, err := sfsim.LoadFile("testdata/sim.json")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, opts...)

	d, ok := e.sim.Describe("Invoice__c")
	if !ok || d.KeyPrefix != "a01" {
		t.Fatalf("Describe(Invoice__c) = %+v, %v", d, ok)
	}
	sub := e.subscribe(e.token, "/data/Invoice__ChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)
	id := e.restCreate("Invoice__c", map[string]any{"Name": "INV-1", "Total__c": 99.5, "External_Id__c": "ext-1"},
		"Sforce-Call-Options", "client=webapp")
	if !strings.HasPrefix(id, "a01") {
		t.Fatalf("Invoice__c id %s lacks the key prefix a01", id)
	}
	// Upsert by the external id updates the same record.
	resp, body := e.rest(e.token, http.MethodPatch, "/sobjects/Invoice__c/External_Id__c/ext-1", map[string]any{"Total__c": 120})
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upsert: %d %s", resp.StatusCode, body)
	}
	ev := e.change(sub.next())
	if ev.Header.EntityName != "Invoice__c" || ev.Header.ChangeType != cdc.ChangeTypeCreate || ev.Fields["Total__c"] != 99.5 ||
		ev.Header.ChangeOrigin != "com/salesforce/api/rest/62.0;client=webapp" {
		t.Fatalf("create event = %+v", ev)
	}
	if ev := e.change(sub.next()); ev.Header.ChangeType != cdc.ChangeTypeUpdate || !slices.Equal(ev.Header.RecordIDs, []string{id}) || ev.Fields["Total__c"] != 120.0 {
		t.Fatalf("update event = %+v", ev)
	}
	if status, rec := e.restGet("Invoice__c", id); status != http.StatusOK || rec["Total__c"] != 120.0 {
		t.Fatalf("REST get = %d %v", status, rec)
	}

	// The custom channel carries the object's changes.
	chn := e.subscribe(e.token, "/data/Billing__chn", pubsubpb.ReplayPreset_EARLIEST, nil)
	if ev := e.change(chn.next()); ev.Header.EntityName != "Invoice__c" || ev.Header.ChangeType != cdc.ChangeTypeCreate {
		t.Fatalf("custom channel event = %+v", ev.Header)
	}

	psub := e.subscribe(e.token, "/event/Shipment__e", pubsubpb.ReplayPreset_EARLIEST, nil)
	if _, err := e.sim.PublishPlatformEvent("Shipment__e", map[string]any{"Carrier__c": "DHL", "Weight__c": 2.5}); err != nil {
		t.Fatal(err)
	}
	if f := e.platform(psub.next()); f["Carrier__c"] != "DHL" || f["Weight__c"] != 2.5 {
		t.Fatalf("Shipment__e = %v", f)
	}

	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"unknown key", `{"objects":[],"platformEvent":{"Typo__e":[]}}`, `unknown field "platformEvent"`},
		{"unknown nested key", `{"objects":[{"name":"X__c","keyPrefix":"a02","feilds":[]}]}`, `unknown field "feilds"`},
		{"malformed", `{"objects":`, "unexpected EOF"},
		{"two documents", `{} {}`, "invalid"},
		{"short key prefix", `{"objects":[{"name":"X__c","keyPrefix":"a2"}]}`, "key prefix must be 3 characters"},
		{"taken key prefix", `{"objects":[{"name":"X__c","keyPrefix":"001"}]}`, "key prefix 001 is taken"},
		{"standard object again", `{"objects":[{"name":"Account","keyPrefix":"a03"}]}`, "object Account already exists"},
		{"event without __e", `{"platformEvents":{"Order":[]}}`, `platform event "Order": name must end in __e`},
		{"bad channel", `{"customChannels":{"/data/Billing":["Account"]}}`, "must look like /data/Name__chn"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sfsim.LoadFile(path); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: LoadFile = %v, want an error naming the file and containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := sfsim.LoadFile("testdata/unknown_key.json"); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("LoadFile(testdata/unknown_key.json) = %v", err)
	}
	if _, err := sfsim.LoadFile(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file = %v", err)
	}
}
