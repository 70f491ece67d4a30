package cachetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

// updateMembers calls UpdateMembers and fails the test on an error.
func updateMembers(t *testing.T, s cache.Store, id string, add, remove []string, fn func(cache.Record) (cache.Record, error)) cache.Record {
	t.Helper()
	got, err := s.UpdateMembers(ctx(t), id, add, remove, fn)
	if err != nil {
		t.Fatalf("UpdateMembers(%s, +%q, -%q): %v", id, add, remove, err)
	}
	return got
}

// testUpdateMembers applies a delta: the returned record has no members
// and the next Version, and Get returns the whole member set, sorted.
func testUpdateMembers(t *testing.T, s cache.Store) {
	created := mustCreate(t, s, group("g1", "Admins", "u1", "u2", "u3"))
	got := updateMembers(t, s, "g1", []string{"u9", "u0", "u5"}, []string{"u2"}, nil)
	want := created
	want.Members, want.Version = nil, 2
	wantRecord(t, "UpdateMembers result", got, want)
	if got.Members != nil {
		t.Errorf("UpdateMembers returned Members %q, want nil", got.Members)
	}
	want.Members = []string{"u0", "u1", "u3", "u5", "u9"}
	wantRecord(t, "Get after UpdateMembers", mustGet(t, s, cache.KindGroup, "g1"), want)
	page, err := s.List(ctx(t), cache.KindGroup, 0, 10)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("List = %d records, %v; want 1", len(page.Records), err)
	}
	wantRecord(t, "List after UpdateMembers", page.Records[0], want)
	looked, err := s.Lookup(ctx(t), cache.KindGroup, cache.IndexName, "admins")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	wantRecord(t, "Lookup after UpdateMembers", looked, want)

	// Update still sees, and can change, the whole member set.
	if _, err := s.Update(ctx(t), cache.KindGroup, "g1", func(r cache.Record) (cache.Record, error) {
		if !slices.Equal(r.Members, want.Members) {
			return r, fmt.Errorf("the update fn got Members %q, want %q", r.Members, want.Members)
		}
		r.Members = []string{"u1", "u7"}
		return r, nil
	}); err != nil {
		t.Fatalf("Update after UpdateMembers: %v", err)
	}
	want.Members, want.Version = []string{"u1", "u7"}, 3
	wantRecord(t, "Get after Update", mustGet(t, s, cache.KindGroup, "g1"), want)
	for u, groups := range map[string][]string{"u0": nil, "u1": {"g1"}, "u2": nil, "u3": nil, "u5": nil, "u7": {"g1"}, "u9": nil} {
		wantGroupsOf(t, s, u, groups...)
	}
}

// testUpdateMembersIdempotent adds a member and removes a non-member: the
// set is unchanged, but the Version still moves.
func testUpdateMembersIdempotent(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins", "u1", "u2"))
	got := updateMembers(t, s, "g1", []string{"u1", "u1"}, []string{"u9", "u9"}, nil)
	if got.Version != 2 {
		t.Errorf("Version = %d, want 2", got.Version)
	}
	updateMembers(t, s, "g1", []string{"u1"}, []string{"u9"}, nil)
	rec := mustGet(t, s, cache.KindGroup, "g1")
	if !slices.Equal(rec.Members, []string{"u1", "u2"}) || rec.Version != 3 {
		t.Errorf("Get = Members %q, Version %d; want [u1 u2], 3", rec.Members, rec.Version)
	}
	wantGroupsOf(t, s, "u1", "g1")
	wantGroupsOf(t, s, "u9")
	updateMembers(t, s, "g1", nil, nil, nil)
	if rec := mustGet(t, s, cache.KindGroup, "g1"); !slices.Equal(rec.Members, []string{"u1", "u2"}) || rec.Version != 4 {
		t.Errorf("after an empty delta: Members %q, Version %d; want [u1 u2], 4", rec.Members, rec.Version)
	}
}

