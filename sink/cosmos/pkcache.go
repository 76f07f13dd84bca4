package cosmos

import "sync"

// pkCacheSize bounds the partition key cache: about 100 bytes an entry.
const pkCacheSize = 200_000

// pkCache remembers the partition key value of documents this process
// wrote or found, so that an UPDATE or DELETE of a record whose partition
// key is one of its fields needs a point read instead of a cross-partition
// query. A stale entry only costs a query: a point read that finds nothing
// falls back to one.
type pkCache struct {
	mu    sync.Mutex
	max   int
	items map[string]any
}

func newPKCache(max int) *pkCache { return &pkCache{max: max, items: map[string]any{}} }

func (c *pkCache) get(id string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.items[id]
	return v, ok
}

func (c *pkCache) put(id string, pk any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		// Dropping everything is crude but bounded and cheap; entries are
		// only a shortcut.
		clear(c.items)
	}
	c.items[id] = pk
}

func (c *pkCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, id)
}
