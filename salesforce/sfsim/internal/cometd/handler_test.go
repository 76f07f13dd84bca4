package cometd

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

func TestNew_MissingRequired(t *testing.T) {
	t.Parallel()
	_, err := New(Config{LongPollTimeout: -1})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	for _, key := range []string{"bus", "auth", "long_poll_timeout"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}

func TestHandler_Handshake_ReplyAndCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	body := `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"id":"1"}]`
	resp, raw := c.do(context.Background(), []byte(body))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "BAYEUX_BROWSER" {
			cookie = ck
		}
	}
	if cookie == nil || cookie.Value == "" || cookie.Path != "/" {
		t.Fatalf("no BAYEUX_BROWSER cookie with Path=/: %v", resp.Cookies())
	}
	r := decodeArray(t, raw)[0]
	if r["successful"] != true || r["channel"] != "/meta/handshake" || r["id"] != "1" || r["version"] != "1.0" || r["minimumVersion"] != "1.0" {
		t.Fatalf("handshake reply %v", r)
	}
	if id, _ := r["clientId"].(string); !regexp.MustCompile(`^[a-z0-9]{20,40}$`).MatchString(id) {
		t.Fatalf("clientId %q", r["clientId"])
	}
	if types, _ := r["supportedConnectionTypes"].([]any); len(types) != 1 || types[0] != "long-polling" {
		t.Fatalf("supportedConnectionTypes %v", r["supportedConnectionTypes"])
	}
	if path(r, "ext", "replay") != true || path(r, "ext", "payload.format") != true {
		t.Fatalf("ext %v", r["ext"])
	}

	// A second handshake of the same browser keeps its cookie.
	resp, _ = c.do(context.Background(), []byte(body))
	for _, ck := range resp.Cookies() {
		if ck.Name == "BAYEUX_BROWSER" {
			t.Fatalf("cookie set again: %v", ck)
		}
	}
}

func TestHandler_Connect_FirstImmediateThenHeldUntilEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.LongPollTimeout = 20 * time.Second })
	c := e.newClient()
	if r := c.handshake(); r["successful"] != true {
		t.Fatal(r)
	}
	start := time.Now()
	evs, r := c.connect()
	if time.Since(start) > 5*time.Second || len(evs) != 0 || r["successful"] != true || r["clientId"] != c.id {
		t.Fatalf("first connect: %v events, reply %v after %v", len(evs), r, time.Since(start))
	}
	if path(r, "advice", "reconnect") != "retry" || num(path(r, "advice", "interval")) != 0 || num(path(r, "advice", "timeout")) != 20000 {
		t.Fatalf("connect advice %v", r["advice"])
	}
	c.mustSubscribe(orderChan, -1)

	go func() {
		time.Sleep(200 * time.Millisecond)
		e.publishOrder(1)
	}()
	start = time.Now()
	evs, r = c.connect()
	if len(evs) != 1 || r["successful"] != true {
		t.Fatalf("held connect: events %v reply %v", evs, r)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 10*time.Second {
		t.Fatalf("held connect returned after %v", d)
	}
}

func TestHandler_Connect_HeldUntilTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.LongPollTimeout = 300 * time.Millisecond })
	c := e.newClient()
	c.start()
	c.mustSubscribe(orderChan, -1)
	start := time.Now()
	evs, r := c.connect()
	if d := time.Since(start); d < 250*time.Millisecond || len(evs) != 0 || r["successful"] != true {
		t.Fatalf("after %v: %v %v", d, evs, r)
	}
	if num(path(r, "advice", "timeout")) != 300 {
		t.Fatalf("advice %v", r["advice"])
	}
}

