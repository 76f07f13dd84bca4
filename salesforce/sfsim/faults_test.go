package sfsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// invalidSession is Salesforce's body for an expired or unknown token.
const invalidSession = `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`

// getTopic calls GetTopic and returns its error and error-code trailer.
func (e *env) getTopic(token, topic string) (*pubsubpb.TopicInfo, string, error) {
	e.t.Helper()
	var trailer metadata.MD
	info, err := e.ps.GetTopic(e.callCtx(token), &pubsubpb.TopicRequest{TopicName: topic}, grpc.Trailer(&trailer))
	return info, errorCode(trailer), err
}

// errorCode returns the error-code trailer value, or "".
func errorCode(md metadata.MD) string {
	if v := md.Get(pubsub.ErrorCodeKey); len(v) > 0 {
		return v[0]
	}
	return ""
}

// subscribeOnce opens a Subscribe stream, sends one FetchRequest and
// returns the first response or the stream's error and error-code trailer.
func (e *env) subscribeOnce(token string, req *pubsubpb.FetchRequest) (*pubsubpb.FetchResponse, string, error) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.callCtx(token))
	defer cancel()
	stream, err := e.ps.Subscribe(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = stream.Send(req)
	resp, err := stream.Recv()
	return resp, errorCode(stream.Trailer()), err
}

// wantStatus fails the test unless err is a gRPC status with code and the
// error-code trailer is wantCode.
func wantStatus(t *testing.T, what string, err error, trailer string, code codes.Code, wantCode string) {
	t.Helper()
	if status.Code(err) != code || trailer != wantCode {
		t.Fatalf("%s: %v with error-code %q, want %s with %q", what, err, trailer, code, wantCode)
	}
}

// TestExpireTokens expires every token: REST answers 401
// INVALID_SESSION_ID, Pub/Sub UNAUTHENTICATED, CometD 401::Authentication
// invalid; a token obtained afterwards works everywhere.
func TestExpireTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.token
	b := e.bayeux(old)
	b.handshake()
	b.subscribe("/event/Order__e", -1)
	if rep := b.connect(); rep["successful"] != true {
		t.Fatalf("connect before expiry: %v", rep)
	}
	if _, _, err := e.getTopic(old, "/event/Order__e"); err != nil {
		t.Fatalf("GetTopic before expiry: %v", err)
	}

	e.sim.ExpireTokens()

	resp, body := e.rest(old, http.MethodGet, "/limits", nil)
	if resp.StatusCode != http.StatusUnauthorized || string(body) != invalidSession {
		t.Fatalf("REST after expiry: %d %s", resp.StatusCode, body)
	}
	_, code, err := e.getTopic(old, "/event/Order__e")
	wantStatus(t, "GetTopic after expiry", err, code, codes.Unauthenticated, pubsub.ErrorCodeAuthError)
	_, code, err = e.subscribeOnce(old, &pubsubpb.FetchRequest{TopicName: "/event/Order__e", NumRequested: 1})
	wantStatus(t, "Subscribe after expiry", err, code, codes.Unauthenticated, pubsub.ErrorCodeAuthError)
	if rep := b.connect(); rep["successful"] != false || rep["error"] != "401::Authentication invalid" {
		t.Fatalf("CometD connect after expiry: %v", rep)
	}
	if rep := e.bayeux(old).meta(map[string]any{"channel": "/meta/handshake", "version": "1.0",
		"supportedConnectionTypes": []string{"long-polling"}}); rep["successful"] != false {
		t.Fatalf("CometD handshake with an expired token: %v", rep)
	}

	fresh := e.login()
	e.token = fresh
	if resp, body := e.rest(fresh, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("REST with a new token: %d %s", resp.StatusCode, body)
	}
	if _, _, err := e.getTopic(fresh, "/event/Order__e"); err != nil {
		t.Fatalf("GetTopic with a new token: %v", err)
	}
	nb := e.bayeux(fresh)
	nb.handshake()
	nb.subscribe("/event/Order__e", -1)
	if _, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "after"}); err != nil {
		t.Fatal(err)
	}
	if p := payload(nb.await("/event/Order__e", 1)[0]); p["OrderNumber__c"] != "after" {
		t.Fatalf("CometD event with a new token: %v", p)
	}
	// Sim.Token skips the OAuth flow.
	if resp, _ := e.rest(e.sim.Token(), http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("REST with Sim.Token: %d", resp.StatusCode)
	}
}

