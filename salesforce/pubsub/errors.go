package pubsub

import "errors"

// ErrInvalidReplayID reports replay id bytes that do not hold a replay id
// this package can decode; see [DecodeReplayID].
var ErrInvalidReplayID = errors.New("invalid replay id")

// ErrAuth reports a call the server refused as UNAUTHENTICATED. A unary call
// or the start of a subscription is refused this way only after the client
// invalidated the token and tried once more with a fresh session, so the
// credentials themselves (or the user's access to the API) are the problem;
// those errors are permanent. A running subscription refused mid-stream
// (its session ended) wraps ErrAuth too, marked retryable: the token has been
// invalidated and a new Subscribe starts with a fresh one.
var ErrAuth = errors.New("pub/sub authentication failed")

// ErrStreamClosed reports a subscription the server ended without an error
// status: most often the idle close, when the subscription was owed no
// events and sent no FetchRequest for about 60 seconds (see
// [Subscription.Recv]). It is retryable: subscribe again from the last
// replay id.
var ErrStreamClosed = errors.New("subscription ended by the server")

// ErrClosed reports a call on a [Client] or [Subscription] after its Close.
var ErrClosed = errors.New("pub/sub client closed")

// ErrInvalidConfig reports a [DialConfig] or [SubscribeConfig] that cannot
// work; the message names every problem. It is permanent.
var ErrInvalidConfig = errors.New("invalid pub/sub configuration")
