// Package cdc is the wire format of Salesforce Change Data Capture (CDC)
// events and Platform Events, shared by the simulator (sfsim, which encodes)
// and the source connector (which decodes).
//
// A [Schema] is the Avro schema of one event type. [ChangeEventSchema]
// derives the <Object>ChangeEvent schema from an sObject describe,
// [PlatformEventSchema] derives the schema of a Platform Event, and
// [ParseSchema] reads a schema that Salesforce (or sfsim) served as Avro JSON.
//
// Change events carry a ChangeEventHeader whose changedFields, nulledFields
// and diffFields are hex bitmaps over the schema's field order in Pub/Sub;
// [Schema.EncodeFields] and [Schema.DecodeFields] convert between field names
// and bitmaps. [Schema.Encode] and [Schema.Decode] convert between
// [ChangeEvent] and the Avro binary payload, [Schema.EncodePlatform] and
// [Schema.DecodePlatform] do the same for [PlatformEvent], and
// [CometDPayload] builds the JSON payload of the legacy Streaming API.
//
// The facts this package follows are in the project's protocol reference
// (shared docs, salesforce-protocol.md, sections 2 and 3). Where that
// reference marks a fact unverified, the choice made here is documented on
// the symbol that makes it.
//
// Value types. Decoded values use exactly one Go type per Avro type: string,
// bool, int32 (int), int64 (long), float32 (float), float64 (double), []byte
// (bytes, fixed), string (enum), []any (array), map[string]any (record or
// map; null record fields are left out, null map values kept). Unions
// decode to the value of their branch. Salesforce date and
// datetime fields are Avro longs holding milliseconds since the Unix epoch,
// UTC; time fields are longs holding milliseconds since midnight. Encoding
// also accepts other Go integer and float types (range-checked, floats only
// when integral for int and long), json.Number, and time.Time for longs.
//
// Encoding uses hamba/avro (github.com/hamba/avro/v2). Decoding reads
// hamba's Reader primitives with this package's own schema walker, which
// bounds what hostile payloads can do (see readValue); payloads never panic,
// they decode or return ErrMalformedPayload.
//
// Everything here is safe for concurrent use: a Schema is immutable once
// built.
package cdc