func TestHandler_PlatformEvent_Shape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	c.mustSubscribe(orderChan, -1)
	id := e.publishOrder(7)
	ev := c.collect(1)[0]
	if ev["channel"] != orderChan {
		t.Fatalf("channel %v", ev["channel"])
	}
	if schema, _ := path(ev, "data", "schema").(string); len(schema) != 22 {
		t.Fatalf("schema %q", schema)
	}
	payload, _ := path(ev, "data", "payload").(map[string]any)
	if payload["Number__c"] != "7" || payload["CreatedById"] != testUserID || payload["Amount__c"] == nil {
		t.Fatalf("payload %v", payload)
	}
	if s, _ := payload["CreatedDate"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(s) {
		t.Fatalf("CreatedDate %q is not ISO UTC", s)
	}
	if _, ok := payload["EventUuid"]; ok {
		t.Fatalf("EventUuid in the payload: %v", payload)
	}
	if replayIDOf(t, ev) != id || path(ev, "data", "event", "EventUuid") != "00000000-0000-4000-8000-000000000007" {
		t.Fatalf("event %v", path(ev, "data", "event"))
	}
}

func TestHandler_PushTopic_Shape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	c.mustSubscribe(topicChan, -1)
	sobject := map[string]any{"Id": "001000000000001AAA", "Name": "Acme", "LastModifiedDate": "2026-01-02T03:04:05.000+0000"}
	id := e.bus.Publish(&bus.Event{Kind: bus.KindPushTopic, Channel: topicChan, PushType: "updated", Fields: sobject})[0]
	ev := c.collect(1)[0]
	if ev["channel"] != topicChan || path(ev, "data", "event", "type") != "updated" || replayIDOf(t, ev) != id {
		t.Fatalf("event %v", ev)
	}
	if s, _ := path(ev, "data", "event", "createdDate").(string); !strings.HasSuffix(s, "Z") {
		t.Fatalf("createdDate %q", s)
	}
	if path(ev, "data", "sobject", "Id") != "001000000000001AAA" || path(ev, "data", "sobject", "Name") != "Acme" ||
		path(ev, "data", "sobject", "LastModifiedDate") != "2026-01-02T03:04:05.000+0000" {
		t.Fatalf("sobject %v", path(ev, "data", "sobject"))
	}
	if path(ev, "data", "payload") != nil || path(ev, "data", "schema") != nil {
		t.Fatalf("PushTopic event with payload or schema: %v", ev)
	}
}

func TestHandler_Subscribe_Replay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		replay any // nil: no replay ext; "null": a JSON null value
		want   []int64
	}{
		{name: "all retained", replay: -2, want: []int64{1, 2, 3}},
		{name: "all retained as string", replay: "-2", want: []int64{1, 2, 3}},
		{name: "only new", replay: -1},
		{name: "only new as string", replay: "-1"},
		{name: "no replay ext", replay: nil},
		{name: "null replay value", replay: "null"},
		{name: "after stored id", replay: 1, want: []int64{2, 3}},
		{name: "after stored id as string", replay: "2", want: []int64{3}},
		{name: "after the newest", replay: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for i := range 3 {
				e.publishOrder(i)
			}
			c := e.newClient()
			c.start()
			sub := c.subscribeMsg(orderChan, tt.replay)
			if tt.replay == "null" {
				sub["ext"] = msg{"replay": msg{orderChan: nil}}
			}
			if r := c.send(sub)[0]; r["successful"] != true || r["subscription"] != orderChan {
				t.Fatalf("subscribe %v", r)
			}
			got := replayIDs(t, c.poll())
			if !slices.Equal(got, tt.want) {
				t.Fatalf("retained events %v, want %v", got, tt.want)
			}
			// Then exactly the new events.
			n := e.publishOrder(10)
			if got := replayIDs(t, c.collect(1)); !slices.Equal(got, []int64{n}) {
				t.Fatalf("new events %v, want [%d]", got, n)
			}
		})
	}
}

func TestHandler_Subscribe_LongBacklogInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var want []int64
	for i := range 250 {
		want = append(want, e.publishOrder(i))
	}
	c := e.newClient()
	c.start()
	c.mustSubscribe(orderChan, -2)
	var got []int64
	for len(got) < len(want) {
		evs, r := c.connect()
		if r["successful"] != true || len(evs) == 0 || len(evs) > maxEventsPerReply {
			t.Fatalf("connect gave %d events: %v", len(evs), r)
		}
		got = append(got, replayIDs(t, evs)...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("backlog out of order or incomplete: %d events", len(got))
	}
}

