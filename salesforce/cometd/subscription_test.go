package cometd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/cometd"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

func TestSubscription_Recv_ReplayAllRetained(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	createAccounts(t, sim, "A0", "A1")
	for _, n := range []string{"O0", "O1", "O2"} {
		if _, err := sim.PublishPlatformEvent(orderEvent, map[string]any{"OrderNumber__c": n}); err != nil {
			t.Fatal(err)
		}
	}
	createAccounts(t, sim, "A2")

	acct := recvN(t, subscribe(t, c, acctChannel, -2), 3)
	checkOrder(t, acctChannel, acct)
	if got := names(t, acct); !equal(got, []string{"A0", "A1", "A2"}) {
		t.Errorf("change events %v, want A0 A1 A2", got)
	}
	for _, m := range acct {
		d := decode(t, m)
		h, _ := d.Payload["ChangeEventHeader"].(map[string]any)
		if d.Schema == "" || h["changeType"] != "CREATE" || h["entityName"] != "Account" {
			t.Errorf("change event data %s: want schema and a CREATE header for Account", m.Data)
		}
	}

	orders := recvN(t, subscribe(t, c, orderChannel, -2), 3)
	checkOrder(t, orderChannel, orders)
	if got := names(t, orders); !equal(got, []string{"O0", "O1", "O2"}) {
		t.Errorf("platform events %v, want O0 O1 O2", got)
	}
	for _, m := range orders {
		if d := decode(t, m); d.Schema == "" || d.Event.EventUUID == "" || d.Payload["CreatedDate"] == nil {
			t.Errorf("platform event data %s: want schema, CreatedDate and EventUuid", m.Data)
		}
	}
}

func TestSubscription_Recv_ReplayNewOnly(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	createAccounts(t, sim, "old")
	sub := subscribe(t, c, acctChannel, -1)
	if got := sub.LastReplayID(); got != -1 {
		t.Errorf("LastReplayID before any event = %d, want -1", got)
	}
	ids := createAccounts(t, sim, "new")
	msgs := recvN(t, sub, 1)
	if got := names(t, msgs); !equal(got, []string{"new"}) {
		t.Errorf("events %v, want only new", got)
	}
	if got := sub.LastReplayID(); got != ids[0] {
		t.Errorf("LastReplayID = %d, want %d", got, ids[0])
	}
}

func TestSubscription_Recv_ResumesAfterStoredID(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	ids := createAccounts(t, sim, "A0", "A1", "A2", "A3")
	msgs := recvN(t, subscribe(t, c, acctChannel, ids[1]), 2)
	if got := names(t, msgs); !equal(got, []string{"A2", "A3"}) {
		t.Errorf("events %v, want A2 A3", got)
	}
	if msgs[0].ReplayID != ids[2] || msgs[1].ReplayID != ids[3] {
		t.Errorf("replay ids %d %d, want %d %d", msgs[0].ReplayID, msgs[1].ReplayID, ids[2], ids[3])
	}
}

func TestSubscription_Recv_DropStreamsResubscribesWithoutLoss(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, tokens := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)
	createAccounts(t, sim, "before")
	recvN(t, sub, 1)

	sim.DropStreams()
	createAccounts(t, sim, "during1", "during2")
	got := names(t, recvN(t, sub, 2))
	createAccounts(t, sim, "after")
	got = append(got, names(t, recvN(t, sub, 1))...)
	if want := []string{"during1", "during2", "after"}; !equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	expectNone(t, sub, 2*longPoll)
	if inv := tokens.invalidations(); len(inv) != 0 {
		t.Errorf("Invalidate called %d times, want 0", len(inv))
	}
}

