package pubsub

import "errors"

// ErrInvalidReplayID reports replay id bytes that do not hold a replay id
// this package can decode; see [DecodeReplayID].
var ErrInvalidReplayID = errors.New("invalid replay id")