func TestHandler_Subscribe_SeveralChannelsInReplayOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var want []int64
	for i := range 3 {
		want = append(want, e.publishOrder(i))
		e.createAccount(map[string]any{"Name": "A"})
		want = append(want, e.bus.Latest())
	}
	c := e.newClient()
	c.start()
	// One subscribe message naming both channels, as an array.
	sub := msg{"channel": chSubscribe, "clientId": c.id, "id": "s", "subscription": []string{orderChan, acctChan},
		"ext": msg{"replay": msg{orderChan: -2, acctChan: -2}}}
	r := c.send(sub)[0]
	if subs, _ := r["subscription"].([]any); r["successful"] != true || len(subs) != 2 {
		t.Fatalf("subscribe %v", r)
	}
	evs := c.collect(6)
	if got := replayIDs(t, evs); !slices.Equal(got, want) {
		t.Fatalf("replay order %v, want %v", got, want)
	}
	for i, ev := range evs {
		wantCh := orderChan
		if i%2 == 1 {
			wantCh = acctChan
		}
		if ev["channel"] != wantCh {
			t.Fatalf("event %d on %v, want %s", i, ev["channel"], wantCh)
		}
	}
}

func TestHandler_Reconnect_ResumesFromStoredReplayID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	c.mustSubscribe(orderChan, -1)
	e.publishOrder(1)
	e.publishOrder(2)
	stored := replayIDOf(t, c.collect(2)[1])

	// The client goes away without a word; events keep coming.
	missed := []int64{e.publishOrder(3), e.publishOrder(4)}
	e.clock.Advance(DefaultReconnectWindow + time.Second)
	if _, r := c.connect(); r["error"] != "403::Unknown client" {
		t.Fatalf("stale session: %v", r)
	}

	// As faye does on advice handshake: handshake, resubscribe with the
	// replay id it tracked.
	c.start()
	c.mustSubscribe(orderChan, stored)
	if got := replayIDs(t, c.collect(2)); !slices.Equal(got, missed) {
		t.Fatalf("after reconnect %v, want %v", got, missed)
	}
}

func TestHandler_Subscribe_InvalidReplayID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.publishOrder(1)
	e.clock.Advance(bus.DefaultRetention + time.Hour)
	e.token, _ = e.auth.IssueToken() // the first one expired with the clock
	latest := e.publishOrder(2)
	tests := []struct {
		name   string
		replay any
		text   string
	}{
		{name: "purged", replay: old - 1, text: "0"},
		{name: "future", replay: latest + 100, text: "102"},
		{name: "not a number", replay: "abc", text: "abc"},
		{name: "other negative", replay: -3, text: "-3"},
		{name: "fraction", replay: 1.5, text: "1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClient()
			c.t = t
			c.start()
			r := c.subscribe(orderChan, tt.replay)
			want := "400::The replayId {" + tt.text + "} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."
			if r["successful"] != false || r["error"] != want || r["subscription"] != orderChan || r["channel"] != "/meta/subscribe" || r["clientId"] != c.id {
				t.Fatalf("reply %v\nwant error %q", r, want)
			}
		})
	}
}

func TestHandler_Subscribe_ChannelErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	for ch, want := range map[string]string{
		"/event/Nope__e":        "400::The channel you requested to subscribe to doesn't exist {/event/Nope__e}",
		"/data/NopeChangeEvent": "400::The channel you requested to subscribe to doesn't exist {/data/NopeChangeEvent}",
		"/meta/connect":         "400::The channel you requested to subscribe to doesn't exist {/meta/connect}",
		"event/Order__e":        "400::Channel subscriptions must start with a leading '/'",
	} {
		if r := c.subscribe(ch, -1); r["successful"] != false || r["error"] != want {
			t.Errorf("subscribe %s: %v, want %q", ch, r, want)
		}
	}
	if r := c.send(msg{"channel": chSubscribe, "clientId": c.id, "id": "n"})[0]; r["error"] != "400::Channel name not specified" {
		t.Errorf("subscribe without a subscription: %v", r)
	}
	if r := c.send(msg{"channel": chSubscribe, "subscription": orderChan})[0]; r["error"] != "403::Client has not completed handshake" ||
		path(r, "advice", "reconnect") != "handshake" {
		t.Errorf("subscribe without a clientId: %v", r)
	}
	// All or nothing: a bad channel in an array subscribes none.
	r := c.send(msg{"channel": chSubscribe, "clientId": c.id, "subscription": []string{orderChan, "/event/Nope__e"}})[0]
	if r["successful"] != false {
		t.Fatalf("mixed subscribe %v", r)
	}
	e.publishOrder(1)
	if evs := c.poll(); len(evs) != 0 {
		t.Fatalf("events from a failed subscribe: %v", evs)
	}
}

