package schemas

import _ "embed"

// ChangeEnvelope is the Avro schema of the source's record values
// (io.sfconnect.v1.ChangeEnvelope, change_envelope.avsc).
//
//go:embed change_envelope.avsc
var ChangeEnvelope string
