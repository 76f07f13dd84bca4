// Package connectorlib is sfconnect's connector runtime: the part of a
// Kafka Connect-style connector that knows Kafka, offsets, retries and dead
// letters, and nothing about Salesforce or Cosmos DB.
//
// A connector implements [Source] or [Sink]; the runtime ([SourceRunner],
// [SinkRunner]) owns ordering, durability and acknowledgement:
//
//   - Source path: Source.Read -> Kafka produce -> offset persisted
//     (in the same transaction, or after a contiguous prefix is acked)
//     -> Source.Ack. A position is acknowledged to the source only after the
//     records up to it are in Kafka and the position itself is durable.
//   - Sink path: Kafka fetch -> Sink.Write -> every record either applied or
//     dead-lettered -> consumer offset committed. Offsets never move past a
//     record that was neither applied nor dead-lettered.
//
// Retryability is classified in one place, [IsRetryable]; connectors mark
// errors with [Permanent] or [Retryable].
package connectorlib
