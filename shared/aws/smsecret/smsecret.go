// Package smsecret implements the secret ports on AWS Secrets Manager: Named reads the config's named
// signing secrets through an in-memory TTL cache, and UserStore keeps one secret per (set, user) whose
// AWSCURRENT value holds the user's current signing secret and every previous one still in its rotation
// window (values written before that list existed keep their previous secret in AWSPREVIOUS).
package smsecret

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/sync/singleflight"
)

// API is the part of the Secrets Manager client the adapters use (*secretsmanager.Client implements it).
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// fetchTimeout bounds a read shared by concurrent callers, which runs on none of their contexts.
const fetchTimeout = 30 * time.Second

// cache is a concurrent-safe TTL cache in front of a loader: concurrent misses of one key make one call.
type cache[V any] struct {
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	items   map[string]cached[V]
	sweepAt int // put drops expired entries when the map reaches this size
	group   singleflight.Group
}

// minSweep is the smallest map size at which put looks for expired entries.
const minSweep = 1024

type cached[V any] struct {
	value   V
	expires time.Time
}

func newCache[V any](ttl time.Duration, now func() time.Time) *cache[V] {
	if now == nil {
		now = time.Now
	}
	return &cache[V]{ttl: ttl, now: now, items: make(map[string]cached[V]), sweepAt: minSweep}
}

// get returns the cached value of key, or loads it once for all concurrent callers and caches it for the
// TTL (errors are not cached). A caller whose ctx ends stops waiting; the shared load goes on.
func (c *cache[V]) get(ctx context.Context, key string, load func(ctx context.Context) (V, error)) (V, error) {
	if v, ok := c.lookup(key); ok {
		return v, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		if v, ok := c.lookup(key); ok { // filled while this call queued
			return v, nil
		}
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		v, err := load(lctx)
		if err != nil {
			return v, err
		}
		c.put(key, v)
		return v, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			var zero V
			return zero, res.Err
		}
		return res.Val.(V), nil
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

func (c *cache[V]) lookup(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	item, ok := c.items[key]
	if !ok || !c.now().Before(item.expires) {
		var zero V
		return zero, false
	}
	return item.value, true
}

func (c *cache[V]) put(key string, v V) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.items[key] = cached[V]{value: v, expires: now.Add(c.ttl)}
	if len(c.items) < c.sweepAt {
		return
	}
	// Drop expired entries, so that a long-lived process seeing many users keeps only the recent ones;
	// sweeping again only after the map doubles keeps put amortized O(1).
	for k, item := range c.items {
		if !now.Before(item.expires) {
			delete(c.items, k)
		}
	}
	c.sweepAt = max(2*len(c.items), minSweep)
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}
