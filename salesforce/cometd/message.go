package cometd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Meta channels.
const (
	channelHandshake  = "/meta/handshake"
	channelConnect    = "/meta/connect"
	channelSubscribe  = "/meta/subscribe"
	channelDisconnect = "/meta/disconnect"
)

// connectionType is the only connection type Salesforce supports.
const connectionType = "long-polling"

// advice.reconnect values.
const (
	reconnectRetry     = "retry"
	reconnectHandshake = "handshake"
	reconnectNone      = "none"
)

// Bounds on server advice, so a hostile or broken server cannot make the
// client wait for ever: Salesforce advises 110 s timeouts and 0 intervals
// (protocol reference §4.2), far below these.
const (
	maxAdviceTimeout  = 10 * time.Minute
	maxAdviceInterval = 2 * time.Minute
)

// Message is one event delivered on a subscribed channel.
type Message struct {
	// Channel is the channel the event was delivered on, e.g.
	// /data/AccountChangeEvent, /event/Order__e or /topic/AccountTopic.
	Channel string
	// ReplayID is data.event.replayId: the position to resume after.
	ReplayID int64
	// Data is the event's whole data object, verbatim: {schema, payload,
	// event} for change and platform events, {event, sobject} for PushTopic
	// events.
	Data json.RawMessage
}

// advice is Bayeux advice; the has fields tell which values were sent.
type advice struct {
	reconnect   string
	interval    time.Duration
	hasInterval bool
	timeout     time.Duration
	hasTimeout  bool
}

// merge overwrites a with the values b carries.
func (a *advice) merge(b advice) {
	if b.reconnect != "" {
		a.reconnect = b.reconnect
	}
	if b.hasInterval {
		a.interval, a.hasInterval = b.interval, true
	}
	if b.hasTimeout {
		a.timeout, a.hasTimeout = b.timeout, true
	}
}

// reply is a Bayeux reply on a meta channel, read leniently: a field of the
// wrong JSON type reads as absent.
type reply struct {
	channel       string // "" when the server sent none (Salesforce does, on some errors)
	id            string
	clientID      string
	successful    bool
	err           string
	advice        advice
	replayExt     bool   // ext.replay is true (handshake)
	failureReason string // ext.sfdc.failureReason (denied handshake)
}

// toError returns the Error for an unsuccessful reply to a request on
// channel.
func (r *reply) toError(channel string) *Error {
	return &Error{
		Channel: channel, Code: bayeuxCode(r.err), Message: r.err,
		Reason: r.failureReason, Reconnect: r.advice.reconnect,
	}
}

// findReply returns the reply to the request with id on channel: the reply
// on that channel (with that id, if the server echoed one), else a reply
// without a channel, as Salesforce sends some errors. Nil when there is none.
func findReply(replies []reply, channel, id string) *reply {
	var fallback *reply
	for i := range replies {
		r := &replies[i]
		switch {
		case r.channel == channel && (r.id == "" || r.id == id):
			return r
		case r.channel == "" && (r.id == "" || r.id == id) && fallback == nil:
			fallback = r
		}
	}
	return fallback
}

// decodeMessages reads a Bayeux response body: a JSON array of messages (or
// a single message object). Messages on /meta/ channels, and messages
// without a channel, are replies; messages on other channels with a data
// field are events, in the order received; anything else is ignored. It
// fails, wrapping ErrMalformedResponse, when the body is not such JSON or an
// event lacks an object data with an integer event.replayId.
func decodeMessages(body []byte) ([]Message, []reply, error) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
		}
	case len(body) > 0 && body[0] == '{':
		raws = []json.RawMessage{body}
	default:
		return nil, nil, fmt.Errorf("%w: not a JSON message array", ErrMalformedResponse)
	}
	var events []Message
	var replies []reply
	for i, raw := range raws {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return nil, nil, fmt.Errorf("%w: message %d is not an object", ErrMalformedResponse, i)
		}
		channel := rawString(fields["channel"])
		if channel == "" || strings.HasPrefix(channel, "/meta/") {
			replies = append(replies, decodeReply(channel, fields))
			continue
		}
		data, ok := fields["data"]
		if !ok {
			continue // a publish acknowledgement; this client publishes nothing
		}
		ev, err := decodeEvent(channel, data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: event %d on %s: %w", ErrMalformedResponse, i, channel, err)
		}
		events = append(events, ev)
	}
	return events, replies, nil
}

// decodeEvent reads the data of an event.
func decodeEvent(channel string, data json.RawMessage) (Message, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return Message{}, fmt.Errorf("data is not an object")
	}
	var event map[string]json.RawMessage
	if err := json.Unmarshal(obj["event"], &event); err != nil || event == nil {
		return Message{}, fmt.Errorf("no event object")
	}
	id, ok := rawInt(event["replayId"])
	if !ok {
		return Message{}, fmt.Errorf("no integer event.replayId")
	}
	// Copy: the caller owns Data, and it must not pin the response body.
	return Message{Channel: channel, ReplayID: id, Data: bytes.Clone(bytes.TrimSpace(data))}, nil
}

// decodeReply reads the fields of a reply.
func decodeReply(channel string, fields map[string]json.RawMessage) reply {
	r := reply{
		channel:  channel,
		clientID: rawString(fields["clientId"]),
		err:      rawString(fields["error"]),
	}
	if id, ok := rawInt(fields["id"]); ok {
		r.id = strconv.FormatInt(id, 10)
	} else {
		r.id = rawString(fields["id"])
	}
	_ = json.Unmarshal(fields["successful"], &r.successful)
	var adv map[string]json.RawMessage
	if json.Unmarshal(fields["advice"], &adv) == nil {
		r.advice.reconnect = rawString(adv["reconnect"])
		if ms, ok := rawMillis(adv["interval"]); ok {
			r.advice.interval, r.advice.hasInterval = min(ms, maxAdviceInterval), true
		}
		if ms, ok := rawMillis(adv["timeout"]); ok {
			r.advice.timeout, r.advice.hasTimeout = min(ms, maxAdviceTimeout), true
		}
	}
	var ext map[string]json.RawMessage
	if json.Unmarshal(fields["ext"], &ext) == nil {
		_ = json.Unmarshal(ext["replay"], &r.replayExt)
		var sfdc map[string]json.RawMessage
		if json.Unmarshal(ext["sfdc"], &sfdc) == nil {
			r.failureReason = rawString(sfdc["failureReason"])
		}
	}
	return r
}

// rawString returns raw as a string when it is a JSON string, else "".
func rawString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// rawInt reads an integer sent as a JSON number or a numeric string.
func rawInt(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	text := string(raw)
	if raw[0] == '"' {
		if text = rawString(raw); text == "" {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	return n, err == nil
}

// rawMillis reads a non-negative JSON number of milliseconds.
func rawMillis(raw json.RawMessage) (time.Duration, bool) {
	var ms float64
	if len(raw) == 0 || json.Unmarshal(raw, &ms) != nil || ms < 0 {
		return 0, false
	}
	if ms > float64(maxAdviceTimeout/time.Millisecond) {
		return maxAdviceTimeout, true
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}
