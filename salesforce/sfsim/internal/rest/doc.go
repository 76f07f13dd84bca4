// Package rest is sfsim's REST API: the resources under /services/data/
// that jsforce, the Pub/Sub client's helpers and sfconnect's own Salesforce
// client call, served by one http.Handler over an *org.Org.
//
// # Every request
//
// In order:
//
//  1. Config.Fault, when set and it answers, decides the response (no
//     session check, no API budget).
//  2. GET /services/data/ lists the versions. Like Salesforce it needs no
//     session and carries no Sforce-Limit-Info.
//  3. The token (Authorization: Bearer or OAuth) is validated; a missing or
//     invalid one gives 401 [{"message":"Session expired or invalid",
//     "errorCode":"INVALID_SESSION_ID"}] (auth.WriteInvalidSession), without
//     Sforce-Limit-Info since no org is known yet.
//  4. One request is spent from the org's daily budget (org.SpendAPI);
//     every response from here on has Sforce-Limit-Info: api-usage=<used>/<max>.
//     A spent budget gives 403 [{"message":"TotalRequests Limit exceeded.",
//     "errorCode":"REQUEST_LIMIT_EXCEEDED"}]. Composite and batch
//     subrequests spend nothing: the composite request is one API call.
//  5. The version in the URL must be v20.0 to v99.0 (404 otherwise). The
//     change origin of the request's writes is
//     org.Origin{API: "rest", Version: <URL version>, Client: <id>} where
//     <id> is client=<id> from Sforce-Call-Options (pairs separated by ","
//     or ";", other pairs ignored).
//
// # Resources (relative to /services/data/vXX.X)
//
//	GET    /                                  resources, plus identity (jsforce's identity() reads it)
//	GET    /limits                            DailyApiRequests from the org's budget; other entries fixed
//	GET    /sobjects                          describeGlobal
//	GET    /sobjects/{type}                   basic information; POST creates (201 {"id","success","errors"})
//	GET    /sobjects/{type}/describe          full describe (salesforce.Field attributes plus Salesforce's others)
//	GET    /sobjects/{type}/{id}[?fields=]    record with attributes{type,url}; PATCH 204; DELETE 204
//	POST   /sobjects/{type}/Id                create, as POST /sobjects/{type}
//	GET    /sobjects/{type}/{field}/{value}   record by external id (300 on several); PATCH upserts; DELETE
//	GET    /query?q=, /queryAll?q=            SOQL (package soql); pages of 2,000 (Sforce-Query-Options: batchSize=200..2000)
//	GET    /query/{locator}-{offset}          next page (also under /queryAll)
//	POST   /composite                         up to 25 subrequests in one transaction
//	POST   /composite/batch                   up to 25 subrequests, each committed on its own
//	POST|PATCH|DELETE /composite/sobjects     sObject Collections (200 records, one transaction), API 42.0+
//	GET|POST /composite/sobjects/{type}       retrieve several ids (jsforce's retrieve of an array)
//	PATCH  /composite/sobjects/{type}/{field} upsert collection, API 46.0+
//	POST|GET /jobs/ingest                     Bulk API 2.0 ingest jobs, API 41.0+
//	GET|PATCH|DELETE /jobs/ingest/{id}
//	PUT    /jobs/ingest/{id}/batches
//	GET    /jobs/ingest/{id}/successfulResults|failedResults|unprocessedrecords
//
// POST /sobjects/<Name>__e goes to Config.PublishPlatformEvent and POST
// /sobjects/PushTopic to Config.CreatePushTopic (404 when unset); so do such
// records in a collection create. They are not transactional: a rollback
// does not unpublish. Because the callbacks may read the org, they are
// refused (NOT_SUPPORTED_IN_SFSIM) after a write in the same /composite or
// collection request, when this package holds the org's lock.
//
// # Errors
//
// Single-record resources answer a JSON array: [{"message","errorCode",
// "fields"}] with 400 for validation errors, 404 [{"errorCode":"NOT_FOUND",
// "message":"The requested resource does not exist"}] for unknown
// resources, types and ids, 404 ENTITY_IS_DELETED for writes to deleted
// records, 400 MALFORMED_ID for updates and deletes of malformed ids, 405
// METHOD_NOT_ALLOWED, and 400 JSON_PARSER_ERROR for unreadable bodies.
// Query errors are 400 [{"message","errorCode"}]. sObject Collections
// results use statusCode. Request bodies above 16 MiB (JSON) or 20 MiB
// (Bulk CSV) get 413 REQUEST_ENTITY_TOO_LARGE, a simulator limit.
//
// # Decisions on unverified behaviour
//
//   - Upsert of an existing record answers 200 {"id","success":true,
//     "errors":[],"created":false} from API 46.0 (the version that added
//     "created") and 204 below; creates answer 201 with "created":true from
//     46.0. jsforce accepts both.
//   - A bad external id field answers 404 NOT_FOUND "Provided external ID
//     field does not exist or is not accessible: <field>". Id or the
//     external id field in an upsert body gives 400 INVALID_FIELD (wording
//     ours). ?updateOnly=true without a match gives 404 NOT_FOUND.
//   - An insert naming an Id gives INVALID_FIELD "cannot specify Id in an
//     insert call" (the SOAP wording).
//   - Sforce-Call-Options of the top-level /composite, /composite/batch or
//     collection request sets the origin of every subrequest; the header in
//     a subrequest's httpHeaders is ignored. For Bulk API 2.0 the header of
//     the job creation request counts, with API "bulkapi".
//   - /composite runs subrequests in order (collateSubrequests is accepted
//     and ignored) inside one org transaction begun at the first write, so
//     all changes share one transactionKey. allOrNone=false takes a savepoint
//     per subrequest and rolls back to it on failure; a subrequest whose
//     reference cannot be resolved (its target failed, or the path has no
//     value) fails 400 PROCESSING_HALTED "Invalid reference specified. No
//     value for <ref.path> found in <ref>". allOrNone=true rolls everything
//     back on the first failure (an HTTP status of 400 or more, or a failed
//     record in a collection subrequest, whose allOrNone it forces) and
//     answers every other subrequest 400 PROCESSING_HALTED. Malformed
//     requests (no or more than 25 subrequests, more than 5 query or
//     collection subrequests, bad method, url, referenceId, duplicate
//     referenceId, forbidden httpHeaders, unsupported resource) get 400
//     INVALID_API_INPUT before anything runs (wording ours). A string
//     value that is exactly one reference takes the referenced value's
//     JSON type; references elsewhere are replaced by the value's text.
//     Only Location is reported in a subrequest's httpHeaders.
//   - Queries after a write inside one /composite need (*org.Tx).Records,
//     which the org package lacks; until it has it they fail 400
//     NOT_SUPPORTED_IN_SFSIM. Queries before the first write work.
//   - /queryAll returns the same records as /query: the org does not expose
//     its recycle bin.
//   - Query cursors expire after 15 minutes without use (on Config.Now);
//     at most 10 are kept, the oldest released first, as Salesforce does
//     per user. An unknown or expired locator gives 400
//     INVALID_QUERY_LOCATOR.
//   - /composite/batch subrequest URLs may be "vXX.X/..." or
//     "/services/data/vXX.X/..."; versions from 34.0 to the batch's own.
//     Halted subrequests get 412 [{"errorCode":"BATCH_PROCESSING_HALTED",
//     "message":"Batch processing halted per request"}] (wording ours).
//   - sObject Collections: more than 200 records gives 400
//     EXCEEDED_ID_LIMIT "record limit reached. cannot submit more than 200
//     records into this call". The limit of 10 type chunks per create is
//     not enforced. Failed creates carry no id; failed updates and deletes
//     carry theirs; a missing id gives MISSING_ARGUMENT "Id not specified in
//     an update call"; a delete of an unknown id gives
//     INVALID_CROSS_REFERENCE_KEY. Upsert collections report
//     DUPLICATE_EXTERNAL_ID for a value repeated in the request or matching
//     several records.
//   - Bulk API 2.0: the job creation answers 200 with the job. One upload
//     per job (a second gives 400 INVALIDJOB). State changes not allowed
//     from the current state, uploads to a job that is not Open and deletes
//     of Open or InProgress jobs give 409 INVALIDJOBSTATE. After
//     UploadComplete a goroutine processes 200 rows per transaction
//     (Origin API "bulkapi"); empty cells leave a field unset, #N/A sets it
//     to null. A malformed CSV (parse error, wrong number of columns, line
//     endings not matching lineEnding, unknown column) fails the job with
//     errorMessage, and unprocessedrecords then returns the upload as is.
//     A blank line is a record with an empty value in a single-column file
//     (jsforce writes a record without values that way) and is skipped in
//     wider files. Handler.Close stops processing between chunks; the job
//     then fails with the rows left in unprocessedrecords.
//     Result files quote every value; sf__Error is
//     CODE:message:field1,field2 -- (CODE:message:-- without fields).
//     hardDelete deletes to the recycle bin like delete. Terminal jobs are
//     forgotten after 7 days.
package rest