// TestSubscription_Recv_DropStreamsWhileReceiving drops the sessions at
// random points of a running stream: every event arrives exactly once, in
// order.
func TestSubscription_Recv_DropStreamsWhileReceiving(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)

	const total = 60
	var want []string
	for i := range total {
		want = append(want, fmt.Sprintf("acct-%02d", i))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, n := range want {
			if _, err := sim.Create("Account", map[string]any{"Name": n}); err != nil {
				t.Error(err)
				return
			}
			if i%7 == 3 {
				sim.DropStreams()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	msgs := recvN(t, sub, total)
	<-done
	checkOrder(t, acctChannel, msgs)
	if got := names(t, msgs); !equal(got, want) {
		t.Errorf("events %v,\nwant %v", got, want)
	}
	expectNone(t, sub, 2*longPoll)
}

func TestSubscription_Recv_ExpiredTokenInvalidatedOnce(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, tokens := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)
	createAccounts(t, sim, "A0")
	recvN(t, sub, 1)
	tokens.mu.Lock()
	old := tokens.token
	tokens.mu.Unlock()

	// Expire while a connect is held: it returns at the long-poll timeout
	// and the next one fails with 401::Authentication invalid.
	go func() {
		time.Sleep(longPoll / 3)
		sim.ExpireTokens()
		if _, err := sim.Create("Account", map[string]any{"Name": "A1"}); err != nil {
			t.Error(err)
		}
	}()
	got := names(t, recvN(t, sub, 1))
	createAccounts(t, sim, "A2")
	got = append(got, names(t, recvN(t, sub, 1))...)
	if !equal(got, []string{"A1", "A2"}) {
		t.Errorf("events %v, want A1 A2", got)
	}
	if inv := tokens.invalidations(); len(inv) != 1 || inv[0] != old {
		t.Errorf("Invalidate calls %d (%v), want once with the expired token", len(inv), inv)
	}
}

func TestSubscribe_RejectedTokensFailWithErrAuth(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	tokens := &simTokens{sim: sim, fixed: "00Dbogus!token"}
	c := cometd.New(cometd.Config{Tokens: tokens, HTTPClient: tlsClient(t, sim)})
	_, err := c.Subscribe(context.Background(), acctChannel, -1)
	if !errors.Is(err, cometd.ErrAuth) {
		t.Fatalf("Subscribe with a bad token: %v, want ErrAuth", err)
	}
	if connectorlib.IsRetryable(err) {
		t.Errorf("ErrAuth is retryable: %v", err)
	}
	var e *cometd.Error
	if !errors.As(err, &e) || e.Reason != "401::Authentication invalid" {
		t.Errorf("error %v: want the handshake's failureReason 401::Authentication invalid", err)
	}
	// Handshaked twice: the first token, then one retry after Invalidate.
	if tokens.sessions != 2 {
		t.Errorf("Session called %d times, want 2", tokens.sessions)
	}
	if inv := tokens.invalidations(); len(inv) != 2 {
		t.Errorf("Invalidate called %d times, want 2 (each rejected token)", len(inv))
	}
}

func TestSubscribe_InvalidReplayID(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.Retention(time.Minute))
	c, _ := newClient(t, sim)
	ids := createAccounts(t, sim, "A0", "A1")

	tests := []struct {
		name string
		from func() int64
	}{
		{"future", func() int64 { return ids[1] + 1000 }},
		{"negative", func() int64 { return -3 }},
		{"purged", func() int64 {
			sim.AdvanceClock(2 * time.Minute)
			createAccounts(t, sim, "A2")
			return ids[0]
		}},
	}
	for _, tt := range tests {
		from := tt.from()
		_, err := c.Subscribe(context.Background(), acctChannel, from)
		if !errors.Is(err, cometd.ErrInvalidReplayID) {
			t.Errorf("%s: Subscribe from %d: %v, want ErrInvalidReplayID", tt.name, from, err)
			continue
		}
		if connectorlib.IsRetryable(err) {
			t.Errorf("%s: invalid replay id is retryable: %v", tt.name, err)
		}
		if from >= 0 {
			want := fmt.Sprintf("400::The replayId {%d} you provided was invalid.  Please provide a valid ID", from)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not carry the server's message %q", tt.name, err, want)
			}
		}
	}
}

func TestSubscription_Recv_ResubscribeAfterPurgeIsInvalidReplayID(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.Retention(time.Minute))
	c, _ := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)
	createAccounts(t, sim, "A0")
	recvN(t, sub, 1)
	sim.DropStreams()
	createAccounts(t, sim, "A1")
	sim.AdvanceClock(2 * time.Minute) // A0 and A1 leave the retention window

	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	_, err := sub.Recv(ctx)
	if !errors.Is(err, cometd.ErrInvalidReplayID) || connectorlib.IsRetryable(err) {
		t.Fatalf("Recv after the resume point was purged: %v, want a permanent ErrInvalidReplayID", err)
	}
}

// TestSubscription_Recv_TransientFailuresAreRetryable: Recv returns 5xx
// failures as retryable errors and keeps its position; the caller retries.
func TestSubscription_Recv_TransientFailuresAreRetryable(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)
	createAccounts(t, sim, "A0")
	recvN(t, sub, 1)

	sim.FailNext(sfsim.SurfaceCometD, 2, sfsim.Fault{Status: http.StatusServiceUnavailable, Message: "busy"})
	createAccounts(t, sim, "A1", "A2")
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	var got []string
	failures := 0
	for len(got) < 2 {
		msgs, err := sub.Recv(ctx)
		if err != nil {
			var e *cometd.Error
			if !connectorlib.IsRetryable(err) || !errors.As(err, &e) || e.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("Recv: %v, want a retryable HTTP 503 error", err)
			}
			if failures++; failures > 2 {
				t.Fatalf("Recv failed %d times after 2 injected faults: %v", failures, err)
			}
			continue
		}
		got = append(got, names(t, msgs)...)
	}
	if failures != 2 {
		t.Errorf("Recv failed %d times, want 2 (one per injected 503)", failures)
	}
	if !equal(got, []string{"A1", "A2"}) {
		t.Errorf("events %v, want A1 A2 exactly once", got)
	}
	expectNone(t, sub, 2*longPoll)
}