func TestHandler_Session_ExpiresWithoutConnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	c.mustSubscribe(orderChan, -1)
	e.clock.Advance(39 * time.Second)
	if _, r := c.connect(); r["successful"] != true {
		t.Fatalf("connect within the window: %v", r)
	}
	e.clock.Advance(41 * time.Second)
	for _, m := range []msg{c.connectMsg(), c.subscribeMsg(orderChan, -1)} {
		r := c.send(m)[0]
		if r["successful"] != false || r["error"] != "403::Unknown client" ||
			path(r, "advice", "reconnect") != "handshake" || num(path(r, "advice", "interval")) != 0 {
			t.Fatalf("%v after the window: %v", m["channel"], r)
		}
	}
	if e.h.Sessions() != 0 {
		t.Fatalf("%d sessions left", e.h.Sessions())
	}
	// A new handshake works.
	c.start()
	c.mustSubscribe(orderChan, -1)
}

func TestHandler_Session_HeldConnectKeepsSessionAlive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.LongPollTimeout = 500 * time.Millisecond })
	c := e.newClient()
	c.start()
	done := make(chan msg, 1)
	go func() {
		_, r := splitConnect(t, c.send(c.connectMsg()))
		done <- r
	}()
	time.Sleep(100 * time.Millisecond)
	e.clock.Advance(time.Minute) // while the connect is held
	if r := <-done; r["successful"] != true {
		t.Fatalf("held connect: %v", r)
	}
	if _, r := c.connect(); r["successful"] != true {
		t.Fatalf("connect right after a held one: %v", r)
	}
}

func TestHandler_WebSocketUpgrade_Refused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.url, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Authorization", "OAuth "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode < 400 {
		t.Fatalf("websocket upgrade answered %d", resp.StatusCode)
	}
	resp, err = http.Get(e.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d", resp.StatusCode)
	}
}

func TestHandler_Batch_FayeStyle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.LongPollTimeout = 20 * time.Second })
	e.publishOrder(1)
	c := e.newClient()
	if r := c.handshake(); r["successful"] != true {
		t.Fatal(r)
	}
	// faye sends the first connect and the subscribe in one POST.
	start := time.Now()
	replies := c.send(c.connectMsg(), c.subscribeMsg(orderChan, -2))
	if time.Since(start) > 5*time.Second {
		t.Fatal("a batched connect was held")
	}
	if len(replies) != 3 {
		t.Fatalf("want subscribe reply, event, connect reply: %v", replies)
	}
	if replies[0]["channel"] != chSubscribe || replies[0]["successful"] != true ||
		replies[1]["channel"] != orderChan || replies[2]["channel"] != chConnect || replies[2]["successful"] != true {
		t.Fatalf("batch replies in the wrong order: %v", replies)
	}
	// A later connect batched with another subscribe is not held either.
	replies = c.send(c.connectMsg(), c.subscribeMsg(topicChan, -1))
	if len(replies) != 2 || replies[0]["successful"] != true || replies[1]["successful"] != true {
		t.Fatalf("%v", replies)
	}
	// Unsubscribe and disconnect together, with their ids echoed.
	un := msg{"channel": chUnsubscribe, "clientId": c.id, "subscription": orderChan, "id": "u1"}
	dis := msg{"channel": chDisconnect, "clientId": c.id, "id": "d1"}
	replies = c.send(un, dis)
	if len(replies) != 2 || replies[0]["id"] != "u1" || replies[0]["successful"] != true ||
		replies[1]["id"] != "d1" || replies[1]["successful"] != true {
		t.Fatalf("%v", replies)
	}
	if _, r := c.connect(); r["error"] != "403::Unknown client" {
		t.Fatalf("connect after disconnect: %v", r)
	}
}

