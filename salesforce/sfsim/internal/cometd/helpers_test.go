package cometd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/simclock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test identity.
const (
	testOrgID  = "00D8a0000000001AAA"
	testUserID = "0058a0000000001AAA"
	orderEvent = "Order__e"
	orderChan  = "/event/Order__e"
	topicName  = "AccountTopic"
	topicChan  = "/topic/AccountTopic"
	acctChan   = "/data/AccountChangeEvent"
)

// env is a simulated org with the Streaming API on an httptest server.
type env struct {
	t     testing.TB
	clock *simclock.Clock
	org   *org.Org
	bus   *bus.Bus
	auth  *auth.Provider
	h     *Handler
	srv   *httptest.Server
	token string
	// url is the Bayeux endpoint, /cometd/62.0.
	url string
}

// newEnv starts an env; opts adjust the Handler's Config. The long-poll
// timeout defaults to 2 s, so that held connects are observable but tests
// never wait long.
func newEnv(t testing.TB, opts ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &simclock.Clock{}}
	var err error
	e.org, err = org.New(org.Config{OrgID: testOrgID, UserID: testUserID, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.bus = bus.New(bus.Config{Now: e.clock.Now}, e.org.Objects)
	e.org.OnCommit(e.bus.OnCommit)
	e.bus.AddPlatformEvent(orderEvent)
	e.bus.AddPushTopic(topicName)
	e.auth, err = auth.New(auth.Config{
		OrgID: testOrgID, UserID: testUserID, Username: "user@sim.test", Password: "pw",
		ClientID: "cid", ClientSecret: "secret", Clock: e.clock.Now,
		InstanceURL: func() string { return e.srv.URL },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.token, _ = e.auth.IssueToken()
	cfg := Config{Bus: e.bus, Auth: e.auth, Now: e.clock.Now, LongPollTimeout: 2 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	e.h, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/cometd/", e.h)
	e.srv = httptest.NewServer(mux)
	e.url = e.srv.URL + "/cometd/62.0"
	t.Cleanup(func() {
		e.h.Close()
		e.srv.Close()
	})
	return e
}

// publishOrder publishes a platform event as the simulator does: the
// payload with CreatedDate in the REST format, CreatedById and EventUuid.
func (e *env) publishOrder(n int) int64 {
	uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	ev := &bus.Event{Kind: bus.KindPlatform, Channel: orderChan, EventUUID: uuid, Fields: map[string]any{
		"Number__c": strconv.Itoa(n), "Amount__c": float64(n) * 1.5,
		"CreatedDate": org.FormatDateTime(e.clock.Now()), "CreatedById": testUserID, "EventUuid": uuid,
	}}
	return e.bus.Publish(ev)[0]
}

// createAccount creates an Account in its own transaction.
func (e *env) createAccount(fields map[string]any) string {
	e.t.Helper()
	tx := e.org.Begin(org.Origin{API: "rest", Version: "62.0", Client: "sfconnect"})
	id, err := tx.Create("Account", fields)
	if err != nil {
		tx.Rollback()
		e.t.Fatalf("create account: %v", err)
	}
	tx.Commit()
	return id
}

// updateAccount updates an Account in its own transaction.
func (e *env) updateAccount(id string, fields map[string]any) {
	e.t.Helper()
	tx := e.org.Begin(org.Origin{API: "rest", Version: "62.0"})
	if err := tx.Update("Account", id, fields); err != nil {
		tx.Rollback()
		e.t.Fatalf("update account: %v", err)
	}
	tx.Commit()
}

// client is a minimal Bayeux long-polling client, shaped like faye and
// cometd on the wire: JSON arrays POSTed to one URL, a cookie jar, and the
// Authorization header on every request.
type client struct {
	t      testing.TB
	url    string
	authz  string // Authorization header value; "" for none
	hc     *http.Client
	id     string // clientId after a successful handshake
	mu     sync.Mutex
	nextID int
}

func (e *env) newClient() *client {
	return e.newClientAuth("OAuth " + e.token)
}

func (e *env) newClientAuth(authz string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{t: e.t, url: e.url, authz: authz, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// msg is a Bayeux message as decoded by the client (numbers as
// json.Number).
type msg = map[string]any

// nextMsgID returns the next message id, as faye numbers them.
func (c *client) nextMsgID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return strconv.Itoa(c.nextID)
}

// do POSTs body and returns the HTTP status and the raw response.
func (c *client) do(ctx context.Context, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.authz != "" {
		req.Header.Set("Authorization", c.authz)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", c.url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return resp, buf.Bytes()
}

// send POSTs messages as one batch and returns the reply array. It fails
// the test unless the answer is HTTP 200 with a JSON array.
func (c *client) send(msgs ...msg) []msg {
	c.t.Helper()
	body, err := json.Marshal(msgs)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, raw := c.do(context.Background(), body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("HTTP %d: %s", resp.StatusCode, raw)
	}
	return decodeArray(c.t, raw)
}

func decodeArray(t testing.TB, raw []byte) []msg {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []msg
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("reply is not a JSON array: %v: %s", err, raw)
	}
	return out
}

// handshakeMsg is faye's handshake message.
func (c *client) handshakeMsg() msg {
	return msg{"channel": chHandshake, "version": "1.0", "id": c.nextMsgID(),
		"supportedConnectionTypes": []string{"in-process", "websocket", "long-polling"}}
}

// handshake handshakes and remembers the clientId; it returns the reply.
func (c *client) handshake() msg {
	c.t.Helper()
	replies := c.send(c.handshakeMsg())
	if len(replies) != 1 {
		c.t.Fatalf("handshake: %d replies: %v", len(replies), replies)
	}
	r := replies[0]
	if r["successful"] == true {
		c.id, _ = r["clientId"].(string)
	}
	return r
}

func (c *client) connectMsg() msg {
	return msg{"channel": chConnect, "clientId": c.id, "connectionType": "long-polling", "id": c.nextMsgID()}
}

func (c *client) subscribeMsg(channel string, replay any) msg {
	m := msg{"channel": chSubscribe, "clientId": c.id, "subscription": channel, "id": c.nextMsgID()}
	if replay != nil {
		m["ext"] = msg{"replay": msg{channel: replay}}
	}
	return m
}

// connect sends one /meta/connect and splits the answer into events and the
// connect reply.
func (c *client) connect() ([]msg, msg) {
	c.t.Helper()
	return splitConnect(c.t, c.send(c.connectMsg()))
}

// splitConnect separates the events from the last message, the connect
// reply.
func splitConnect(t testing.TB, replies []msg) ([]msg, msg) {
	t.Helper()
	if len(replies) == 0 {
		t.Fatal("empty connect response")
	}
	last := replies[len(replies)-1]
	if last["channel"] != chConnect {
		t.Fatalf("connect response does not end with the connect reply: %v", replies)
	}
	return replies[:len(replies)-1], last
}

// poll sends a connect asking not to be held (advice.timeout 0, as cometd
// does after a handshake) and returns the events it brings.
func (c *client) poll() []msg {
	c.t.Helper()
	m := c.connectMsg()
	m["advice"] = msg{"timeout": 0}
	evs, r := splitConnect(c.t, c.send(m))
	if r["successful"] != true {
		c.t.Fatalf("connect: %v", r)
	}
	return evs
}

// subscribe subscribes to channel with a replay value (nil: no ext) and
// returns the reply.
func (c *client) subscribe(channel string, replay any) msg {
	c.t.Helper()
	replies := c.send(c.subscribeMsg(channel, replay))
	if len(replies) != 1 {
		c.t.Fatalf("subscribe: %d replies: %v", len(replies), replies)
	}
	return replies[0]
}

// mustSubscribe subscribes and fails the test unless it succeeds.
func (c *client) mustSubscribe(channel string, replay any) {
	c.t.Helper()
	if r := c.subscribe(channel, replay); r["successful"] != true {
		c.t.Fatalf("subscribe %s %v: %v", channel, replay, r)
	}
}

// start handshakes, makes the first (immediate) connect, and fails the test
// unless both succeed.
func (c *client) start() {
	c.t.Helper()
	if r := c.handshake(); r["successful"] != true {
		c.t.Fatalf("handshake: %v", r)
	}
	if _, r := c.connect(); r["successful"] != true {
		c.t.Fatalf("first connect: %v", r)
	}
}

// collect connects until n events have arrived, failing after a few
// seconds or on an unsuccessful connect.
func (c *client) collect(n int) []msg {
	c.t.Helper()
	var got []msg
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("got %d events, want %d: %v", len(got), n, got)
		}
		evs, r := c.connect()
		if r["successful"] != true {
			c.t.Fatalf("connect: %v", r)
		}
		got = append(got, evs...)
	}
	if len(got) != n {
		c.t.Fatalf("got %d events, want %d", len(got), n)
	}
	return got
}

// replayIDs returns data.event.replayId of each event.
func replayIDs(t testing.TB, evs []msg) []int64 {
	t.Helper()
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = replayIDOf(t, ev)
	}
	return out
}

func replayIDOf(t testing.TB, ev msg) int64 {
	t.Helper()
	n, ok := path(ev, "data", "event", "replayId").(json.Number)
	if !ok {
		t.Fatalf("event without a numeric data.event.replayId: %v", ev)
	}
	id, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// path walks nested objects.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// num converts a json.Number to int64 for comparisons, or -999.
func num(v any) int64 {
	n, ok := v.(json.Number)
	if !ok {
		return -999
	}
	i, err := n.Int64()
	if err != nil {
		return -999
	}
	return i
}
