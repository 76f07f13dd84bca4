// Package schemas holds the Avro schemas (.avsc) that are the source of
// truth for the records sfconnect writes and reads, embedded so that code
// and documentation use the same text.
package schemas