// testUpdateMembersRemoveThenAdd: an id in both add and remove ends up a
// member, whether it was one before or not.
func testUpdateMembersRemoveThenAdd(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins", "u1"))
	updateMembers(t, s, "g1", []string{"u1", "u2"}, []string{"u1", "u2"}, nil)
	if rec := mustGet(t, s, cache.KindGroup, "g1"); !slices.Equal(rec.Members, []string{"u1", "u2"}) {
		t.Errorf("Members = %q, want [u1 u2]", rec.Members)
	}
	wantGroupsOf(t, s, "u1", "g1")
	wantGroupsOf(t, s, "u2", "g1")
}

// testUpdateMembersFn: fn sees the record without members, may change the
// other fields, and the Members it returns are ignored.
func testUpdateMembersFn(t *testing.T, s cache.Store) {
	created := mustCreate(t, s, group("g1", "Admins", "u1", "u2"))
	later := base.Add(time.Hour)
	got := updateMembers(t, s, "g1", []string{"u3"}, nil, func(r cache.Record) (cache.Record, error) {
		if r.Members != nil {
			return r, fmt.Errorf("fn got Members %q, want nil", r.Members)
		}
		if r.Name != "Admins" || r.Version != 1 {
			return r, fmt.Errorf("fn got Name %q, Version %d; want Admins, 1", r.Name, r.Version)
		}
		r.Name, r.ExternalID, r.Modified = "Owners", "ext-g1", later
		r.Resource = json.RawMessage(`{"displayName":"Owners"}`)
		r.Members = []string{"u8"} // ignored
		r.Version = 99             // ignored
		return r, nil
	})
	want := created
	want.Name, want.ExternalID, want.Modified, want.Version = "Owners", "ext-g1", later, 2
	want.Resource = json.RawMessage(`{"displayName":"Owners"}`)
	want.Members = nil
	wantRecord(t, "UpdateMembers result", got, want)
	want.Members = []string{"u1", "u2", "u3"}
	wantRecord(t, "Get", mustGet(t, s, cache.KindGroup, "g1"), want)
	rec, err := s.Lookup(ctx(t), cache.KindGroup, cache.IndexName, "OWNERS")
	if err != nil {
		t.Fatalf("Lookup(name OWNERS): %v", err)
	}
	wantRecord(t, "Lookup OWNERS", rec, want)
	wantFound(t, s, cache.KindGroup, cache.IndexExternalID, "ext-g1", want)
	wantNotIndexed(t, s, cache.KindGroup, cache.IndexName, "admins")
	wantGroupsOf(t, s, "u8")
}

// testUpdateMembersFnError: an error from fn is returned as is and nothing
// is written.
func testUpdateMembersFnError(t *testing.T, s cache.Store) {
	created := mustCreate(t, s, group("g1", "Admins", "u1"))
	boom := errors.New("boom")
	_, err := s.UpdateMembers(ctx(t), "g1", []string{"u2"}, []string{"u1"}, func(r cache.Record) (cache.Record, error) {
		r.Name = "Owners"
		return r, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	wantRecord(t, "Get after failed UpdateMembers", mustGet(t, s, cache.KindGroup, "g1"), created)
	wantGroupsOf(t, s, "u1", "g1")
	wantGroupsOf(t, s, "u2")
	wantNotIndexed(t, s, cache.KindGroup, cache.IndexName, "owners")
}

// testUpdateMembersNotFound: a missing group (or a user's id) is
// ErrNotFound and leaves no membership behind.
func testUpdateMembersNotFound(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "ada", ""))
	for _, id := range []string{"g404", "u1"} {
		ran := false
		_, err := s.UpdateMembers(ctx(t), id, []string{"u1"}, nil, func(r cache.Record) (cache.Record, error) {
			ran = true
			return r, nil
		})
		if !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("UpdateMembers(%s): err = %v, want ErrNotFound", id, err)
		}
		if ran {
			t.Errorf("UpdateMembers(%s) ran fn on a missing group", id)
		}
	}
	wantGroupsOf(t, s, "u1")
	if _, err := s.Get(ctx(t), cache.KindGroup, "g404"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get(g404): err = %v, want ErrNotFound", err)
	}
}

