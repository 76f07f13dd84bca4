package pubsub

import (
	"encoding/binary"
	"fmt"
)

// Replay id sizes on the wire. Replay ids are opaque bytes in the protocol,
// but in practice they are a big-endian 64-bit integer (a Java long).
const (
	// replayIDLen is the size of an encoded replay id: one big-endian int64.
	// The Node client encodes the CUSTOM replay ids it sends as exactly this.
	replayIDLen = 8
	// replayIDPaddedLen is what real servers send: the 8-byte integer
	// followed by 2 zero bytes.
	replayIDPaddedLen = 10
)

// EncodeReplayID returns n as an 8-byte big-endian replay id, the form
// clients send in FetchRequest.replay_id.
func EncodeReplayID(n int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, replayIDLen), uint64(n))
}

// DecodeReplayID returns the integer held in a replay id. It accepts the 8
// bytes of a big-endian int64, or 10 bytes where the last two are zero (the
// form real servers send). Anything else returns an error wrapping
// [ErrInvalidReplayID]; it never panics. An integer with the top bit set
// decodes as negative, as it would into a Java long, so every int64 survives
// [EncodeReplayID] and DecodeReplayID unchanged.
func DecodeReplayID(b []byte) (int64, error) {
	switch len(b) {
	case replayIDLen:
	case replayIDPaddedLen:
		if b[8] != 0 || b[9] != 0 {
			return 0, fmt.Errorf("decode replay id: %w: 10 bytes must end in two zero bytes, got %#x", ErrInvalidReplayID, b[8:])
		}
	default:
		return 0, fmt.Errorf("decode replay id: %w: got %d bytes, want 8, or 10 ending in two zero bytes", ErrInvalidReplayID, len(b))
	}
	return int64(binary.BigEndian.Uint64(b[:replayIDLen])), nil
}
