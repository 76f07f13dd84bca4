package source

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// positionMagic starts a channel position that carries the last commit
// timestamp as well as the replay id. Positions stored before it existed
// are the bare replay id; they are still read (ParsePosition). No replay
// id starts with these bytes in practice: Pub/Sub replay ids are 8-byte
// big-endian counters (these bytes would make one near 8.3e18) and CometD
// ones are stored the same way.
var positionMagic = []byte("sfp1")

// positionHeader is the magic plus the commit timestamp in milliseconds
// since the epoch, big-endian (0: no commit seen yet).
const positionHeader = 4 + 8

// channelPosition encodes a channel's position: the replay id to resume
// after and the commit timestamp of the last change at or before it, so
// that a resync after a restart knows where to start (SOURCE_RESYNC_BUFFER
// before that commit) instead of re-reading every record.
func channelPosition(replayID []byte, commit time.Time) connectorlib.Position {
	return appendPosition(make([]byte, 0, positionHeader+len(replayID)), replayID, commit)
}

// appendPosition appends channelPosition(replayID, commit) to b.
func appendPosition(b, replayID []byte, commit time.Time) []byte {
	b = append(b, positionMagic...)
	ms := uint64(0)
	if !commit.IsZero() {
		ms = uint64(commit.UnixMilli())
	}
	b = binary.BigEndian.AppendUint64(b, ms)
	return append(b, replayID...)
}

// ParsePosition returns the replay id of a stored channel position and the
// commit timestamp it carries (zero for a position written before
// positions carried one, or before any commit was seen).
func ParsePosition(p connectorlib.Position) (replayID []byte, commit time.Time) {
	if len(p) < positionHeader || !bytes.HasPrefix(p, positionMagic) {
		return p, time.Time{} // the old format: the bare replay id
	}
	if ms := binary.BigEndian.Uint64(p[4:positionHeader]); ms != 0 {
		commit = time.UnixMilli(int64(ms)).UTC()
	}
	return p[positionHeader:], commit
}

// stampPositions rewrites the positions of channel's records in recs from
// bare replay ids to channelPosition, each carrying the latest commit
// timestamp at or before its record, starting from commit. Records of one
// event share one position, so consecutive equal positions share one
// encoding; the encodings of a batch are cut from one buffer (one
// allocation per batch, not per event). It returns the latest commit
// timestamp.
func stampPositions(recs []connectorlib.Record, channel string, commit time.Time) time.Time {
	size := 0
	for i := range recs {
		if recs[i].Stream == channel {
			size += positionHeader + len(recs[i].Position)
		}
	}
	buf := make([]byte, 0, size)
	var lastRaw, lastOut connectorlib.Position
	var lastCommit time.Time
	for i := range recs {
		r := &recs[i]
		if r.Stream != channel {
			continue
		}
		if r.Time.After(commit) {
			commit = r.Time
		}
		if lastOut != nil && bytes.Equal(r.Position, lastRaw) && commit.Equal(lastCommit) {
			r.Position = lastOut
			continue
		}
		lastRaw, lastCommit = r.Position, commit
		start := len(buf)
		buf = appendPosition(buf, r.Position, commit)
		r.Position = buf[start:len(buf):len(buf)]
		lastOut = r.Position
	}
	return commit
}
