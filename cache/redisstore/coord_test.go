package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

// TestBudgetSharedByReplicas: two stores on one Redis (two replicas) share
// one budget: together they get exactly the limit per window.
func TestBudgetSharedByReplicas(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	a, b := newStore(t, url, prefix), newStore(t, url, prefix)
	ba := a.Budget(map[string]int{"put": 5}, time.Minute, 0)
	bb := b.Budget(map[string]int{"PUT": 5}, time.Minute, 0)
	taken := 0
	for i := range 10 {
		bud := ba
		if i%2 == 1 {
			bud = bb
		}
		wait, err := bud.TryTake(t.Context(), "PUT")
		if err != nil {
			t.Fatal(err)
		}
		if wait == 0 {
			taken++
		} else if wait > time.Minute+time.Millisecond || wait < 50*time.Second {
			t.Errorf("wait %v, want about a minute", wait)
		}
	}
	if taken != 5 {
		t.Fatalf("replicas took %d calls together, want 5", taken)
	}
	if wait, err := ba.TryTake(t.Context(), "GET"); err != nil || wait != 0 {
		t.Errorf("unlimited method: wait %v err %v", wait, err)
	}
	// Another prefix is another organization's budget.
	other := newStore(t, url, redistest.Prefix(t)).Budget(map[string]int{"PUT": 5}, time.Minute, 0)
	if wait, _ := other.TryTake(t.Context(), "PUT"); wait != 0 {
		t.Error("budgets under different prefixes are not independent")
	}
}

// TestLockSerialisesReplicas: a read-modify-write done under the lock by
// many goroutines of two replicas loses no update.
func TestLockSerialisesReplicas(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	stores := []interface {
		Lock(context.Context, string, time.Duration) (func(), error)
	}{newStore(t, url, prefix), newStore(t, url, prefix)}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { rc.Close() })
	counter := "{" + prefix + "}:test-counter"
	t.Cleanup(func() { rc.Del(context.Background(), counter) })

	const perWorker, workers = 10, 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			for range perWorker {
				unlock, err := s.Lock(t.Context(), "group:g1", 5*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				v, _ := rc.Get(t.Context(), counter).Result()
				n, _ := strconv.Atoi(v)
				rc.Set(t.Context(), counter, n+1, 0)
				unlock()
			}
		}()
	}
	wg.Wait()
	if v, _ := rc.Get(t.Context(), counter).Int(); v != perWorker*workers {
		t.Fatalf("counter %d, want %d: an update was lost", v, perWorker*workers)
	}
}

// TestLockWaitsAndRenews: a held lock (kept past its ttl by renewal) makes
// another replica wait until ctx ends; once released it can be taken.
func TestLockWaitsAndRenews(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	a, b := newStore(t, url, prefix), newStore(t, url, prefix)
	unlock, err := a.Lock(t.Context(), "user:u1", 90*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(ctx, "user:u1", time.Second); err == nil {
		t.Fatal("second replica took a lock that is held (and renewed past its ttl)")
	}
	if u2, err := b.Lock(t.Context(), "user:u2", time.Second); err != nil {
		t.Fatalf("another key is independent: %v", err)
	} else {
		u2()
	}
	unlock()
	unlock() // idempotent
	u, err := b.Lock(t.Context(), "user:u1", time.Second)
	if err != nil {
		t.Fatalf("lock not free after release: %v", err)
	}
	u()
}

// TestLookupWithGroups: one round trip gives the record and exactly what
// GroupsOf gives, sorted; a missing name is ErrNotFound.
func TestLookupWithGroups(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	s := newStore(t, url, prefix)
	ctx := t.Context()
	now := time.Now().UTC()
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindUser, ID: "u1", Name: "Ada@Corp.example", ExternalID: "e1", Created: now, Modified: now}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g2", "g1"} {
		if _, err := s.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: g, Name: g, Members: []string{"u1"}, Created: now, Modified: now}); err != nil {
			t.Fatal(err)
		}
	}
	rec, groups, err := s.LookupWithGroups(ctx, cache.KindUser, cache.IndexName, "ada@corp.EXAMPLE")
	if err != nil || rec.ID != "u1" || !slices.Equal(groups, []string{"g1", "g2"}) {
		t.Fatalf("got %+v %v %v", rec, groups, err)
	}
	want, _ := s.GroupsOf(ctx, "u1")
	if !slices.Equal(groups, want) {
		t.Errorf("groups %v, GroupsOf %v", groups, want)
	}
	if rec, groups, err = s.LookupWithGroups(ctx, cache.KindUser, cache.IndexExternalID, "e1"); err != nil || rec.ID != "u1" || len(groups) != 2 {
		t.Errorf("by externalId: %+v %v %v", rec, groups, err)
	}
	if _, _, err := s.LookupWithGroups(ctx, cache.KindUser, cache.IndexName, "nobody"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}
