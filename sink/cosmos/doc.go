// Package cosmos is the Azure Cosmos DB (NoSQL API) sink: it applies the
// Salesforce source's change envelopes to a container, one document per
// Salesforce record, so the container is a read model kept in step with the
// org.
//
// Every document carries the version of the change it was built from in
// the sfconnect field, and every write is conditional on the document's
// ETag, so an older or repeated change never overwrites a newer state:
// redelivery, replays, restarts and rebalances converge on the same
// documents (docs/adr/20261123-cosmos-version-guard.md). Records with
// different keys are written concurrently; the changes of one record are
// applied strictly in offset order.
package cosmos
