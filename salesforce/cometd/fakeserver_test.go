package cometd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cometd"
)

// The fake server covers server behaviour sfsim does not produce: advice
// intervals, events next to failed replies, channel-less errors, throttling
// and malformed bodies.

// fakeRequest is one Bayeux message the fake received.
type fakeRequest struct {
	channel string
	msg     map[string]any
	auth    string
	cookie  bool
	at      time.Time
}

// fakeServer answers handshake and subscribe successfully, and everything
// else with handle.
type fakeServer struct {
	srv *httptest.Server
	// handle answers the n-th (1-based) message on channel; nil replies
	// mean the default. status 0 means 200.
	handle func(channel string, n int, msg map[string]any) (status int, body any)

	mu       sync.Mutex
	requests []fakeRequest
	counts   map[string]int
}

func newFakeServer(t *testing.T, handle func(channel string, n int, msg map[string]any) (int, any)) *fakeServer {
	t.Helper()
	f := &fakeServer{handle: handle, counts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	var msgs []map[string]any
	if err := json.NewDecoder(r.Body).Decode(&msgs); err != nil || len(msgs) != 1 {
		http.Error(w, "want one message", http.StatusBadRequest)
		return
	}
	msg := msgs[0]
	channel, _ := msg["channel"].(string)
	_, cookieErr := r.Cookie("BAYEUX_BROWSER")
	f.mu.Lock()
	f.counts[channel]++
	n := f.counts[channel]
	f.requests = append(f.requests, fakeRequest{channel: channel, msg: msg, auth: r.Header.Get("Authorization"), cookie: cookieErr == nil, at: time.Now()})
	f.mu.Unlock()

	status, body := 0, any(nil)
	if f.handle != nil {
		status, body = f.handle(channel, n, msg)
	}
	if body == nil {
		switch channel {
		case "/meta/handshake":
			http.SetCookie(w, &http.Cookie{Name: "BAYEUX_BROWSER", Value: "b", Path: "/"})
			body = []any{map[string]any{
				"channel": channel, "id": msg["id"], "successful": true, "clientId": fmt.Sprintf("client%d", n),
				"version": "1.0", "supportedConnectionTypes": []string{"long-polling"},
				"ext": map[string]any{"replay": true, "payload.format": true},
			}}
		default:
			body = []any{ok(msg)}
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	if wh, isWH := body.(withHeader); isWH {
		for k, v := range wh.header {
			w.Header()[k] = v
		}
		body = wh.body
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if s, isString := body.(string); isString {
		_, _ = w.Write([]byte(s))
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// withHeader is a response body sent with extra headers.
type withHeader struct {
	header http.Header
	body   any
}

// log returns the messages received on channel.
func (f *fakeServer) log(channel string) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if r.channel == channel {
			out = append(out, r)
		}
	}
	return out
}

// ok is a successful reply to msg.
func ok(msg map[string]any) map[string]any {
	return map[string]any{"channel": msg["channel"], "id": msg["id"], "clientId": msg["clientId"], "successful": true,
		"advice": map[string]any{"reconnect": "retry", "interval": 0, "timeout": 200}}
}

// event is a change event message on /data/AccountChangeEvent.
func event(replayID int64) map[string]any {
	return map[string]any{"channel": acctChannel, "data": map[string]any{
		"schema": "s", "payload": map[string]any{"Name": fmt.Sprint("A", replayID)}, "event": map[string]any{"replayId": replayID},
	}}
}

// fakeTokens hands out tok0, tok1, … advancing on Invalidate of the
// current one.
type fakeTokens struct {
	url         string
	mu          sync.Mutex
	n           int
	invalidated []string
}

func (p *fakeTokens) Session(context.Context) (salesforce.Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return salesforce.Session{AccessToken: fmt.Sprint("tok", p.n), InstanceURL: p.url}, nil
}

func (p *fakeTokens) Invalidate(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invalidated = append(p.invalidated, token)
	if token == fmt.Sprint("tok", p.n) {
		p.n++
	}
}

// fakeSubscribe subscribes to acctChannel on f.
func fakeSubscribe(t *testing.T, f *fakeServer, from int64) (*cometd.Subscription, *fakeTokens, error) {
	t.Helper()
	tokens := &fakeTokens{url: f.srv.URL}
	c := cometd.New(cometd.Config{Tokens: tokens, LongPollTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	sub, err := c.Subscribe(context.Background(), acctChannel, from)
	return sub, tokens, err
}

// replayOf returns the ext.replay value a subscribe message asked for.
func replayOf(r fakeRequest) any {
	ext, _ := r.msg["ext"].(map[string]any)
	replay, _ := ext["replay"].(map[string]any)
	return replay[acctChannel]
}

func recvCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestSubscription_Recv_WireFormat(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel == "/meta/connect" {
			return 0, []any{event(int64(n)), ok(msg)}
		}
		return 0, nil
	})
	sub, _, err := fakeSubscribe(t, f, -2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Recv(recvCtx(t)); err != nil {
		t.Fatal(err)
	}
	hs := f.log("/meta/handshake")[0]
	types, _ := hs.msg["supportedConnectionTypes"].([]any)
	ext, _ := hs.msg["ext"].(map[string]any)
	if hs.auth != "OAuth tok0" || hs.msg["version"] != "1.0" || len(types) != 1 || types[0] != "long-polling" || ext["replay"] != true {
		t.Errorf("handshake %v with Authorization %q: want OAuth token, version 1.0, long-polling, ext.replay true", hs.msg, hs.auth)
	}
	s := f.log("/meta/subscribe")[0]
	if s.msg["clientId"] != "client1" || s.msg["subscription"] != acctChannel || replayOf(s) != float64(-2) || !s.cookie {
		t.Errorf("subscribe %v (cookie %v): want clientId, subscription, ext.replay -2 and the cookie", s.msg, s.cookie)
	}
	cn := f.log("/meta/connect")[0]
	if cn.msg["connectionType"] != "long-polling" || cn.msg["clientId"] != "client1" || !cn.cookie || cn.auth != "OAuth tok0" {
		t.Errorf("connect %v: want long-polling with clientId, cookie and token", cn.msg)
	}
}

func TestSubscription_Recv_HonoursAdviceInterval(t *testing.T) {
	t.Parallel()
	const interval = 250 * time.Millisecond
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel != "/meta/connect" {
			return 0, nil
		}
		rep := ok(msg)
		rep["advice"] = map[string]any{"reconnect": "retry", "interval": interval.Milliseconds(), "timeout": 200}
		return 0, []any{event(int64(n)), rep}
	})
	sub, _, err := fakeSubscribe(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := sub.Recv(recvCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	connects := f.log("/meta/connect")
	for i := 1; i < len(connects); i++ {
		if gap := connects[i].at.Sub(connects[i-1].at); gap < interval {
			t.Errorf("connect %d came %v after the previous one, want at least advice.interval %v", i+1, gap, interval)
		}
	}
}

// TestSubscription_Recv_EventsBesideFailedConnect: events delivered alongside 403::Unknown
// client are returned, and the resubscribe resumes after the last of them.
func TestSubscription_Recv_EventsBesideFailedConnect(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel != "/meta/connect" {
			return 0, nil
		}
		if n == 1 {
			// Salesforce's channel-less error form (protocol reference §4.3).
			return 0, []any{event(41), event(42), map[string]any{"error": "403::Unknown client", "successful": false,
				"advice": map[string]any{"interval": 0, "reconnect": "handshake"}}}
		}
		return 0, []any{event(43), ok(msg)}
	})
	sub, _, err := fakeSubscribe(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Recv(recvCtx(t))
	if err != nil || len(msgs) != 2 || msgs[1].ReplayID != 42 {
		t.Fatalf("first Recv: %v %v, want events 41 and 42", msgs, err)
	}
	msgs, err = sub.Recv(recvCtx(t))
	if err != nil || len(msgs) != 1 || msgs[0].ReplayID != 43 {
		t.Fatalf("second Recv: %v %v, want event 43", msgs, err)
	}
	subs := f.log("/meta/subscribe")
	if len(subs) != 2 || replayOf(subs[1]) != float64(42) || subs[1].msg["clientId"] != "client2" {
		t.Errorf("resubscribe %v: want a new session subscribing after 42", subs)
	}
}

func TestSubscription_Recv_ReconnectHandshakeAdvice(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel != "/meta/connect" {
			return 0, nil
		}
		rep := ok(msg)
		if n == 1 {
			rep["advice"] = map[string]any{"reconnect": "handshake"}
		}
		return 0, []any{event(int64(10 + n)), rep}
	})
	sub, _, err := fakeSubscribe(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := sub.Recv(recvCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if subs := f.log("/meta/subscribe"); len(subs) != 2 || replayOf(subs[1]) != float64(11) {
		t.Errorf("subscribes %v: want a resubscribe after 11", subs)
	}
}

func TestSubscription_Recv_ThrottledCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel == "/meta/connect" && n == 1 {
			return http.StatusTooManyRequests, withHeader{http.Header{"Retry-After": {"7"}}, `{"error":"slow down"}`}
		}
		return 0, nil
	})
	sub, _, err := fakeSubscribe(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sub.Recv(recvCtx(t))
	if d, ok := connectorlib.RetryAfter(err); !ok || d != 7*time.Second || !connectorlib.IsRetryable(err) {
		t.Errorf("Recv on 429: %v (retry after %v, %v), want throttled for 7s", err, d, ok)
	}
}

func TestSubscribe_HandshakeFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		reply     map[string]any
		retryable bool
	}{
		{"server busy", map[string]any{"channel": "/meta/handshake", "successful": false, "error": "403::Handshake denied",
			"ext":    map[string]any{"sfdc": map[string]any{"failureReason": "503::Server is too busy.  Please try your request again later."}},
			"advice": map[string]any{"reconnect": "none"}}, true},
		{"concurrent limit", map[string]any{"channel": "/meta/handshake", "successful": false, "error": "403::Organization concurrent user limit exceeded"}, false},
		{"no replay extension", map[string]any{"channel": "/meta/handshake", "successful": true, "clientId": "c"}, false},
		{"no client id", map[string]any{"channel": "/meta/handshake", "successful": true, "ext": map[string]any{"replay": true}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
				if channel == "/meta/handshake" {
					return 0, []any{tt.reply}
				}
				return 0, nil
			})
			_, _, err := fakeSubscribe(t, f, -1)
			if err == nil || connectorlib.IsRetryable(err) != tt.retryable {
				t.Errorf("Subscribe: %v, want an error with retryable %v", err, tt.retryable)
			}
		})
	}
}

