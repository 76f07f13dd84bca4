package offsetstore

import "context"

// Store persists positions per stream for one connector. Positions are
// opaque bytes.
type Store interface {
	// Load returns the last durable position of every stream of the
	// connector. A connector that never stored anything gets an empty map.
	Load(ctx context.Context) (map[string][]byte, error)
	// Put durably stores the given positions; when it returns nil they
	// survive a crash.
	Put(ctx context.Context, positions map[string][]byte) error
}
