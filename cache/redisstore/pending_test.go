package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

// newQueueStore returns a store on a Redis of its own prefix, whose keys
// are deleted when t ends.
func newQueueStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(Config{URL: redistest.URL(t), Prefix: redistest.Prefix(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := s.client.Scan(ctx, 0, s.keys.p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			s.client.Del(ctx, iter.Val())
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// putRaw stores p (nil: none) as the pair's change, bypassing the rules.
func putRaw(t *testing.T, s *Store, group, user string, p *cache.Pending) {
	t.Helper()
	ctx, field := t.Context(), cache.PendingKey(group, user)
	pipe := s.client.TxPipeline()
	if p == nil {
		pipe.HDel(ctx, s.keys.pending(), field)
		pipe.SRem(ctx, s.keys.queued(cache.KindGroup, group), user)
		pipe.SRem(ctx, s.keys.queued(cache.KindUser, user), group)
	} else {
		pipe.HSet(ctx, s.keys.pending(), field, cache.EncodePending(*p))
		pipe.SAdd(ctx, s.keys.queued(cache.KindGroup, group), user)
		pipe.SAdd(ctx, s.keys.queued(cache.KindUser, user), group)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestQueueRulesMatchGo drives the Lua rules from random states and
// compares every result with cache.QueueRule, cache.SettleRule and the
// claim rule of cache.Queue applied in Go, as bbolt applies them.
func TestQueueRulesMatchGo(t *testing.T) {
	s := newQueueStore(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g", Name: "G"}); err != nil {
		t.Fatal(err)
	}
	// t0 is not after any now UpdateMembers takes from the clock, and an
	// hour is longer than the test.
	t0 := time.UnixMilli(time.Now().UnixMilli()).UTC()
	times := []time.Time{{}, t0.Add(-time.Hour), t0, t0.Add(time.Hour)}
	users := []string{"u0", "u1", "u2"}
	rng := rand.New(rand.NewPCG(10, 11))
	pick := func() time.Time { return times[rng.IntN(len(times))] }
	ids := func() []string {
		var out []string
		for range rng.IntN(4) {
			out = append(out, users[rng.IntN(len(users))])
		}
		return out
	}
	for iter := range 2000 {
		want := map[string]*cache.Pending{}
		for _, u := range users {
			var p *cache.Pending
			if rng.IntN(4) > 0 {
				p = &cache.Pending{Group: "g", User: u, Add: rng.IntN(2) == 0, Since: pick(), Attempted: rng.IntN(2) == 0,
					Claimed: pick(), Due: pick(), Tries: rng.IntN(3)}
			}
			putRaw(t, s, "g", u, p)
			want[u] = p
		}
		var op string
		switch rng.IntN(4) {
		case 0, 1:
			add, remove := ids(), ids()
			queue := rng.IntN(2) == 0
			op = fmt.Sprintf("queue=%v +%q -%q", queue, add, remove)
			var err error
			if queue {
				_, err = s.QueueMembers(ctx, "g", add, remove, t0, nil)
			} else {
				_, err = s.UpdateMembers(ctx, "g", add, remove, nil)
			}
			if err != nil {
				t.Fatalf("%d %s: %v", iter, op, err)
			}
			now := t0
			if !queue {
				now = time.Now()
			}
			for _, step := range []struct {
				ids []string
				add bool
			}{{remove, false}, {add, true}} {
				for _, u := range step.ids {
					want[u] = cache.QueueRule(want[u], cache.Pending{Group: "g", User: u, Add: step.add}, now, queue)
				}
			}
		case 2:
			var pairs []cache.Pending
			for _, u := range ids() {
				pairs = append(pairs, cache.Pending{Group: "g", User: u})
			}
			now, until := pick(), pick()
			op = fmt.Sprintf("claim %d pairs at %v until %v", len(pairs), now, until)
			got, err := s.ClaimPending(ctx, pairs, now, until)
			if err != nil {
				t.Fatalf("%d %s: %v", iter, op, err)
			}
			var claimed []cache.Pending
			for _, pair := range pairs {
				p := want[pair.User]
				if p == nil || p.Claimed.After(now) || p.Due.After(now) {
					continue
				}
				c := *p
				c.Claimed = until
				claimed = append(claimed, c.Truncate())
				c.Attempted = true
				want[pair.User] = &c
			}
			if !samePending(got, claimed) {
				t.Fatalf("%d %s: claimed\n%+v\nwant\n%+v", iter, op, got, claimed)
			}
		case 3:
			var outcomes []cache.Outcome
			for _, u := range ids() {
				outcomes = append(outcomes, cache.Outcome{
					Change: cache.Pending{Group: "g", User: u, Add: rng.IntN(2) == 0, Attempted: rng.IntN(2) == 0},
					Result: cache.PendingResult(rng.IntN(4)), Due: pick()})
			}
			op = fmt.Sprintf("settle %+v", outcomes)
			if err := s.SettlePending(ctx, outcomes); err != nil {
				t.Fatalf("%d %s: %v", iter, op, err)
			}
			for _, o := range outcomes {
				if cur := want[o.Change.User]; cur != nil {
					want[o.Change.User] = cache.SettleRule(cur, o)
				}
			}
		}
		var all []cache.Pending
		for _, u := range users {
			if p := want[u]; p != nil {
				all = append(all, p.Truncate())
			}
			of, err := s.PendingOf(ctx, cache.KindUser, u)
			if err != nil {
				t.Fatal(err)
			}
			var wantOf []cache.Pending
			if p := want[u]; p != nil {
				wantOf = append(wantOf, p.Truncate())
			}
			if !samePending(of, wantOf) {
				t.Fatalf("%d %s: PendingOf(%s) = %+v, want %+v", iter, op, u, of, wantOf)
			}
		}
		got, err := s.PendingChanges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !samePending(got, all) {
			t.Fatalf("%d %s: pending\n%+v\nwant\n%+v", iter, op, got, all)
		}
		if of, err := s.PendingOf(ctx, cache.KindGroup, "g"); err != nil || !samePending(of, all) {
			t.Fatalf("%d %s: PendingOf(g) = %+v, %v; want %+v", iter, op, of, err, all)
		}
	}
}

func samePending(a, b []cache.Pending) bool {
	return slices.EqualFunc(a, b, func(x, y cache.Pending) bool {
		return x.Group == y.Group && x.User == y.User && x.Add == y.Add && x.Since.Equal(y.Since) &&
			x.Attempted == y.Attempted && x.Claimed.Equal(y.Claimed) && x.Due.Equal(y.Due) && x.Tries == y.Tries
	})
}

// TestQueueMalformedWritesNothing: a stored value the scripts cannot read
// fails the call before its first write, as bbolt's transaction does.
func TestQueueMalformedWritesNothing(t *testing.T) {
	s := newQueueStore(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g", Name: "G"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	putRaw(t, s, "g", "u1", &cache.Pending{Group: "g", User: "u1", Add: true, Since: now})
	if err := s.client.HSet(ctx, s.keys.pending(), cache.PendingKey("g", "u2"), "+ garbage").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.QueueMembers(ctx, "g", []string{"u3", "u2"}, []string{"u1"}, now, nil); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("QueueMembers over a malformed value: %v, want it to fail", err)
	}
	rec, err := s.Get(ctx, cache.KindGroup, "g")
	if err != nil || rec.Version != 1 || len(rec.Members) != 0 {
		t.Fatalf("the failed QueueMembers wrote the group: %+v, %v", rec, err)
	}
	if _, err := s.ClaimPending(ctx, []cache.Pending{{Group: "g", User: "u1"}, {Group: "g", User: "u2"}}, now, now.Add(time.Minute)); err == nil {
		t.Fatal("ClaimPending over a malformed value succeeded")
	}
	of, err := s.PendingOf(ctx, cache.KindGroup, "g")
	if err != nil || len(of) != 1 || of[0].User != "u1" || of[0].Attempted || !of[0].Claimed.IsZero() {
		t.Fatalf("PendingOf after the failed calls = %+v, %v; want u1 untouched (the malformed u2 left out)", of, err)
	}
	if _, err := s.PendingChanges(ctx); err == nil {
		t.Fatal("PendingChanges hid a malformed value")
	}
}

// TestDeleteRetriesOnNewChange: a change queued for a user between
// Delete's read of the user's changes and its script makes the script
// write nothing, so that Delete reads again and drops that change too.
func TestDeleteRetriesOnNewChange(t *testing.T) {
	s := newQueueStore(t)
	ctx := t.Context()
	for _, rec := range []cache.Record{
		{Kind: cache.KindUser, ID: "u1", Name: "ada"},
		{Kind: cache.KindGroup, ID: "g1", Name: "G1"},
		{Kind: cache.KindGroup, ID: "g2", Name: "G2"},
	} {
		if _, err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.QueueMembers(ctx, "g1", []string{"u1"}, nil, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	queued, others, fields, err := s.deleteArgs(ctx, cache.KindUser, "u1")
	if err != nil || len(others) != 1 {
		t.Fatalf("deleteArgs = %q, %v", others, err)
	}
	if _, err := s.QueueMembers(ctx, "g2", []string{"u1"}, nil, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	keys := []string{s.keys.record(cache.KindUser, "u1"), s.keys.order(cache.KindUser), s.keys.members(cache.KindUser, "u1"),
		s.keys.name(cache.KindUser, "ada"), s.keys.pending(), s.keys.queued(cache.KindUser, "u1")}
	keys = append(keys, queued...)
	keys = append(keys, s.keys.extIDs(cache.KindUser, ""))
	args := append([]any{"u1", 1, 1, 0, len(others)}, others...)
	args = append(args, fields...)
	if res, err := s.write(ctx, deleteScript, keys, args...).Int(); err != nil || res != resChanged {
		t.Fatalf("deleteScript with a stale list of changes = %d, %v; want %d", res, err, resChanged)
	}
	if _, err := s.Get(ctx, cache.KindUser, "u1"); err != nil {
		t.Fatalf("the refused delete removed the user: %v", err)
	}
	if err := s.Delete(ctx, cache.KindUser, "u1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PendingChanges(ctx); err != nil || len(got) != 0 {
		t.Fatalf("changes left after the user's Delete: %+v, %v", got, err)
	}
	for _, g := range []string{"g1", "g2"} {
		if n, err := s.client.Exists(ctx, s.keys.queued(cache.KindGroup, g), s.keys.queued(cache.KindUser, "u1")).Result(); err != nil || n != 0 {
			t.Fatalf("index sets left after the Delete: %d, %v", n, err)
		}
	}
}
