package pubsubserver

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

func TestSubscribe_FlowControl_NeverMoreThanRequested(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{KeepAlive: 20 * time.Millisecond})
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 3})
	sub.waitKeepAlive() // LATEST has started at the tip
	ids := h.publishOrders(10)

	got := sub.events(3)
	if sub.pending != 0 {
		t.Fatalf("pending_num_requested %d after 3 of 3, want 0", sub.pending)
	}
	sub.quiet(200 * time.Millisecond)

	sub.request(5)
	got = append(got, sub.events(5)...)
	if sub.pending != 0 {
		t.Fatalf("pending_num_requested %d after 5 of 5, want 0", sub.pending)
	}
	sub.quiet(200 * time.Millisecond)

	// 200 more is capped at 100 outstanding: the 2 left arrive with 98 still
	// owed, then exactly 98 of the next 150.
	sub.request(200)
	got = append(got, sub.events(2)...)
	if sub.pending != 98 {
		t.Fatalf("pending_num_requested %d, want 98 (capped at 100, 2 sent)", sub.pending)
	}
	ids = append(ids, h.publishOrders(150)...)
	got = append(got, sub.events(98)...)
	if sub.pending != 0 {
		t.Fatalf("pending_num_requested %d after the cap was used up, want 0", sub.pending)
	}
	sub.quiet(200 * time.Millisecond)
	sub.request(5)
	got = append(got, sub.events(5)...)

	for i, ce := range got {
		if r := replayID(t, ce.GetReplayId()); r != ids[i] {
			t.Fatalf("event %d has replay id %d, want %d (in order, no gaps)", i, r, ids[i])
		}
	}
}

func TestSubscribe_FlowControl_PendingCountsDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.publishOrders(7)
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 4})
	r := sub.next(5 * time.Second)
	if len(r.GetEvents()) != 4 || r.GetPendingNumRequested() != 0 {
		t.Fatalf("first response: %d events, pending %d; want 4 and 0", len(r.GetEvents()), r.GetPendingNumRequested())
	}
	if got := replayID(t, r.GetLatestReplayId()); got != replayID(t, r.GetEvents()[3].GetReplayId()) {
		t.Fatalf("latest_replay_id %d is past the last delivered event while events are still owed elsewhere", got)
	}
	sub.request(10)
	r = sub.next(5 * time.Second)
	if len(r.GetEvents()) != 3 || r.GetPendingNumRequested() != 7 {
		t.Fatalf("second response: %d events, pending %d; want 3 and 7", len(r.GetEvents()), r.GetPendingNumRequested())
	}
}

func TestSubscribe_ReplayPresets(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{KeepAlive: 20 * time.Millisecond})
	ids := h.publishOrders(3)

	t.Run("earliest", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 10})
		got := sub.events(3)
		for i, ce := range got {
			if replayID(t, ce.GetReplayId()) != ids[i] {
				t.Fatalf("event %d: replay id %d, want %d", i, replayID(t, ce.GetReplayId()), ids[i])
			}
		}
	})
	t.Run("custom resumes after the id", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM,
			ReplayId: pubsub.EncodeReplayID(ids[0]), NumRequested: 10})
		got := sub.events(2)
		if replayID(t, got[0].GetReplayId()) != ids[1] || replayID(t, got[1].GetReplayId()) != ids[2] {
			t.Fatalf("custom from %d delivered %d, %d", ids[0], replayID(t, got[0].GetReplayId()), replayID(t, got[1].GetReplayId()))
		}
	})
	t.Run("custom accepts the 10-byte form", func(t *testing.T) {
		id := append(pubsub.EncodeReplayID(ids[1]), 0, 0)
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM, ReplayId: id, NumRequested: 10})
		if got := sub.events(1); replayID(t, got[0].GetReplayId()) != ids[2] {
			t.Fatalf("delivered %d, want %d", replayID(t, got[0].GetReplayId()), ids[2])
		}
	})
	t.Run("latest skips what exists", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 10})
		sub.waitKeepAlive()
		next := h.publishOrders(1)
		if got := sub.events(1); replayID(t, got[0].GetReplayId()) != next[0] {
			t.Fatalf("LATEST delivered %d, want %d", replayID(t, got[0].GetReplayId()), next[0])
		}
	})
	t.Run("later replay fields are ignored", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 1})
		sub.events(1)
		if err := sub.stream.Send(&pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM,
			ReplayId: pubsub.EncodeReplayID(999999), NumRequested: 1}); err != nil {
			t.Fatal(err)
		}
		if got := sub.events(1); replayID(t, got[0].GetReplayId()) != ids[1] {
			t.Fatalf("second event %d, want %d", replayID(t, got[0].GetReplayId()), ids[1])
		}
	})
}