func TestSubscription_Recv_HTTP4xxIsPermanent(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)
	createAccounts(t, sim, "A0")
	recvN(t, sub, 1)
	sim.FailNext(sfsim.SurfaceCometD, 1, sfsim.Fault{Status: http.StatusBadRequest, ErrorCode: "BAD", Message: "nope"})
	createAccounts(t, sim, "A1")
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	_, err := sub.Recv(ctx)
	var e *cometd.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest || connectorlib.IsRetryable(err) {
		t.Fatalf("Recv: %v, want a permanent HTTP 400 error", err)
	}
	// The subscription is still usable, from where it was.
	if got := names(t, recvN(t, sub, 1)); !equal(got, []string{"A1"}) {
		t.Errorf("events %v, want A1", got)
	}
}

func TestSubscribe_UnknownChannelIsPermanent(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	_, err := c.Subscribe(context.Background(), "/event/Nope__e", -1)
	var e *cometd.Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Message, "400::The channel you requested to subscribe to doesn't exist") {
		t.Fatalf("Subscribe to an unknown channel: %v", err)
	}
	if connectorlib.IsRetryable(err) {
		t.Errorf("unknown channel is retryable: %v", err)
	}
	if _, err := c.Subscribe(context.Background(), "data/x", -1); !errors.Is(err, cometd.ErrInvalidConfig) {
		t.Errorf("Subscribe without a leading slash: %v, want ErrInvalidConfig", err)
	}
	if _, err := cometd.New(cometd.Config{}).Subscribe(context.Background(), acctChannel, -1); !errors.Is(err, cometd.ErrInvalidConfig) {
		t.Errorf("Subscribe without Tokens: %v, want ErrInvalidConfig", err)
	}
}

func TestSubscription_Recv_PushTopicDeliversSObject(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	body, _ := json.Marshal(map[string]any{"Name": "AcctTopic", "Query": "SELECT Id, Name, Industry FROM Account"})
	req, err := http.NewRequest(http.MethodPost, sim.URL()+"/services/data/v62.0/sobjects/PushTopic", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+sim.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := tlsClient(t, sim).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create PushTopic: HTTP %d", resp.StatusCode)
	}

	sub := subscribe(t, c, "/topic/AcctTopic", -1)
	id, err := sim.Create("Account", map[string]any{"Name": "Pushed", "Industry": "Energy"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := recvN(t, sub, 1)
	d := decode(t, msgs[0])
	if msgs[0].Channel != "/topic/AcctTopic" || d.Event.Type != "created" ||
		d.SObject["Id"] != id || d.SObject["Name"] != "Pushed" || d.SObject["Industry"] != "Energy" {
		t.Errorf("PushTopic event %s on %s: want type created and sobject {Id:%s Name:Pushed Industry:Energy}", msgs[0].Data, msgs[0].Channel, id)
	}
}

func TestSubscription_Recv_CancelledContextLosesNothing(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	c, _ := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)
	createAccounts(t, sim, "A0")
	recvN(t, sub, 1)

	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), longPoll/3)
		_, err := sub.Recv(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv with an ending context: %v, want context.DeadlineExceeded", err)
		}
	}
	createAccounts(t, sim, "A1")
	if got := names(t, recvN(t, sub, 1)); !equal(got, []string{"A1"}) {
		t.Errorf("events %v, want A1", got)
	}
}

func TestSubscription_Close_EndsRecv(t *testing.T) {
	t.Parallel()
	sim := newSim(t, sfsim.StreamTimeouts(time.Minute, time.Minute, time.Minute))
	c, _ := newClient(t, sim)
	sub := subscribe(t, c, acctChannel, -1)
	// The first connect of a session returns at once; the next is held.
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := sub.Recv(context.Background())
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := sub.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-errc; !errors.Is(err, cometd.ErrClosed) {
		t.Errorf("Recv during Close: %v, want ErrClosed", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Recv took %v to end after Close", d)
	}
	if _, err := sub.Recv(context.Background()); !errors.Is(err, cometd.ErrClosed) {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
	if err := sub.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
