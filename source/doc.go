// Package source is the Salesforce streaming source: it subscribes to
// Change Data Capture, platform event and PushTopic channels (Pub/Sub API
// over gRPC, or the Streaming API over CometD), turns every event into one
// Kafka record per record id, in the envelope defined by
// schemas/change_envelope.avsc, and hands them to the connectorlib source
// runner, which makes records and replay ids durable together.
//
// Where a Salesforce event becomes Kafka records: stream_pubsub.go and
// stream_cometd.go receive events, envelope.go builds envelopes, and
// records.go turns them into connectorlib.Records (key, topic, headers,
// fan-out, tombstones, dead letters).
//
// A channel's stored position (position.go) is "sfp1", the commit
// timestamp of the last change at or before it (epoch milliseconds, 8
// bytes big-endian) and the replay id; positions written by earlier
// versions, the bare replay id, are still read. The commit timestamp is
// where a resync after a restart starts (SOURCE_ON_INVALID_REPLAY=resync).
package source