func TestSubscribe_InvalidRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	ids := h.publishOrders(2)
	cases := []struct {
		name      string
		req       *pubsubpb.FetchRequest
		wantCode  codes.Code
		wantError string
	}{
		{"custom without id", &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM, NumRequested: 1},
			codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed},
		{"latest with id", &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayId: pubsub.EncodeReplayID(ids[0]), NumRequested: 1},
			codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed},
		{"earliest with id", &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, ReplayId: pubsub.EncodeReplayID(ids[0]), NumRequested: 1},
			codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed},
		{"malformed id", &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM, ReplayId: []byte{1, 2, 3}, NumRequested: 1},
			codes.InvalidArgument, pubsub.ErrorCodeReplayIDValidationFailed},
		{"future id", &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM, ReplayId: pubsub.EncodeReplayID(ids[1] + 1000), NumRequested: 1},
			codes.InvalidArgument, pubsub.ErrorCodeReplayIDCorrupted},
		{"negative id", &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM, ReplayId: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, NumRequested: 1},
			codes.InvalidArgument, pubsub.ErrorCodeReplayIDCorrupted},
		{"zero requested", &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 0},
			codes.InvalidArgument, pubsub.ErrorCodeRequestedEventsInvalid},
		{"unknown topic", &pubsubpb.FetchRequest{TopicName: "/event/Nope__e", NumRequested: 1},
			codes.NotFound, errorCodeTopicNotFound},
		{"topic case matters", &pubsubpb.FetchRequest{TopicName: "/data/accountchangeevent", NumRequested: 1},
			codes.NotFound, errorCodeTopicNotFound},
		{"push topics are not on Pub/Sub", &pubsubpb.FetchRequest{TopicName: "/topic/Accounts", NumRequested: 1},
			codes.NotFound, errorCodeTopicNotFound},
		{"blank topic", &pubsubpb.FetchRequest{NumRequested: 1},
			codes.InvalidArgument, errorCodeTopicEmpty},
	}
	h.bus.AddPushTopic("Accounts")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub := h.subscribe(t, tc.req)
			err := sub.end(5 * time.Second)
			wantStatus(t, err, sub.stream.Trailer(), tc.wantCode, tc.wantError)
		})
	}
}

func TestSubscribe_ReplayIDOutsideRetention(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	old := h.publishOrders(1)
	h.clock.Advance(bus.DefaultRetention + time.Hour)
	h.publishOrders(1)               // purges the old event
	h.token, _ = h.auth.IssueToken() // the old session expired too

	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_CUSTOM,
		ReplayId: pubsub.EncodeReplayID(old[0] - 1), NumRequested: 1})
	err := sub.end(5 * time.Second)
	wantStatus(t, err, sub.stream.Trailer(), codes.InvalidArgument, pubsub.ErrorCodeReplayIDCorrupted)
	if st, _ := status.FromError(err); st == nil || !strings.Contains(st.Message(), "Replay ID validation failed") || !strings.Contains(st.Message(), "retention window") {
		t.Errorf("message %q", st.Message())
	}
}

func TestSubscribe_LaterRequestErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	t.Run("topic mismatch", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 1})
		if err := sub.stream.Send(&pubsubpb.FetchRequest{TopicName: accountTopic, NumRequested: 1}); err != nil {
			t.Fatal(err)
		}
		err := sub.end(5 * time.Second)
		wantStatus(t, err, sub.stream.Trailer(), codes.InvalidArgument, errorCodeFetchTopicMismatch)
	})
	t.Run("negative requested", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 1})
		sub.request(-1)
		err := sub.end(5 * time.Second)
		wantStatus(t, err, sub.stream.Trailer(), codes.InvalidArgument, pubsub.ErrorCodeRequestedEventsInvalid)
	})
}

func TestSubscribe_KeepAlive_CarriesLatestReplayID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{KeepAlive: 100 * time.Millisecond})
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, NumRequested: 5})

	// Nothing was ever published: the keepalive still carries 8 bytes (0).
	r := sub.next(5 * time.Second)
	if len(r.GetEvents()) != 0 || replayID(t, r.GetLatestReplayId()) != 0 || r.GetPendingNumRequested() != 5 {
		t.Fatalf("first keepalive: %d events, latest %v, pending %d", len(r.GetEvents()), r.GetLatestReplayId(), r.GetPendingNumRequested())
	}
	// Events on other channels move the position forward.
	ids := h.createAccounts("a", "b")
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = sub.next(5 * time.Second)
		if len(r.GetEvents()) != 0 {
			t.Fatalf("got events of another topic")
		}
		if replayID(t, r.GetLatestReplayId()) == h.bus.Latest() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keepalives never reached the tip %d (%d accounts created)", h.bus.Latest(), len(ids))
		}
	}
	// Keepalives keep coming at the configured interval.
	start := time.Now()
	sub.next(5 * time.Second)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("keepalive took %s with KeepAlive 100ms", d)
	}
}

