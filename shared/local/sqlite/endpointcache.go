package sqlite

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outhook/outhook/shared/store"
)

// endpointCacheTTL bounds how long a cached endpoint row is used. The DB's own writes invalidate the cache
// at once; the TTL is only for another process writing the same file (a second server on it), whose changes
// are seen within this time, as its queue messages are within the workers' fallback poll.
const endpointCacheTTL = time.Second

// endpointCacheMax bounds the cached rows; the cache is emptied when it is full.
const endpointCacheMax = 10000

// endpointCache keeps the endpoint rows GetEndpoint read, so that deliveries, which read their endpoint's
// state one by one, read SQLite about once per endpoint and second instead of once per delivery (it was 14%
// of the local server's CPU in a burst). Every write of this DB to the endpoints table bumps gen once it is
// committed (invalidate), which makes every cached row stale: a read after a write returns what was written,
// as the store port requires (strongly consistent). A row read while a write was committing is cached under
// the generation seen before the read, so the bump that follows that write makes it stale too.
type endpointCache struct {
	gen atomic.Uint64
	mu  sync.Mutex
	m   map[store.EndpointRef]cachedEndpoint
}

type cachedEndpoint struct {
	ep    store.Endpoint
	found bool // false: no row (GetEndpoint answers store.ErrNotFound)
	gen   uint64
	at    time.Time
}

// get returns the cached row of ref, if one is current, and the generation to cache a fresh read under.
func (c *endpointCache) get(ref store.EndpointRef) (e cachedEndpoint, ok bool, gen uint64) {
	gen = c.gen.Load()
	c.mu.Lock()
	e, ok = c.m[ref]
	c.mu.Unlock()
	if !ok || e.gen != gen || time.Since(e.at) >= endpointCacheTTL {
		return cachedEndpoint{}, false, gen
	}
	e.ep.EventTypes = slices.Clone(e.ep.EventTypes) // the caller's to change
	return e, true, gen
}

// put caches what a read begun at generation gen found (found false: no row).
func (c *endpointCache) put(ref store.EndpointRef, ep store.Endpoint, found bool, gen uint64) {
	if c.gen.Load() != gen {
		return // a write committed meanwhile: the read may predate it
	}
	ep.EventTypes = slices.Clone(ep.EventTypes)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= endpointCacheMax {
		c.m = make(map[store.EndpointRef]cachedEndpoint)
	}
	c.m[ref] = cachedEndpoint{ep: ep, found: found, gen: gen, at: time.Now()}
}

// invalidate makes every cached row stale; called after each write to the endpoints table has committed (or
// failed: a version conflict says the cached row is stale).
func (c *endpointCache) invalidate() { c.gen.Add(1) }
