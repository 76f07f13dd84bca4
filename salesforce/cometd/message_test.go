package cometd

import (
	"errors"
	"testing"
	"time"
)

func TestDecodeMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		wantErr     bool
		wantEvents  []int64
		wantReplies int
	}{
		{"empty array", `[]`, false, nil, 0},
		{"connect with events", `[{"channel":"/data/AccountChangeEvent","data":{"schema":"s","payload":{},"event":{"replayId":7}}},
			{"channel":"/event/X__e","data":{"payload":{},"event":{"replayId":"8","EventUuid":"u"}}},
			{"clientId":"c","channel":"/meta/connect","id":"2","successful":true,"advice":{"interval":0,"timeout":110000,"reconnect":"retry"}}]`,
			false, []int64{7, 8}, 1},
		{"single object", `{"channel":"/meta/handshake","successful":true}`, false, nil, 1},
		{"channel-less error", `[{"error":"403::Unknown client","successful":false,"advice":{"interval":0,"reconnect":"handshake"}}]`, false, nil, 1},
		{"publish ack ignored", `[{"channel":"/event/X__e","successful":true}]`, false, nil, 0},
		{"wrong field types", `[{"channel":"/meta/connect","successful":"yes","advice":[],"id":{},"ext":1}]`, false, nil, 1},
		{"not json", `<html>`, true, nil, 0},
		{"empty", ``, true, nil, 0},
		{"element not object", `[1]`, true, nil, 0},
		{"null element", `[null]`, true, nil, 0},
		{"data not object", `[{"channel":"/data/X","data":"x"}]`, true, nil, 0},
		{"no replay id", `[{"channel":"/data/X","data":{"event":{}}}]`, true, nil, 0},
		{"float replay id", `[{"channel":"/data/X","data":{"event":{"replayId":1.5}}}]`, true, nil, 0},
		{"truncated", `[{"channel":"/meta/connect"`, true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, replies, err := decodeMessages([]byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("err = %v, want ErrMalformedResponse", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != len(tt.wantEvents) || len(replies) != tt.wantReplies {
				t.Fatalf("got %d events and %d replies, want %d and %d", len(events), len(replies), len(tt.wantEvents), tt.wantReplies)
			}
			for i, id := range tt.wantEvents {
				if events[i].ReplayID != id {
					t.Errorf("event %d replay id %d, want %d", i, events[i].ReplayID, id)
				}
			}
		})
	}
}

func TestDecodeMessages_ReplyFields(t *testing.T) {
	t.Parallel()
	body := `[{"ext":{"sfdc":{"failureReason":"401::Authentication invalid"}},"advice":{"reconnect":"none","interval":500,"timeout":1e12},
		"channel":"/meta/handshake","error":"403::Handshake denied","successful":false,"id":3}]`
	_, replies, err := decodeMessages([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	r := findReply(replies, channelHandshake, "3")
	if r == nil {
		t.Fatal("no handshake reply")
	}
	if r.successful || r.err != "403::Handshake denied" || r.failureReason != "401::Authentication invalid" ||
		r.advice.reconnect != reconnectNone || r.advice.interval != 500*time.Millisecond || r.advice.timeout != maxAdviceTimeout {
		t.Errorf("reply %+v", r)
	}
	if e := r.toError(channelHandshake); !e.isAuthFailure() || e.retryable() {
		t.Errorf("error %v: want an auth failure, not retryable", e)
	}
}

func TestError_Classification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err                                        string
		reconnect                                  string
		wantReplay, wantEnded, wantAuth, wantRetry bool
	}{
		{err: "400::The replayId {12} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", wantReplay: true},
		{err: "403::Unknown client", reconnect: "handshake", wantEnded: true},
		{err: "402::Unknown client", wantEnded: true},
		{err: "403::Client has not completed handshake", wantEnded: true},
		{err: "401::Authentication invalid", reconnect: "none", wantAuth: true},
		{err: "503::Server is too busy.  Please try your request again later.", wantRetry: true},
		{err: "400::The channel you requested to subscribe to doesn't exist {/data/X}"},
		{err: "403::Organization total events daily limit exceeded"},
		{err: "", reconnect: "retry", wantRetry: true},
		{err: "garbage", reconnect: "none"},
	}
	for _, tt := range tests {
		e := &Error{Channel: channelSubscribe, Message: tt.err, Code: bayeuxCode(tt.err), Reconnect: tt.reconnect}
		if e.isInvalidReplay() != tt.wantReplay || e.sessionEnded() != tt.wantEnded || e.isAuthFailure() != tt.wantAuth || e.retryable() != tt.wantRetry {
			t.Errorf("%q (%s): replay %v ended %v auth %v retry %v", tt.err, tt.reconnect, e.isInvalidReplay(), e.sessionEnded(), e.isAuthFailure(), e.retryable())
		}
	}
}