// testUpdateMembersConflict: fn moving a name onto another group's is
// ErrConflict and writes nothing, the delta included.
func testUpdateMembersConflict(t *testing.T, s cache.Store) {
	created := mustCreate(t, s, group("g1", "Admins", "u1"))
	mustCreate(t, s, group("g2", "Owners"))
	_, err := s.UpdateMembers(ctx(t), "g1", []string{"u2"}, []string{"u1"}, rename("owners"))
	if !errors.Is(err, cache.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	wantRecord(t, "Get after conflict", mustGet(t, s, cache.KindGroup, "g1"), created)
	wantGroupsOf(t, s, "u1", "g1")
	wantGroupsOf(t, s, "u2")
}

// testUpdateMembersGroupsOf: the user → group index changes for exactly
// the delta, and other groups' entries stay.
func testUpdateMembersGroupsOf(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins", "u1", "u2"))
	mustCreate(t, s, group("g2", "Owners", "u1", "u3"))
	updateMembers(t, s, "g1", []string{"u3", "u4"}, []string{"u1"}, nil)
	for u, groups := range map[string][]string{"u1": {"g2"}, "u2": {"g1"}, "u3": {"g1", "g2"}, "u4": {"g1"}} {
		wantGroupsOf(t, s, u, groups...)
	}
	if rec := mustGet(t, s, cache.KindGroup, "g2"); !slices.Equal(rec.Members, []string{"u1", "u3"}) || rec.Version != 1 {
		t.Errorf("g2 = Members %q, Version %d; want untouched", rec.Members, rec.Version)
	}
}

// testUpdateMembersDelete: deleting a group after UpdateMembers leaves no
// membership, and a new group under the same id starts empty.
func testUpdateMembersDelete(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins", "u1", "u2"))
	updateMembers(t, s, "g1", []string{"u3"}, []string{"u1"}, nil)
	if err := s.Delete(ctx(t), cache.KindGroup, "g1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		wantGroupsOf(t, s, u)
	}
	if _, err := s.UpdateMembers(ctx(t), "g1", []string{"u1"}, nil, nil); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("UpdateMembers after Delete: err = %v, want ErrNotFound", err)
	}
	mustCreate(t, s, group("g1", "Admins"))
	if rec := mustGet(t, s, cache.KindGroup, "g1"); len(rec.Members) != 0 {
		t.Errorf("recreated group has Members %q, want none", rec.Members)
	}
	wantGroupsOf(t, s, "u2")
}

// testParallelUpdateMembers: concurrent deltas on one group, each adding a
// distinct member, all land.
func testParallelUpdateMembers(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins", "u99"))
	var wg sync.WaitGroup
	errs := make([]error, writers)
	want := []string{}
	for i := range writers {
		member := fmt.Sprintf("u%02d", i)
		want = append(want, member)
		wg.Go(func() {
			_, errs[i] = s.UpdateMembers(ctx(t), "g1", []string{member}, []string{"u99"}, increment)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	got := mustGet(t, s, cache.KindGroup, "g1")
	if !slices.Equal(got.Members, want) {
		t.Errorf("Members = %q, want %q", got.Members, want)
	}
	if got.Version != writers+1 {
		t.Errorf("Version = %d, want %d", got.Version, writers+1)
	}
	if n := counter(t, got); n != writers {
		t.Errorf("counter = %d, want %d (lost fn results)", n, writers)
	}
	for _, m := range want {
		wantGroupsOf(t, s, m, "g1")
	}
	wantGroupsOf(t, s, "u99")
}
