package cometd

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Meta channels.
const (
	chHandshake   = "/meta/handshake"
	chConnect     = "/meta/connect"
	chSubscribe   = "/meta/subscribe"
	chUnsubscribe = "/meta/unsubscribe"
	chDisconnect  = "/meta/disconnect"
)

// connTypeLongPolling is the only connection type Salesforce supports.
const connTypeLongPolling = "long-polling"

// errMalformedBody reports a request body that is not a JSON message array
// or object.
var errMalformedBody = errors.New("request body is not a Bayeux message array")

// message is one incoming Bayeux message, read leniently: a field of the
// wrong JSON type reads as absent, so no input can fail more than its own
// message.
type message struct {
	// bad is set when the element is not a JSON object.
	bad            bool
	channel        string
	id             json.RawMessage // echoed verbatim; nil when absent or not a scalar
	clientID       string
	connectionType string
	// subscription is the raw subscription field: a string or an array.
	subscription json.RawMessage
	// connTypes is supportedConnectionTypes; nil when absent.
	connTypes []string
	// replay is ext.replay: channel -> raw replay value.
	replay map[string]json.RawMessage
	// adviceTimeout is advice.timeout when the client sent one.
	adviceTimeout    int64
	hasAdviceTimeout bool
}

// parseMessages reads a request body: a JSON array of messages or a single
// message object. It fails only when the body as a whole is not one of
// those; malformed elements become messages with bad set.
func parseMessages(body []byte) ([]*message, error) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, errMalformedBody
		}
	case len(body) > 0 && body[0] == '{':
		if !json.Valid(body) {
			return nil, errMalformedBody
		}
		raws = []json.RawMessage{body}
	default:
		return nil, errMalformedBody
	}
	msgs := make([]*message, 0, len(raws))
	for _, raw := range raws {
		msgs = append(msgs, parseMessage(raw))
	}
	return msgs, nil
}

// parseMessage reads one message.
func parseMessage(raw json.RawMessage) *message {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return &message{bad: true}
	}
	m := &message{
		channel:        rawString(fields["channel"]),
		clientID:       rawString(fields["clientId"]),
		connectionType: rawString(fields["connectionType"]),
	}
	if id := bytes.TrimSpace(fields["id"]); len(id) > 0 && (id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9')) {
		m.id = id
	}
	if sub := bytes.TrimSpace(fields["subscription"]); len(sub) > 0 && (sub[0] == '"' || sub[0] == '[') {
		m.subscription = sub
	}
	if raw, ok := fields["supportedConnectionTypes"]; ok {
		var types []json.RawMessage
		if json.Unmarshal(raw, &types) == nil {
			m.connTypes = []string{}
			for _, t := range types {
				if s := rawString(t); s != "" {
					m.connTypes = append(m.connTypes, s)
				}
			}
		}
	}
	var ext map[string]json.RawMessage
	if json.Unmarshal(fields["ext"], &ext) == nil {
		var replay map[string]json.RawMessage
		if json.Unmarshal(ext["replay"], &replay) == nil {
			m.replay = replay
		}
	}
	var advice map[string]json.RawMessage
	if json.Unmarshal(fields["advice"], &advice) == nil {
		var timeout float64
		if t, ok := advice["timeout"]; ok && json.Unmarshal(t, &timeout) == nil {
			m.adviceTimeout, m.hasAdviceTimeout = int64(timeout), true
		}
	}
	return m
}

// rawString returns raw as a string when it is a JSON string, else "".
func rawString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// channels returns the channels named by a subscription field, and whether
// it was well formed (a string, or an array of strings).
func (m *message) channels() ([]string, bool) {
	if len(m.subscription) == 0 {
		return nil, false
	}
	if m.subscription[0] == '"' {
		s := rawString(m.subscription)
		return []string{s}, true
	}
	var list []json.RawMessage
	if json.Unmarshal(m.subscription, &list) != nil || len(list) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, raw := range list {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// Replay values of the Salesforce replay extension.
const (
	replayNew = -1 // only events published after the subscription
	replayAll = -2 // every retained event
)

// replayValue reads the ext.replay value for channel. It returns the
// value, the text to quote in an error, and whether the value is a whole
// number. Absent and null values are -1, as with no replay extension.
func (m *message) replayValue(channel string) (value int64, text string, ok bool) {
	raw := bytes.TrimSpace(m.replay[channel])
	if len(raw) == 0 || string(raw) == "null" {
		return replayNew, "-1", true
	}
	text = string(raw)
	if raw[0] == '"' {
		text = rawString(raw)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return 0, text, false
	}
	return n, text, true
}

// reply is an outgoing Bayeux message. Field order in CometD JSON is not
// significant, so a map serves.
type reply map[string]any

// newReply starts the reply to m on its channel, echoing id and clientId.
func newReply(m *message) reply {
	r := reply{"channel": m.channel}
	if m.id != nil {
		r["id"] = m.id
	}
	if m.clientID != "" {
		r["clientId"] = m.clientID
	}
	return r
}

// fail marks r unsuccessful with a Bayeux error string.
func (r reply) fail(err string) reply {
	r["successful"] = false
	r["error"] = err
	return r
}

// ok marks r successful.
func (r reply) ok() reply {
	r["successful"] = true
	return r
}
