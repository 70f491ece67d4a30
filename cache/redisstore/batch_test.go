package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

// TestConcurrentLookupsPipelined: many lookups at once, found and not
// found, by name and by externalId, are sent as pipelines and every caller
// gets its own answer, also after Redis forgot the script.
func TestConcurrentLookupsPipelined(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	s := newStore(t, url, prefix)
	ctx := t.Context()
	now := time.Now().UTC()
	const users = 300
	for i := range users {
		rec := cache.Record{Kind: cache.KindUser, ID: fmt.Sprintf("id-%d", i), Name: fmt.Sprintf("User%d@Corp.example", i),
			ExternalID: fmt.Sprintf("ext-%d", i), Created: now, Modified: now}
		if _, err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g1", Name: "g1", Members: []string{"id-7"}, Created: now, Modified: now}); err != nil {
		t.Fatal(err)
	}
	opts, _ := redis.ParseURL(url)
	admin := redis.NewClient(opts)
	defer admin.Close()

	round := func(t *testing.T) {
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Go(func() {
				for j := range 40 {
					i := (w*40 + j) % (users + 50) // the last 50 do not exist
					var rec cache.Record
					var groups []string
					var err error
					if j%2 == 0 {
						rec, groups, err = s.LookupWithGroups(ctx, cache.KindUser, cache.IndexName, fmt.Sprintf("user%d@corp.EXAMPLE", i))
					} else {
						rec, err = s.Lookup(ctx, cache.KindUser, cache.IndexName, fmt.Sprintf("USER%d@corp.example", i))
					}
					switch {
					case i >= users:
						if !errors.Is(err, cache.ErrNotFound) {
							t.Errorf("lookup %d: got %+v, %v; want not found", i, rec, err)
						}
					case err != nil || rec.ID != fmt.Sprintf("id-%d", i):
						t.Errorf("lookup %d: got %q, %v", i, rec.ID, err)
					case j%2 == 0 && (i == 7) != (len(groups) == 1):
						t.Errorf("lookup %d: groups %v", i, groups)
					}
				}
			})
		}
		wg.Wait()
	}
	round(t)
	lookups, pipelines := s.LookupStats()
	if lookups != 64*40 {
		t.Errorf("%d lookups sent, want %d", lookups, 64*40)
	}
	if pipelines >= lookups {
		t.Errorf("%d lookups in %d pipelines: none were batched", lookups, pipelines)
	}
	t.Logf("%d lookups in %d pipelines", lookups, pipelines)

	// A restarted or flushed Redis has no scripts: lookups load it again.
	if err := admin.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	round(t)
}

// TestLookupAfterClose: a closed store answers lookups with an error at
// once instead of leaving the caller waiting.
func TestLookupAfterClose(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	s := newStore(t, url, prefix)
	if _, err := s.Lookup(t.Context(), cache.KindUser, cache.IndexName, "nobody"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("before close: %v", err)
	}
	s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := s.Lookup(ctx, cache.KindUser, cache.IndexName, "nobody")
	if err == nil || errors.Is(err, cache.ErrNotFound) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after close: %v, want the store's closed error", err)
	}
}

// TestLookupCancelled: a caller whose context ends stops waiting.
func TestLookupCancelled(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	s := newStore(t, url, prefix)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Lookup(ctx, cache.KindUser, cache.IndexName, "nobody"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled lookup: %v", err)
	}
}
