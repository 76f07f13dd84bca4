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
package source