// TestSubscription_Recv_MalformedResponseResubscribes: an unreadable connect response is
// a retryable error, and the next Recv resubscribes from the last event.
func TestSubscription_Recv_MalformedResponseResubscribes(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel != "/meta/connect" {
			return 0, nil
		}
		switch n {
		case 1:
			return 0, []any{event(5), ok(msg)}
		case 2:
			return 0, `[{"channel":"/data/AccountChangeEvent","data":{"event":{"replayId":"x"}}}]`
		case 3:
			return 0, `<html>proxy error</html>`
		}
		return 0, []any{event(6), ok(msg)}
	})
	sub, _, err := fakeSubscribe(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Recv(recvCtx(t)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := sub.Recv(recvCtx(t))
		if !errors.Is(err, cometd.ErrMalformedResponse) || !connectorlib.IsRetryable(err) {
			t.Fatalf("Recv on a malformed response: %v, want retryable ErrMalformedResponse", err)
		}
	}
	msgs, err := sub.Recv(recvCtx(t))
	if err != nil || len(msgs) != 1 || msgs[0].ReplayID != 6 {
		t.Fatalf("Recv: %v %v, want event 6", msgs, err)
	}
	subs := f.log("/meta/subscribe")
	for _, s := range subs[1:] {
		if replayOf(s) != float64(5) {
			t.Errorf("resubscribe from %v, want 5", replayOf(s))
		}
	}
}

