package cosmos

import "sync"

// cachedDoc is a document as this process last wrote it.
type cachedDoc struct {
	doc  map[string]any // never modified once cached
	etag string
	pk   any
}

// docCache remembers the documents this process wrote, with their ETags,
// so that the next change to a document is applied to the remembered state
// and written with If-Match without reading it first. It never makes a
// write unconditional: when someone else changed the document, the ETag
// no longer matches, the entry is dropped and the document re-read. An
// entry may only be stale in the direction of "older than stored": other
// writers of a sink only move a document forward, so a change the cache
// calls stale is stale.
type docCache struct {
	mu    sync.Mutex
	max   int
	items map[string]cachedDoc
	order []string // insertion order, for eviction
}

func newDocCache(max int) *docCache { return &docCache{max: max, items: map[string]cachedDoc{}} }

func (c *docCache) get(id string) (cachedDoc, bool) {
	if c.max == 0 {
		return cachedDoc{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.items[id]
	return d, ok
}

func (c *docCache) put(id string, d cachedDoc) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[id]; !ok {
		// Evict the oldest insertions; entries re-put keep their place,
		// which is close enough to LRU for a stream keyed by record.
		for len(c.items) >= c.max && len(c.order) > 0 {
			delete(c.items, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, id)
		if len(c.order) > 2*c.max {
			// Compact the ids of entries forgotten meanwhile.
			kept := c.order[:0]
			for _, k := range c.order {
				if _, ok := c.items[k]; ok {
					kept = append(kept, k)
				}
			}
			c.order = kept
		}
	}
	c.items[id] = d
}

func (c *docCache) forget(id string) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, id)
}
