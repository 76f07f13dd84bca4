// Package cometd is sfsim's Streaming API: the Bayeux long-polling server
// that Salesforce runs at /cometd/{version}, serving change events, platform
// events and PushTopic events from the simulator's bus to jsforce (faye) and
// cometd clients unchanged. The facts it follows are in the project's
// protocol reference (shared docs, salesforce-protocol.md, §2.4, §3, §4, §6).
//
// # Transport
//
// [Handler] answers POSTs of a JSON array of Bayeux messages (a single
// message object is accepted too) with a JSON array and HTTP 200. Messages
// may be batched. Only long-polling exists: handshake replies advertise
// supportedConnectionTypes ["long-polling"], and WebSocket upgrade requests
// get HTTP 400 so that both clients fall back. The path is
// /cometd/{version}, optionally followed by one segment that cometd appends
// (/cometd/62.0/connect). Versions below 37.0 and a missing version fail
// with Salesforce's errors. Bodies over 32,768 bytes fail every message with
// 413::Maximum Request Size Exceeded; a body that is not JSON gets HTTP 400.
//
// A handshake sets the BAYEUX_BROWSER cookie (Path=/, HttpOnly, and Secure
// over TLS) unless the request carries one; later messages of the session
// without the cookie fail with "400::Client <clientId> has established a
// session, but no BAYEUX_BROWSER cookie present".
//
// # Authentication
//
// Every request carries "Authorization: OAuth <token>" (jsforce) or
// "Bearer <token>" (cometd), checked with [Validator]. A handshake without a
// token, or with an invalid or expired one, is denied:
//
//	{"channel":"/meta/handshake","successful":false,"error":"403::Handshake denied",
//	 "advice":{"reconnect":"none"},"ext":{"sfdc":{"failureReason":"401::Authentication invalid"}}}
//
// (failureReason 401::Request requires authentication without a token).
// When the token stops being valid on a live session, /meta/connect,
// /meta/subscribe and /meta/unsubscribe fail with 401::Authentication invalid
// and advice {"reconnect":"none","interval":0}. A request without an
// Authorization header on a live session is checked with the token the
// session was handshaken with.
//
// # Sessions
//
// A handshake reply carries a new clientId and ext {"replay":true,
// "payload.format":true}. A client must send /meta/connect within
// [Config.ReconnectWindow] (default 40 s) of its previous connect reply (or
// of the handshake) while no connect is held; otherwise its session ends and
// every later message gets 403::Unknown client with advice
// {"interval":0,"reconnect":"handshake"} (403::Client has not completed
// handshake, with the same advice, when a message has no clientId).
//
// /meta/connect replies carry advice {"reconnect":"retry","interval":0,
// "timeout":<LongPollTimeout in ms>} (110000 by default). The first connect
// of a session, a connect batched with other messages and a connect asking
// for advice.timeout 0 return at once; any other connect is held until
// events are available or [Config.LongPollTimeout] passes. A newer connect
// of the same client releases a held one. Events travel in the body of
// connect responses only, after the replies to the other messages of the
// batch and before the connect reply, at most 100 per response.
//
// # Subscriptions and replay
//
// /meta/subscribe takes a subscription string or array (echoed in the same
// form). ext.replay maps channels to a replay value, a JSON number or string:
// -1 (or no value, or null) delivers only new events, -2 every retained
// event, and a replay id N the events after N. A value the bus cannot resume
// after (purged, in the future, not a number, another negative number)
// fails with, N substituted inside the braces (see errors.go for why the
// braces stay):
//
//	400::The replayId {N} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.
//
// A channel the org does not have fails with
// 400::The channel you requested to subscribe to doesn't exist {channel},
// one without a leading slash with
// 400::Channel subscriptions must start with a leading '/', and one without
// a subscription field with 400::Channel name not specified. A subscription
// to several channels is all or nothing. Resubscribing to a channel resets
// its position. If a live subscription falls behind the retention window
// (only possible when a test advances the clock), it resumes at the oldest
// retained event.
//
// Events of a subscription arrive in replay order, each as
// {"channel": <the subscribed channel>, "data": {...}}:
//
//   - change events: {"schema", "payload", "event":{"replayId"}} with the
//     payload of [cdc.CometDPayload]: field names, not bitmaps, in
//     changedFields (BillingAddress.City), no nulledFields or diffFields,
//     null and unchanged fields left out, dates as ISO strings;
//   - platform events: {"schema", "payload":{CreatedDate (ISO), CreatedById,
//     fields…}, "event":{"replayId","EventUuid"}};
//   - PushTopic events: {"event":{"type","createdDate","replayId"},
//     "sobject":{"Id",…}}, the sObject exactly as the publisher set it.
//
// # Faults
//
// [Config.Fault] is consulted once per Bayeux POST before anything else; when
// it fires the request is answered with its status and body, which both
// clients treat as a transport failure and retry. [Handler.DropSessions]
// ends every session, as a server restart would.
package cometd