// TestDropStreams ends an open Pub/Sub subscription with UNAVAILABLE and a
// CometD session with 403::Unknown client; new streams work.
func TestDropStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_EARLIEST, nil)
	b := e.bayeux(e.token)
	b.handshake()
	b.subscribe("/event/Order__e", -2)
	// One delivered event proves the stream and the session are live.
	if _, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "1"}); err != nil {
		t.Fatal(err)
	}
	sub.next()
	b.await("/event/Order__e", 1)

	e.sim.DropStreams()

	err := sub.end()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Subscribe after DropStreams ended with %v, want UNAVAILABLE", err)
	}
	rep := b.connect()
	if rep["successful"] != false || rep["error"] != "403::Unknown client" {
		t.Fatalf("CometD connect after DropStreams: %v", rep)
	}
	if advice, _ := rep["advice"].(map[string]any); advice["reconnect"] != "handshake" {
		t.Fatalf("advice = %v, want reconnect handshake", rep["advice"])
	}

	// Clients recover by subscribing and handshaking again; the token is
	// still good.
	again := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_EARLIEST, nil)
	if f := e.platform(again.next()); f["OrderNumber__c"] != "1" {
		t.Fatalf("resubscribed event = %v", f)
	}
	b.clientID = ""
	b.handshake()
	b.subscribe("/event/Order__e", -1)
	if _, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "2"}); err != nil {
		t.Fatal(err)
	}
	if got := b.await("/event/Order__e", 2); payload(got[1])["OrderNumber__c"] != "2" {
		t.Fatalf("CometD after rehandshake: %v", got)
	}
}