func TestSubscription_Recv_HTTP401InvalidatesAndRetries(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel == "/meta/connect" && n == 1 {
			return http.StatusUnauthorized, `[{"errorCode":"INVALID_SESSION_ID"}]`
		}
		if channel == "/meta/connect" {
			return 0, []any{event(9), ok(msg)}
		}
		return 0, nil
	})
	sub, tokens, err := fakeSubscribe(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Recv(recvCtx(t))
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Recv: %v %v", msgs, err)
	}
	if len(tokens.invalidated) != 1 || tokens.invalidated[0] != "tok0" {
		t.Errorf("invalidated %v, want [tok0]", tokens.invalidated)
	}
	if hs := f.log("/meta/handshake"); len(hs) != 2 || hs[1].auth != "OAuth tok1" {
		t.Errorf("handshakes %v: want a second one with tok1", hs)
	}
}

// TestSubscription_Recv_SessionKeepsEndingIsRetryable: a server that ends every new session at
// once yields a retryable error instead of a busy loop.
func TestSubscription_Recv_SessionKeepsEndingIsRetryable(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel == "/meta/connect" {
			return 0, []any{map[string]any{"channel": channel, "successful": false, "error": "403::Unknown client",
				"advice": map[string]any{"reconnect": "handshake", "interval": 0}}}
		}
		return 0, nil
	})
	sub, _, err := fakeSubscribe(t, f, -1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sub.Recv(recvCtx(t))
	if err == nil || !connectorlib.IsRetryable(err) {
		t.Fatalf("Recv: %v, want a retryable error", err)
	}
	if n := len(f.log("/meta/handshake")); n > 5 {
		t.Errorf("%d handshakes in one Recv, want a small bound", n)
	}
}

// TestSubscription_Recv_LongPollBoundedByAdvice: a connect held past advice.timeout plus
// LongPollTimeout is abandoned with a retryable error.
func TestSubscription_Recv_LongPollBoundedByAdvice(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFakeServer(t, func(channel string, n int, msg map[string]any) (int, any) {
		if channel != "/meta/connect" {
			return 0, nil
		}
		if n == 1 {
			rep := ok(msg)
			rep["advice"] = map[string]any{"reconnect": "retry", "interval": 0, "timeout": 100}
			return 0, []any{rep}
		}
		<-release
		return 0, nil
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for the handler
	tokens := &fakeTokens{url: f.srv.URL}
	c := cometd.New(cometd.Config{Tokens: tokens, LongPollTimeout: 200 * time.Millisecond})
	sub, err := c.Subscribe(context.Background(), acctChannel, -1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = sub.Recv(recvCtx(t))
	if err == nil || !connectorlib.IsRetryable(err) || !strings.Contains(err.Error(), "/meta/connect") {
		t.Errorf("Recv on a hung connect: %v, want a retryable /meta/connect error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("hung connect abandoned after %v, want about 300ms", d)
	}
	_ = c.Close(context.Background())
}
