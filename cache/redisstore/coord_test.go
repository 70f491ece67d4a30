package redisstore_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// TestBudgetSharedByReplicas: two stores on one Redis (two replicas) share
// one budget: together they get exactly the limit per window. Without a
// reserve, priority calls are ordinary ones.
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
		wait, err := bud.TryTake(t.Context(), "PUT", i%4 == 0)
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
	if wait, err := ba.TryTake(t.Context(), "GET", false); err != nil || wait != 0 {
		t.Errorf("unlimited method: wait %v err %v", wait, err)
	}
	// Another prefix is another organization's budget.
	other := newStore(t, url, redistest.Prefix(t)).Budget(map[string]int{"PUT": 5}, time.Minute, 0)
	if wait, _ := other.TryTake(t.Context(), "PUT", false); wait != 0 {
		t.Error("budgets under different prefixes are not independent")
	}
}

// budgetTake is one TryTake that must not fail.
func budgetTake(t *testing.T, b *redisstore.Budget, method string, priority bool) time.Duration {
	t.Helper()
	wait, err := b.TryTake(t.Context(), method, priority)
	if err != nil {
		t.Fatal(err)
	}
	return wait
}

// TestBudgetReserveSharedByReplicas: with a reserve, ordinary calls of
// either replica stop at limit-reserved, priority calls of either go on up
// to the limit, and GET and POST keep their whole limit.
func TestBudgetReserveSharedByReplicas(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	limits := map[string]int{"GET": 4, "POST": 4, "PUT": 10, "DELETE": 10}
	reserved := upstream.ReservedCalls(limits, 0.25) // PUT and DELETE 3
	buds := []*redisstore.Budget{
		newStore(t, url, prefix).Budget(limits, time.Minute, 0).WithReserved(reserved),
		newStore(t, url, prefix).Budget(limits, time.Minute, 0).WithReserved(reserved),
	}
	for _, m := range []string{"PUT", "DELETE"} {
		for i := range 7 {
			if w := budgetTake(t, buds[i%2], m, false); w != 0 {
				t.Fatalf("%s: ordinary call %d refused (wait %v) below limit-reserved", m, i+1, w)
			}
		}
		for _, b := range buds {
			if w := budgetTake(t, b, m, false); w < 50*time.Second || w > time.Minute+time.Millisecond {
				t.Fatalf("%s: ordinary call past limit-reserved: wait %v, want about a minute", m, w)
			}
		}
		for i := range 3 {
			if w := budgetTake(t, buds[i%2], m, true); w != 0 {
				t.Fatalf("%s: priority call %d refused (wait %v) within the reserve", m, i+1, w)
			}
		}
		for _, prio := range []bool{true, false} {
			if w := budgetTake(t, buds[1], m, prio); w < 50*time.Second || w > time.Minute+time.Millisecond {
				t.Fatalf("%s: priority=%v past the limit: wait %v, want about a minute", m, prio, w)
			}
		}
	}
	for _, m := range []string{"GET", "POST"} {
		for i := range 4 {
			if w := budgetTake(t, buds[i%2], m, false); w != 0 {
				t.Fatalf("%s has no reserve, but ordinary call %d was refused (wait %v)", m, i+1, w)
			}
		}
		if w := budgetTake(t, buds[0], m, true); w == 0 {
			t.Fatalf("%s: a priority call went past the limit", m)
		}
	}
}