// TestFailNext fails exactly N calls of each surface with the chosen status
// and error code, lets the next one through, and then slows one call down
// by a Delay-only fault without failing it.
func TestFailNext(t *testing.T) {
	t.Parallel()
	const (
		n     = 2
		delay = 300 * time.Millisecond
	)
	type outcome struct {
		ok     bool
		detail string // what failed: status and error code
	}
	tests := []struct {
		surface sfsim.Surface
		fault   sfsim.Fault
		// call makes one call of the surface and reports its outcome.
		call func(e *env) outcome
		// failed is the outcome each failing call must have.
		failed string
	}{
		{
			surface: sfsim.SurfaceREST,
			fault:   sfsim.Fault{Status: 503, ErrorCode: "SERVER_UNAVAILABLE", Message: "maintenance"},
			call: func(e *env) outcome {
				resp, body := e.rest(e.token, http.MethodGet, "/sobjects/Account/describe", nil)
				if resp.StatusCode == http.StatusOK {
					return outcome{ok: true}
				}
				return outcome{detail: fmt.Sprintf("%d %s", resp.StatusCode, body)}
			},
			failed: `503 [{"errorCode":"SERVER_UNAVAILABLE","message":"maintenance"}]`,
		},
		{
			surface: sfsim.SurfaceOAuth,
			fault:   sfsim.Fault{Status: 500, ErrorCode: "UNKNOWN_EXCEPTION", Message: "try later"},
			call: func(e *env) outcome {
				resp, body := e.post("/services/oauth2/token", "application/x-www-form-urlencoded", url.Values{
					"grant_type": {"client_credentials"}, "client_id": {sfsim.DefaultClientID}, "client_secret": {sfsim.DefaultClientSecret},
				}.Encode())
				if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "access_token") {
					return outcome{ok: true}
				}
				return outcome{detail: fmt.Sprintf("%d %s", resp.StatusCode, body)}
			},
			failed: `500 [{"errorCode":"UNKNOWN_EXCEPTION","message":"try later"}]`,
		},
		{
			surface: sfsim.SurfacePubSub,
			fault:   sfsim.Fault{Status: 429, ErrorCode: pubsub.ErrorCodeSubscriptionLimitExceeded, Message: "slow down"},
			call: func(e *env) outcome {
				_, code, err := e.getTopic(e.token, "/data/AccountChangeEvent")
				if err == nil {
					return outcome{ok: true}
				}
				return outcome{detail: fmt.Sprintf("%s %s", status.Code(err), code)}
			},
			failed: "ResourceExhausted " + pubsub.ErrorCodeSubscriptionLimitExceeded,
		},
		{
			surface: sfsim.SurfaceCometD,
			fault:   sfsim.Fault{Status: 503, ErrorCode: "SERVER_UNAVAILABLE"},
			call: func(e *env) outcome {
				b := e.bayeux(e.token)
				code, out := b.send(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
				if code == http.StatusOK && len(out) == 1 && out[0]["successful"] == true {
					return outcome{ok: true}
				}
				return outcome{detail: fmt.Sprint(code)}
			},
			failed: "503",
		},
	}
	for _, tc := range tests {
		t.Run(string(tc.surface), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if o := tc.call(e); !o.ok {
				t.Fatalf("call before the fault failed: %s", o.detail)
			}
			e.sim.FailNext(tc.surface, n, tc.fault)
			for i := range n {
				if o := tc.call(e); o.ok || o.detail != tc.failed {
					t.Fatalf("call %d: ok=%v %q, want %q", i+1, o.ok, o.detail, tc.failed)
				}
			}
			if o := tc.call(e); !o.ok {
				t.Fatalf("call %d failed: %s", n+1, o.detail)
			}

			e.sim.FailNext(tc.surface, 1, sfsim.Fault{Delay: delay})
			start := time.Now()
			if o := tc.call(e); !o.ok {
				t.Fatalf("throttled call failed: %s", o.detail)
			}
			if took := time.Since(start); took < delay {
				t.Fatalf("throttled call took %v, want at least %v", took, delay)
			}
			start = time.Now()
			if o := tc.call(e); !o.ok || time.Since(start) >= delay {
				t.Fatalf("call after the throttle: ok=%v after %v", o.ok, time.Since(start))
			}
		})
	}

	t.Run("faults are per surface", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.sim.FailNext(sfsim.SurfaceOAuth, 1, sfsim.Fault{Status: 503})
		if resp, body := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("REST with an OAuth fault pending: %d %s", resp.StatusCode, body)
		}
		if _, _, err := e.getTopic(e.token, "/event/Order__e"); err != nil {
			t.Fatalf("Pub/Sub with an OAuth fault pending: %v", err)
		}
	})

	t.Run("pubsub subscribe defaults to service unavailable", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.sim.FailNext(sfsim.SurfacePubSub, 1, sfsim.Fault{Status: 503, Message: "restarting"})
		req := &pubsubpb.FetchRequest{TopicName: "/event/Order__e", NumRequested: 1}
		_, code, err := e.subscribeOnce(e.token, req)
		wantStatus(t, "faulted Subscribe", err, code, codes.Unavailable, pubsub.ErrorCodeServiceUnavailable)
		if !strings.Contains(status.Convert(err).Message(), "restarting") {
			t.Fatalf("message %q lacks the fault's", status.Convert(err).Message())
		}
		for status, want := range map[int]codes.Code{400: codes.InvalidArgument, 401: codes.Unauthenticated, 403: codes.PermissionDenied, 404: codes.NotFound} {
			e.sim.FailNext(sfsim.SurfacePubSub, 1, sfsim.Fault{Status: status, ErrorCode: "x"})
			_, code, err := e.getTopic(e.token, "/event/Order__e")
			wantStatus(t, fmt.Sprintf("GetTopic with a %d fault", status), err, code, want, "x")
		}
		sub := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_EARLIEST, nil)
		if _, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "ok"}); err != nil {
			t.Fatal(err)
		}
		sub.next()
	})
}