func TestHandler_Batch_SingleObjectBodyAndNumericID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	resp, raw := c.do(context.Background(), []byte(`{"channel":"/meta/handshake","version":"1.0","id":7}`))
	r := decodeArray(t, raw)
	if resp.StatusCode != http.StatusOK || len(r) != 1 || r[0]["successful"] != true || num(r[0]["id"]) != 7 {
		t.Fatalf("HTTP %d %s", resp.StatusCode, raw)
	}
}

func TestHandler_Auth_HandshakeFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, authz, reason string
	}{
		{name: "no token", authz: "", reason: "401::Request requires authentication"},
		{name: "unknown token", authz: "OAuth 00D8a0000000001!bogus", reason: "401::Authentication invalid"},
		{name: "wrong scheme", authz: "Basic dXNlcjpwdw==", reason: "401::Request requires authentication"},
	}
	for _, tt := range tests {
		c := e.newClientAuth(tt.authz)
		r := c.handshake()
		if r["successful"] != false || r["error"] != "403::Handshake denied" || path(r, "advice", "reconnect") != "none" ||
			path(r, "ext", "sfdc", "failureReason") != tt.reason || r["clientId"] != nil {
			t.Errorf("%s: %v", tt.name, r)
		}
	}
	// An expired token is refused like an unknown one.
	token, _ := e.auth.IssueToken()
	e.auth.Expire(token)
	if r := e.newClientAuth("Bearer " + token).handshake(); path(r, "ext", "sfdc", "failureReason") != "401::Authentication invalid" {
		t.Fatalf("expired token: %v", r)
	}
	// Both schemes work.
	for _, scheme := range []string{"OAuth ", "Bearer "} {
		if r := e.newClientAuth(scheme + e.token).handshake(); r["successful"] != true {
			t.Fatalf("%s: %v", scheme, r)
		}
	}
}

func TestHandler_Auth_TokenExpiresOnLiveSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.auth.IssueToken()
	c := e.newClientAuth("Bearer " + token)
	c.start()
	c.mustSubscribe(orderChan, -1)
	e.auth.Expire(token)
	for _, m := range []msg{c.connectMsg(), c.subscribeMsg(orderChan, -1)} {
		r := c.send(m)[0]
		if r["successful"] != false || r["error"] != "401::Authentication invalid" ||
			path(r, "advice", "reconnect") != "none" || num(path(r, "advice", "interval")) != 0 || r["clientId"] != c.id {
			t.Fatalf("%v with an expired token: %v", m["channel"], r)
		}
	}
	// A fresh token on the same session works again.
	c.authz = "OAuth " + e.token
	if _, r := c.connect(); r["successful"] != true {
		t.Fatalf("connect with a fresh token: %v", r)
	}
}

func TestHandler_Cookie_Required(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	c.hc.Jar = nil // the client forgets its cookies
	r := c.subscribe(orderChan, -1)
	if want := "400::Client " + c.id + " has established a session, but no BAYEUX_BROWSER cookie present"; r["error"] != want {
		t.Fatalf("%v, want %q", r, want)
	}
}

func TestHandler_Version_Errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for p, want := range map[string]string{
		"/cometd/36.0":           "400::Unsupported API version. Only API versions '37.0' and later are supported. URI format: '/cometd/66.0'",
		"/cometd/replay/36.0":    "400::Unsupported API version. Only API versions '37.0' and later are supported. URI format: '/cometd/66.0'",
		"/cometd/":               "400::API version in the URI is mandatory. URI format: '/cometd/66.0'",
		"/cometd/handshake":      "400::API version in the URI is mandatory. URI format: '/cometd/66.0'",
		"/cometd/62.0/handshake": "",
		"/cometd/37.0":           "",
	} {
		c := e.newClient()
		c.url = e.srv.URL + p
		r := c.handshake()
		if want == "" {
			if r["successful"] != true {
				t.Errorf("%s: %v", p, r)
			}
			continue
		}
		if r["error"] != "403::Handshake denied" || path(r, "ext", "sfdc", "failureReason") != want || path(r, "advice", "reconnect") != "none" {
			t.Errorf("%s: %v", p, r)
		}
	}
}

