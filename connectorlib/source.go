package connectorlib

import "context"

// Source reads records from an external system. The runtime calls Open once,
// then Read and Ack (possibly concurrently with each other) until it calls
// Close. Nothing is called after Close.
//
// The runtime owns ordering and durability: it calls Ack(stream, upTo) only
// after every record of stream up to and including upTo is in Kafka AND upTo
// is durably persisted. A source may therefore release upstream resources
// (for example commit a server-side replay id) on Ack, never earlier.
type Source interface {
	// Open prepares the source to resume after the given positions. from
	// holds the last durable position of each stream the runtime knows of;
	// a stream missing from from starts at the connector's configured
	// initial position. Open must not block for longer than it takes to
	// connect.
	Open(ctx context.Context, from Positions) error

	// Read blocks until at least one record is available and returns the
	// records read, in order per stream. Every record carries Stream and
	// Position. When ctx is done Read returns ctx.Err() promptly; records it
	// had buffered but not returned must be returned by a later Read or
	// re-read after reopening, never dropped. Read returns ErrBackoff when
	// nothing is available right now and the runtime should call it again
	// later.
	Read(ctx context.Context) ([]Record, error)

	// Ack tells the source that every record of stream up to and including
	// upTo is durably in Kafka and upTo is persisted. Positions passed to Ack
	// only move forward. Ack may be called concurrently with Read.
	Ack(ctx context.Context, stream string, upTo Position) error

	// Close releases the source's resources. It must return promptly even
	// while Read is blocked (Read then returns an error), and it is
	// idempotent.
	Close(ctx context.Context) error
}
