// Package offsetstore keeps source positions durable: one entry per
// (connector, stream), the latest value winning.
//
// The Kafka store keeps them in a compacted topic, the same shape as Kafka
// Connect's offsets topic. In exactly-once mode the source runner writes the
// offset records itself, inside the transaction that carries the data
// ([Kafka.Record]); in at-least-once mode it calls [Kafka.Put] after the
// data is acknowledged. Either way [Kafka.Load] reads the topic
// read_committed, so a position from an aborted or unfinished transaction
// is never restored.
package offsetstore