func TestHandler_RequestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	// Over 32 KiB: every message fails with 413, HTTP still 200.
	big := msg{"channel": chSubscribe, "clientId": c.id, "id": "big", "subscription": orderChan, "ext": msg{"pad": strings.Repeat("x", 33000)}}
	if r := c.send(big)[0]; r["error"] != "413::Maximum Request Size Exceeded" || r["id"] != "big" {
		t.Fatalf("oversized: %v", r)
	}
	resp, _ := c.do(context.Background(), []byte(`[{"channel":`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed JSON: HTTP %d", resp.StatusCode)
	}
	replies := c.send(msg{"id": "x"}, msg{"channel": "/meta/nope", "clientId": c.id}, msg{"channel": orderChan, "clientId": c.id, "data": msg{}})
	if replies[0]["error"] != "400::Missing channel" || replies[1]["error"] != "400::Unknown meta channel" || replies[2]["error"] != "403::Publish denied" {
		t.Fatalf("%v", replies)
	}
	resp, raw := c.do(context.Background(), []byte(`[1, "two", null, {"channel": 5}]`))
	if resp.StatusCode != http.StatusOK || len(decodeArray(t, raw)) != 4 {
		t.Fatalf("HTTP %d %s", resp.StatusCode, raw)
	}
	if r := c.send(msg{"channel": chConnect, "clientId": c.id, "connectionType": "websocket"})[0]; r["error"] != "400::Invalid connection type {websocket}" {
		t.Fatalf("%v", r)
	}
}

func TestHandler_Fault_TransportFailure(t *testing.T) {
	t.Parallel()
	fired := make(chan struct{}, 1)
	fired <- struct{}{}
	e := newEnv(t, func(c *Config) {
		c.Fault = func(*http.Request) (int, []byte, bool) {
			select {
			case <-fired:
				return http.StatusServiceUnavailable, []byte(`[{"message":"busy","errorCode":"SERVER_UNAVAILABLE"}]`), true
			default:
				return 0, nil, false
			}
		}
	})
	c := e.newClient()
	resp, _ := c.do(context.Background(), []byte(`[{"channel":"/meta/handshake","version":"1.0"}]`))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	c.start() // the next request goes through
}

func TestHandler_HeldConnect_ReleasedBySupersedingConnectDisconnectDropAndClose(t *testing.T) {
	t.Parallel()
	release := map[string]func(e *env, c *client) (wantErr string){
		"newer connect": func(e *env, c *client) string {
			if _, r := splitConnect(t, c.send(c.connectMsg(), c.subscribeMsg(topicChan, -1))); r["successful"] != true {
				t.Errorf("superseding connect: %v", r)
			}
			return ""
		},
		"disconnect": func(e *env, c *client) string {
			c.send(msg{"channel": chDisconnect, "clientId": c.id})
			return ""
		},
		"drop sessions": func(e *env, c *client) string {
			if n := e.h.DropSessions(); n != 1 {
				t.Errorf("dropped %d sessions", n)
			}
			return "403::Unknown client"
		},
		"close": func(e *env, c *client) string {
			e.h.Close()
			return ""
		},
	}
	for name, fn := range release {
		e := newEnv(t, func(c *Config) { c.LongPollTimeout = time.Minute })
		c := e.newClient()
		c.start()
		c.mustSubscribe(orderChan, -1)
		done := make(chan msg, 1)
		go func() {
			_, r := splitConnect(t, c.send(c.connectMsg()))
			done <- r
		}()
		time.Sleep(150 * time.Millisecond)
		wantErr := fn(e, c)
		select {
		case r := <-done:
			if wantErr != "" && r["error"] != wantErr {
				t.Errorf("%s: released connect %v, want %s", name, r, wantErr)
			}
			if wantErr == "" && r["successful"] != true {
				t.Errorf("%s: released connect %v", name, r)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: held connect not released", name)
		}
	}
}
