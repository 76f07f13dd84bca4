// Package salesforce is the Salesforce write-back sink (sfconnect sink
// salesforce): it consumes web-app change envelopes
// (schemas/webapp_change.avsc, JSON or Avro) and writes them into
// Salesforce with as few API calls as it can.
//
// One Write handles one partition's batch:
//
//  1. decode and map every record (mapping.go); unknown types and unmapped
//     fields are permanent errors, dead-lettered by the runner;
//  2. group the changes by record, in order (coalesce.go); a change after
//     a DELETE starts a new round, written after the previous one;
//  3. look the records up, one SOQL query per object and match field (up
//     to five packed in one /composite call): Id, LastModifiedDate,
//     LastModifiedById and the changed fields (lookup.go);
//  4. resolve conflicts per change with the object's policy (conflict.go);
//     losers go to the conflicts topic before Write returns;
//  5. coalesce each record's winning changes into one operation, drop
//     values Salesforce already holds, and write: upserts by external id
//     through PATCH /composite/sobjects/{type}/{field}, updates and deletes
//     through /composite/sobjects, 200 records a request with allOrNone
//     false, up to five requests packed in one /composite call; above
//     SINK_SALESFORCE_BULK_THRESHOLD records a Bulk API 2.0 ingest job
//     (writer.go, bulk.go). In platform_event mode changes are published as
//     platform events through the Pub/Sub API instead (publish.go).
//
// Every request carries Sforce-Call-Options: client=<SINK_SALESFORCE_CLIENT_ID>
// (the REST client stamps it), so the source's loop filter drops the
// change events our writes cause; list the same id in
// SFCONNECT_SOURCE_LOOP_CLIENT_IDS. Salesforce documents the header for
// sObject, by-external-id and Bulk 2.0 requests; whether /composite and
// sObject Collections carry it into changeOrigin has not been verified
// against a real org (the simulator does); the loop-prevention ADR names
// the fallback (filtering on the sink's commitUser) should it not.
// Requests go through a budget governor (governor.go) and a circuit
// breaker (breaker.go). Because an org out of daily budget stays so for
// hours, run the sink with SFCONNECT_SINK_ON_RETRY_EXHAUSTED=stop, so
// that records wait instead of being dead-lettered as retry_exhausted.
package salesforce
