// Package cometd is a Bayeux long-polling client for Salesforce's Streaming
// API (CometD), used by the source connector for PushTopics and for orgs that
// need the legacy API instead of the Pub/Sub API. The wire facts it follows
// are in the protocol reference (salesforce-protocol.md §2.4, §3, §4).
//
// # Usage
//
//	c := cometd.New(cometd.Config{Tokens: tokens})
//	sub, err := c.Subscribe(ctx, "/data/AccountChangeEvent", -2)
//	for {
//		msgs, err := sub.Recv(ctx)
//		...
//	}
//	_ = sub.Close(ctx)
//
// # Sessions
//
// Each [Subscription] is its own Bayeux session: its own handshake, clientId
// and BAYEUX_BROWSER cookie jar, subscribed to exactly one channel. The source
// uses one subscription per channel, so this is all it needs; note that every
// subscription counts against the org's concurrent CometD client allocation
// (20 on Developer Edition).
//
// Subscribe handshakes (POST a JSON array to {instanceUrl}/cometd/{version},
// "Authorization: OAuth <token>", long-polling, ext {"replay":true}) and
// subscribes with ext {"replay":{channel: replayFrom}}. [Subscription.Recv]
// then long-polls /meta/connect and returns the events of one connect
// response.
//
// # Replay and recovery
//
// A subscription remembers the replay id of the last event Recv returned. It
// re-handshakes and resubscribes after that id, transparently, whenever the
// session may have lost events or ended:
//
//   - the server answers 403::Unknown client, or advises reconnect
//     "handshake" (session expired, server restart, sfsim's DropStreams);
//   - a /meta/connect got no usable response (transport failure, HTTP error,
//     cancelled context): the server may have sent events in the lost
//     response and moved past them, so the session is not trusted again.
//
// Before the first event is returned, a resubscribe uses the replayFrom given
// to Subscribe. With -1 this means events published while the session was
// down before the first event arrived are not delivered: Bayeux offers no way
// to learn the tip's replay id. Pass a stored replay id, or -2, when that
// matters.
//
// On 401::Authentication invalid (or a handshake denied with that
// failureReason, or HTTP 401) the rejected token is passed to
// TokenProvider.Invalidate and the subscription handshakes again, once, with
// the provider's next token; if that is rejected too, the error wraps
// [ErrAuth].
//
// # Errors
//
// Errors are classified for connectorlib: transport failures, HTTP 5xx, 408
// and 429 (throttled, honouring Retry-After) and Bayeux 5xx errors are
// retryable; HTTP and Bayeux 4xx errors other than the ones recovered from
// above are permanent. An invalid replay id
// ("400::The replayId {N} you provided was invalid.  …") wraps
// [ErrInvalidReplayID] and is permanent: callers apply their replay policy
// (fail, earliest, latest) by subscribing again. Server failures are
// available as [*Error] through errors.As.
//
// Recv does not retry retryable failures itself: it returns the error, keeps
// its position, and the next Recv call resumes (re-handshaking when needed)
// without loss or duplicates. The caller owns backoff, as connectorlib's
// runner does for Source.Read.
//
// advice.interval from the server is waited before the next request;
// advice.timeout plus [Config.LongPollTimeout] bounds each /meta/connect.
//
// No input from the server makes the client panic; the response parser is
// fuzzed.
package cometd