func TestSubscribe_KeepAlive_DoesNotSkipUnrequestedEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{KeepAlive: 50 * time.Millisecond, IdleTimeout: time.Minute})
	ids := h.publishOrders(3)
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 1})
	sub.events(1)
	// Owed nothing, two events waiting: keepalives must not claim them.
	for range 3 {
		r := sub.next(5 * time.Second)
		if got := replayID(t, r.GetLatestReplayId()); got != ids[0] {
			t.Fatalf("keepalive latest_replay_id %d while %d and %d are undelivered", got, ids[1], ids[2])
		}
	}
}

func TestSubscribe_IdleClose(t *testing.T) {
	t.Parallel()
	// Generous margins: under -race on a loaded 2-core machine a client can
	// lag by hundreds of milliseconds.
	h := newHarness(t, Config{IdleTimeout: time.Second})
	h.publishOrders(3)

	t.Run("closes when owed nothing", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 1})
		sub.events(1)
		start := time.Now()
		if err := sub.end(5 * time.Second); err != nil {
			t.Fatalf("idle close ended with %v, want OK", err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("closed after %s, before the idle timeout", d)
		}
	})
	t.Run("stays open while requests keep coming", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 1})
		sub.events(1)
		for range 4 {
			time.Sleep(200 * time.Millisecond)
			sub.request(1)
		}
		sub.events(2)
		select {
		case <-sub.done:
			t.Fatalf("closed while the client kept requesting: %v", sub.err)
		default:
		}
	})
	t.Run("stays open while events are owed", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: "/data/LeadChangeEvent", NumRequested: 1})
		time.Sleep(1500 * time.Millisecond)
		select {
		case <-sub.done:
			t.Fatalf("closed while owed an event: %v", sub.err)
		default:
		}
	})
	t.Run("ends when the client closes its side", func(t *testing.T) {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 2})
		if err := sub.stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		sub.events(2)
		if err := sub.end(400 * time.Millisecond); err != nil {
			t.Fatalf("ended with %v", err)
		}
	})
}

func TestSubscribe_Fault(t *testing.T) {
	t.Parallel()
	fault := func(c Call) error {
		switch {
		case c.Method == "Subscribe" && c.Start && c.Topic == accountTopic:
			return &Error{Code: codes.Unavailable, ErrorCode: pubsub.ErrorCodeServiceUnavailable, Message: "injected at start"}
		case c.Method == "Subscribe" && c.Delivered >= 2:
			return &Error{Code: codes.Unavailable, ErrorCode: pubsub.ErrorCodeServiceUnavailable, Message: "injected"}
		case c.Method == "GetTopic":
			return errors.New("plain failure")
		}
		return nil
	}
	h := newHarness(t, Config{Fault: fault})
	h.publishOrders(5)
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: orderTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 2})
	sub.events(2)
	sub.request(2)
	err := sub.end(5 * time.Second)
	wantStatus(t, err, sub.stream.Trailer(), codes.Unavailable, pubsub.ErrorCodeServiceUnavailable)

	var trailer metadata.MD
	_, err = h.client.GetTopic(h.ctx(), &pubsubpb.TopicRequest{TopicName: orderTopic}, grpc.Trailer(&trailer))
	wantStatus(t, err, trailer, codes.Unavailable, pubsub.ErrorCodeServiceUnavailable)

	h.createAccounts("a")
	sub = h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 2})
	err = sub.end(5 * time.Second)
	wantStatus(t, err, sub.stream.Trailer(), codes.Unavailable, pubsub.ErrorCodeServiceUnavailable)
}

func TestSubscribe_AllChangeEvents_OneSchemaPerObject(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	ids := h.createAccounts("a")
	tx := h.org.Begin(orgOriginREST)
	if _, err := tx.Create("Contact", map[string]any{"LastName": "Lovelace", "FirstName": "Ada", "AccountId": ids[0]}); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	h.publishOrders(1) // not a change event

	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: bus.AllChangeEvents, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 10})
	got := sub.events(2)
	if got[0].GetEvent().GetSchemaId() == got[1].GetEvent().GetSchemaId() {
		t.Fatal("Account and Contact events share a schema id")
	}
	_, contact := h.decodeChange(got[1])
	name, _ := contact.Fields["Name"].(map[string]any)
	if contact.Header.EntityName != "Contact" || name["FirstName"] != "Ada" || name["LastName"] != "Lovelace" {
		t.Fatalf("contact event %+v", contact)
	}
	sub.quiet(100 * time.Millisecond)
}