// TestInjectGapAndOverflow injects gap and overflow events; Pub/Sub
// subscribers receive them as header-only change events.
func TestInjectGapAndOverflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/data/AccountChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)
	ids := []string{"001000000000001AAA", "001000000000002AAA"}
	gap, err := e.sim.InjectGap("Account", ids, "GAP_UPDATE")
	if err != nil {
		t.Fatal(err)
	}
	overflow, err := e.sim.InjectOverflow("Account")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		replay     int64
		changeType cdc.ChangeType
		ids        []string
	}{
		{gap, cdc.ChangeTypeGapUpdate, ids},
		{overflow, cdc.ChangeTypeGapOverflow, []string{"000000000000000AAA"}},
	} {
		ce := sub.next()
		ev := e.change(ce)
		if replayID(t, ce) != want.replay || ev.Header.EntityName != "Account" || ev.Header.ChangeType != want.changeType ||
			!slices.Equal(ev.Header.RecordIDs, want.ids) {
			t.Fatalf("event %d = %+v, want %s of %v at %d", replayID(t, ce), ev.Header, want.changeType, want.ids, want.replay)
		}
		if len(ev.Fields) != 0 {
			t.Fatalf("%s event has body fields %v", want.changeType, ev.Fields)
		}
	}
	for _, ct := range []string{"GAP_CREATE", "GAP_DELETE", "GAP_UNDELETE"} {
		if _, err := e.sim.InjectGap("Contact", ids[:1], ct); err != nil {
			t.Fatalf("InjectGap(%s): %v", ct, err)
		}
	}
	if _, err := e.sim.InjectGap("Account", ids, "UPDATE"); err == nil {
		t.Fatal("InjectGap accepted UPDATE")
	}
	if _, err := e.sim.InjectGap("Nope__c", ids, "GAP_UPDATE"); err == nil {
		t.Fatal("InjectGap accepted an unknown object")
	}
	if _, err := e.sim.InjectOverflow("Nope__c"); err == nil {
		t.Fatal("InjectOverflow accepted an unknown object")
	}
	// The Contact gaps are not on the Account channel.
	sub.none(100 * time.Millisecond)
}

