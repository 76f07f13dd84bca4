// Package ingest is the HTTP ingest source (`sfconnect source http`): the
// endpoint Salesforce pushes to, by Apex callouts (JSON webhooks) or by
// workflow Outbound Messages (SOAP notifications), turned into Kafka records
// in the streaming source's envelope family.
//
// It is a push source on the connectorlib pull runtime. An HTTP request is
// parsed and authenticated in full before anything is queued; its records
// are queued under one position of the stream "http" and handed to the
// runner by Read. The runner commits them to Kafka (one transaction in
// exactly_once) and then calls Ack; only Ack answers the request with 200
// or the SOAP Ack envelope. Anything else (a failed transaction, a session
// restart, a timeout) answers 503 or a SOAP fault, so the sender retries.
//
// Retries are recognised by notification id (Outbound Messages) or event
// id / Idempotency-Key (webhooks). The ids are written to a compacted dedup
// topic in the same transaction as the records, and read back when a
// session opens, so a retry after a crash is written once in exactly_once
// and flagged with the sfconnect.duplicate header in at_least_once
// (docs/adr/20261123-http-ingest-durability.md).
package ingest
