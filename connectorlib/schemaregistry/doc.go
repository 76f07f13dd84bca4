// Package schemaregistry is what every sfconnect connector shares of the
// Confluent Schema Registry: its settings (checked the same way whichever
// connector's variables carry them), a client, and a decoder of values in
// the registry's wire format (magic byte 0, 4-byte big-endian schema id,
// Avro binary) that fetches each writer schema once. The connectors keep
// their own variable names and their own record shapes.
package schemaregistry