// TestBudgetReserveWaits: the wait a refused call is told is for its class:
// a priority call waits for the oldest call to leave the window, an
// ordinary one until the window holds fewer than limit-reserved calls. The
// log is seeded with calls at known times of Redis' clock.
func TestBudgetReserveWaits(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	const window = time.Minute
	// 10 at 25%: 3 reserved, 7 for everyone.
	limits := map[string]int{"DELETE": 10}
	bud := newStore(t, url, prefix).Budget(limits, window, 0).WithReserved(upstream.ReservedCalls(limits, 0.25))
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { rc.Close() })
	key := "{" + prefix + "}:budget:DELETE"
	// seed fills the log with calls taken 50s, 45s, … ago, and returns when
	// (by Redis' clock) the i-th oldest leaves the window.
	seed := func(n int) func(i int) time.Time {
		t.Helper()
		now, err := rc.Time(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		now = now.Truncate(time.Millisecond)
		rc.Del(t.Context(), key)
		at := make([]time.Time, n)
		for i := range n {
			at[i] = now.Add(-50*time.Second + time.Duration(i)*5*time.Second)
			if err := rc.ZAdd(t.Context(), key, redis.Z{Score: float64(at[i].UnixMilli()), Member: strconv.Itoa(i)}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		return func(i int) time.Time { return at[i].Add(window) }
	}
	// checkWait checks that a wait told at about the time before is the
	// time until leaves (+1ms), allowing for the test's own latency.
	checkWait := func(what string, wait time.Duration, before time.Time, leaves time.Time) {
		t.Helper()
		want := leaves.Sub(before) + time.Millisecond
		if wait > want || wait < want-time.Second {
			t.Errorf("%s: wait %v, want %v (less the test's latency)", what, wait, want)
		}
	}
	redisNow := func() time.Time { // to the millisecond, as the script reads it
		now, err := rc.Time(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return now.Truncate(time.Millisecond)
	}

	// The window full: 10 calls at -50s … -5s.
	leaves := seed(10)
	before := redisNow()
	checkWait("priority", budgetTake(t, bud, "DELETE", true), before, leaves(0))
	// An ordinary call needs 4 to leave: the 4th oldest, not the oldest.
	checkWait("ordinary", budgetTake(t, bud, "DELETE", false), before, leaves(3))

	// 8 calls: the reserve is partly used; priority calls still have room.
	leaves = seed(8)
	before = redisNow()
	checkWait("ordinary, 8 in the window", budgetTake(t, bud, "DELETE", false), before, leaves(1))
	if w := budgetTake(t, bud, "DELETE", true); w != 0 {
		t.Errorf("priority call with 8 of 10 in the window: wait %v", w)
	}

	// Without a reserve both classes wait for the oldest.
	plain := newStore(t, url, prefix).Budget(limits, window, 0)
	leaves = seed(10)
	before = redisNow()
	checkWait("no reserve, priority", budgetTake(t, plain, "DELETE", true), before, leaves(0))
	checkWait("no reserve, ordinary", budgetTake(t, plain, "DELETE", false), before, leaves(0))
	// A reserve that would leave ordinary calls no room is none.
	none := newStore(t, url, prefix).Budget(limits, window, 0).WithReserved(map[string]int{"DELETE": 10})
	checkWait("reserve of the whole limit, ordinary", budgetTake(t, none, "DELETE", false), before, leaves(0))
}

// TestBudgetUsage: Usage, from a store that only reports (status), counts
// the calls every replica took in the window by Redis' clock, priority
// ones too, with the limit and the reserve; calls that left the window are
// not counted, and reading takes nothing.
func TestBudgetUsage(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	const window = time.Minute
	limits := map[string]int{"GET": 3, "PUT": 4}
	reserved := upstream.ReservedCalls(limits, 0.5) // PUT 2
	a := newStore(t, url, prefix).Budget(limits, window, 0).WithReserved(reserved)
	b := newStore(t, url, prefix).Budget(limits, window, 0).WithReserved(reserved)
	status := newStore(t, url, prefix).Budget(limits, window, 0).WithReserved(reserved)
	usage := func() map[string]redisstore.BudgetUse {
		t.Helper()
		u, err := status.Usage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	want := map[string]redisstore.BudgetUse{"GET": {Limit: 3}, "PUT": {Limit: 4, Reserved: 2}}
	if got := usage(); !maps.Equal(got, want) {
		t.Fatalf("fresh budget: %v, want %v", got, want)
	}
	budgetTake(t, a, "PUT", false)
	budgetTake(t, b, "PUT", false)
	if w := budgetTake(t, a, "PUT", false); w == 0 {
		t.Fatal("ordinary PUT into the reserve was taken")
	}
	budgetTake(t, b, "PUT", true)
	budgetTake(t, a, "GET", false)
	budgetTake(t, a, "POST", false) // not limited
	want = map[string]redisstore.BudgetUse{"GET": {Used: 1, Limit: 3}, "PUT": {Used: 3, Limit: 4, Reserved: 2}}
	for range 2 {
		if got := usage(); !maps.Equal(got, want) {
			t.Fatalf("after takes: %v, want %v", got, want)
		}
	}

	// Calls taken a window ago or more are not in it; one a second younger
	// is.
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { rc.Close() })
	now, err := rc.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	key := "{" + prefix + "}:budget:GET"
	for i, age := range []time.Duration{window + time.Hour, window, window - time.Second} {
		z := redis.Z{Score: float64(now.Add(-age).UnixMilli()), Member: "seeded:" + strconv.Itoa(i)}
		if err := rc.ZAdd(t.Context(), key, z).Err(); err != nil {
			t.Fatal(err)
		}
	}
	want["GET"] = redisstore.BudgetUse{Used: 2, Limit: 3}
	if got := usage(); !maps.Equal(got, want) {
		t.Fatalf("with calls seeded a window ago and less: %v, want %v", got, want)
	}

	// Another prefix is another organization's budget.
	other, err := newStore(t, url, redistest.Prefix(t)).Budget(limits, window, 0).Usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if other["PUT"].Used != 0 || other["GET"].Used != 0 {
		t.Errorf("another prefix sees this one's calls: %v", other)
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
	if _, _, err = s.LookupWithGroups(ctx, cache.KindUser, cache.IndexExternalID, "e1"); err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Errorf("by externalId (not unique): %v, want an error other than ErrNotFound", err)
	}
	if _, _, err := s.LookupWithGroups(ctx, cache.KindUser, cache.IndexName, "nobody"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}
