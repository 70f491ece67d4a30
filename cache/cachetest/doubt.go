package cachetest

import (
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

var doubtBase = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return doubtBase.Add(time.Duration(sec) * time.Second) }

func mustDoubt(t *testing.T, s cache.Store, kind cache.Kind, id string) (cache.Doubt, bool) {
	t.Helper()
	d, ok, err := s.GetDoubt(t.Context(), kind, id)
	if err != nil {
		t.Fatalf("GetDoubt: %v", err)
	}
	return d, ok
}

// testDoubts: doubts are recorded per resource, merged (later Since,
// earlier Due, Owned sticks), listed by Due, and kept to the millisecond.
func testDoubts(t *testing.T, s cache.Store) {
	ctx := t.Context()
	if _, ok := mustDoubt(t, s, cache.KindUser, "u1"); ok {
		t.Fatal("a doubt before any was added")
	}
	add := func(d cache.Doubt) {
		t.Helper()
		if err := s.AddDoubt(ctx, d); err != nil {
			t.Fatalf("AddDoubt: %v", err)
		}
	}
	add(cache.Doubt{Kind: cache.KindUser, ID: "u1", Since: at(0).Add(1500 * time.Microsecond), Due: at(30)})
	add(cache.Doubt{Kind: cache.KindGroup, ID: "u1", Since: at(1), Due: at(10), Owned: true})
	add(cache.Doubt{Kind: cache.KindUser, ID: "u2", Since: at(2), Due: at(20)})

	d, ok := mustDoubt(t, s, cache.KindUser, "u1")
	want := cache.Doubt{Kind: cache.KindUser, ID: "u1", Since: at(0).Add(time.Millisecond), Due: at(30)}
	if !ok || d != want {
		t.Fatalf("GetDoubt = %+v %v, want %+v", d, ok, want)
	}
	// A later unknown outcome with a later due: Since moves, Due stays.
	add(cache.Doubt{Kind: cache.KindUser, ID: "u1", Since: at(5), Due: at(40), Owned: true})
	// An older one with an earlier due: Since stays, Due moves, Owned stays.
	add(cache.Doubt{Kind: cache.KindUser, ID: "u1", Since: at(3), Due: at(5)})
	want = cache.Doubt{Kind: cache.KindUser, ID: "u1", Since: at(5), Due: at(5), Owned: true}
	if d, _ := mustDoubt(t, s, cache.KindUser, "u1"); d != want {
		t.Fatalf("merged doubt = %+v, want %+v", d, want)
	}

	due, err := s.DueDoubts(ctx, at(20), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range due {
		got = append(got, cache.DoubtKey(d.Kind, d.ID))
	}
	if len(got) != 3 || got[0] != "user:u1" || got[1] != "group:u1" || got[2] != "user:u2" {
		t.Fatalf("DueDoubts(20s) = %v, want [user:u1 group:u1 user:u2]", got)
	}
	if due, err := s.DueDoubts(ctx, at(19), 2); err != nil || len(due) != 2 {
		t.Fatalf("DueDoubts(19s, limit 2) = %v %v", due, err)
	}
	if due, err := s.DueDoubts(ctx, at(4), 0); err != nil || len(due) != 0 {
		t.Fatalf("DueDoubts(4s) = %v %v, want none", due, err)
	}
}

// testResolveDoubt: a doubt is removed or rescheduled only by the reader
// of its latest Since; a newer unknown outcome survives an older check.
func testResolveDoubt(t *testing.T, s cache.Store) {
	ctx := t.Context()
	d := cache.Doubt{Kind: cache.KindGroup, ID: "g", Since: at(0), Due: at(5), Owned: true}
	if err := s.AddDoubt(ctx, d); err != nil {
		t.Fatal(err)
	}
	// Reschedule.
	if err := s.ResolveDoubt(ctx, d, at(60)); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustDoubt(t, s, cache.KindGroup, "g"); !got.Due.Equal(at(60)) || !got.Owned || !got.Since.Equal(at(0)) {
		t.Fatalf("rescheduled doubt = %+v", got)
	}
	if due, _ := s.DueDoubts(ctx, at(59), 0); len(due) != 0 {
		t.Fatalf("rescheduled doubt still due at 59s: %+v", due)
	}
	// A newer unknown outcome arrives; resolving the old reading is a no-op.
	if err := s.AddDoubt(ctx, cache.Doubt{Kind: cache.KindGroup, ID: "g", Since: at(10), Due: at(15)}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResolveDoubt(ctx, d, time.Time{}); err != nil {
		t.Fatal(err)
	}
	cur, ok := mustDoubt(t, s, cache.KindGroup, "g")
	if !ok || !cur.Since.Equal(at(10)) || !cur.Due.Equal(at(15)) {
		t.Fatalf("a stale resolve removed or changed the newer doubt: %+v %v", cur, ok)
	}
	// Resolving the current reading removes it everywhere.
	if err := s.ResolveDoubt(ctx, cur, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustDoubt(t, s, cache.KindGroup, "g"); ok {
		t.Fatal("resolved doubt still there")
	}
	if due, _ := s.DueDoubts(ctx, at(1000), 0); len(due) != 0 {
		t.Fatalf("resolved doubt still listed: %+v", due)
	}
	// Resolving a doubt that does not exist is not an error.
	if err := s.ResolveDoubt(ctx, cur, time.Time{}); err != nil {
		t.Fatal(err)
	}
}
