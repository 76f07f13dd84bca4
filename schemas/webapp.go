package schemas

import _ "embed"

// WebAppChange is the Avro schema of the Salesforce sink's input records
// (io.sfconnect.v1.WebAppChange, webapp_change.avsc): one change the web
// application made, to be written back to Salesforce. The JSON form uses
// the same field names, with changed_at as epoch milliseconds or an RFC
// 3339 string.
//
//go:embed webapp_change.avsc
var WebAppChange string