// TestAdvanceClock moves the clock past the retention window and the token
// lifetime: a CUSTOM replay from a purged event is refused with the
// replayid.corrupted code, EARLIEST resumes after the purged events, and
// tokens have expired.
func TestAdvanceClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.Retention(time.Hour), sfsim.TokenTTL(90*time.Minute))
	var old []int64
	for i := range 3 {
		r, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": fmt.Sprint("old-", i)})
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, r)
	}
	before := e.sim.Now()
	e.sim.AdvanceClock(2 * time.Hour)
	if d := e.sim.Now().Sub(before); d < 2*time.Hour {
		t.Fatalf("Now advanced by %v", d)
	}

	// Tokens issued before the jump have expired.
	if resp, body := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusUnauthorized || string(body) != invalidSession {
		t.Fatalf("REST with a token older than its TTL: %d %s", resp.StatusCode, body)
	}
	_, code, err := e.getTopic(e.token, "/event/Order__e")
	wantStatus(t, "GetTopic with a token older than its TTL", err, code, codes.Unauthenticated, pubsub.ErrorCodeAuthError)
	e.token = e.login()

	fresh, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "new"})
	if err != nil {
		t.Fatal(err)
	}
	_, code, err = e.subscribeOnce(e.token, &pubsubpb.FetchRequest{TopicName: "/event/Order__e",
		ReplayPreset: pubsubpb.ReplayPreset_CUSTOM, ReplayId: pubsub.EncodeReplayID(old[0]), NumRequested: 10})
	wantStatus(t, "CUSTOM replay of a purged event", err, code, codes.InvalidArgument, pubsub.ErrorCodeReplayIDCorrupted)

	sub := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_EARLIEST, nil)
	ce := sub.next()
	if replayID(t, ce) != fresh || e.platform(ce)["OrderNumber__c"] != "new" {
		t.Fatalf("EARLIEST delivered replay %d %v, want %d", replayID(t, ce), e.platform(ce), fresh)
	}
	sub.none(100 * time.Millisecond)

	// Resuming after the newest purged event loses nothing, so it is valid.
	custom := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_CUSTOM, pubsub.EncodeReplayID(old[2]))
	if got := replayID(t, custom.next()); got != fresh {
		t.Fatalf("CUSTOM after the last purged event delivered %d, want %d", got, fresh)
	}
	// CometD replays from the retained window too.
	b := e.bayeux(e.token)
	b.handshake()
	b.subscribe("/event/Order__e", -2)
	if got := b.await("/event/Order__e", 1); payload(got[0])["OrderNumber__c"] != "new" {
		t.Fatalf("CometD replay all after the jump: %v", got)
	}
}

// TestSetAPIBudget exhausts the daily API budget: REST answers 403
// REQUEST_LIMIT_EXCEEDED with the usage in Sforce-Limit-Info.
func TestSetAPIBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.APILimit(500))
	if used, limit := e.sim.APIUsage(); used != 0 || limit != 500 {
		t.Fatalf("APIUsage = %d/%d, want 0/500", used, limit)
	}
	e.sim.SetAPIBudget(9, 10)
	resp, body := e.rest(e.token, http.MethodGet, "/limits", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Sforce-Limit-Info") != "api-usage=10/10" {
		t.Fatalf("last call of the budget: %d %q %s", resp.StatusCode, resp.Header.Get("Sforce-Limit-Info"), body)
	}
	var limits map[string]struct{ Max, Remaining int }
	if err := json.Unmarshal(body, &limits); err != nil || limits["DailyApiRequests"].Max != 10 || limits["DailyApiRequests"].Remaining != 0 {
		t.Fatalf("limits DailyApiRequests = %+v (%v)", limits["DailyApiRequests"], err)
	}

	e.sim.SetAPIBudget(10, 10)
	for range 2 {
		resp, body = e.rest(e.token, http.MethodGet, "/sobjects", nil)
		var errs []struct{ ErrorCode, Message string }
		if resp.StatusCode != http.StatusForbidden || json.Unmarshal(body, &errs) != nil || len(errs) != 1 || errs[0].ErrorCode != "REQUEST_LIMIT_EXCEEDED" {
			t.Fatalf("call over the budget: %d %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Sforce-Limit-Info"); got != "api-usage=10/10" {
			t.Fatalf("Sforce-Limit-Info = %q", got)
		}
	}
	if used, limit := e.sim.APIUsage(); used != 10 || limit != 10 {
		t.Fatalf("APIUsage = %d/%d", used, limit)
	}
	// Refused calls change nothing; raising the limit lets calls through.
	e.sim.SetAPIBudget(10, 20)
	if resp, _ := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Sforce-Limit-Info") != "api-usage=11/20" {
		t.Fatalf("after raising the limit: %d %q", resp.StatusCode, resp.Header.Get("Sforce-Limit-Info"))
	}
	// The budget is REST's: OAuth and Pub/Sub still work.
	e.sim.SetAPIBudget(20, 20)
	e.login()
	if _, _, err := e.getTopic(e.token, "/event/Order__e"); err != nil {
		t.Fatalf("Pub/Sub with the REST budget spent: %v", err)
	}
}
