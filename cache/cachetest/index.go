package cachetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
)

func testLookupName(t *testing.T, s cache.Store) {
	want := mustCreate(t, s, user("u1", "Ada@X.com", "ext-1"))
	mustCreate(t, s, user("u2", "grace@x.com", ""))
	for _, value := range []string{"Ada@X.com", "ada@x.com", "ADA@X.COM"} {
		got, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, value)
		if err != nil {
			t.Fatalf("Lookup(name %q): %v", value, err)
		}
		wantRecord(t, "Lookup name "+value, got, want)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "ada")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "")
	wantNotIndexed(t, s, cache.KindGroup, cache.IndexName, "ada@x.com")
}

// testFindName: Find on the unique name index gives Lookup's record, or
// none.
func testFindName(t *testing.T, s cache.Store) {
	want := mustCreate(t, s, user("u1", "Ada@X.com", "ext-1"))
	mustCreate(t, s, user("u2", "grace@x.com", ""))
	wantFound(t, s, cache.KindUser, cache.IndexName, "ADA@x.com", want)
	wantFound(t, s, cache.KindUser, cache.IndexName, "nobody")
	wantFound(t, s, cache.KindGroup, cache.IndexName, "ada@x.com")
}

func testFindExternalID(t *testing.T, s cache.Store) {
	lower := mustCreate(t, s, user("u1", "ada", "abc"))
	upper := mustCreate(t, s, user("u2", "grace", "ABC")) // caseExact: no clash
	wantFound(t, s, cache.KindUser, cache.IndexExternalID, "abc", lower)
	wantFound(t, s, cache.KindUser, cache.IndexExternalID, "ABC", upper)
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "Abc")
	wantNotIndexed(t, s, cache.KindGroup, cache.IndexExternalID, "abc")
}

// testFindGroupMembers: groups found by externalId carry their members.
func testFindGroupMembers(t *testing.T, s cache.Store) {
	g1 := mustCreate(t, s, groupExt("g1", "One", "ext", "u2", "u1"))
	g2 := mustCreate(t, s, groupExt("g2", "Two", "ext"))
	g1.Members = []string{"u1", "u2"}
	wantFound(t, s, cache.KindGroup, cache.IndexExternalID, "ext", g1, g2)
}

func testLookupUnknownIndex(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "ada", "ext-1"))
	_, err := s.Lookup(ctx(t), cache.KindUser, cache.Index("id"), "u1")
	if err == nil {
		t.Fatal("Lookup on an unknown index succeeded, want an error")
	}
	if errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Lookup on an unknown index: err = %v; a caller bug must not read as not found", err)
	}
	if got, err := s.Find(ctx(t), cache.KindUser, cache.Index("id"), "u1"); err == nil {
		t.Errorf("Find on an unknown index = %q, want an error", ids(got))
	}
}

func testEmptyExternalIDNotIndexed(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "ada", ""))
	mustCreate(t, s, user("u2", "grace", "")) // two empty externalIds don't clash
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "")

	// Clearing an externalId frees it and does not index "".
	mustCreate(t, s, user("u3", "linus", "ext-3"))
	if _, err := s.Update(ctx(t), cache.KindUser, "u3", func(r cache.Record) (cache.Record, error) {
		r.ExternalID = ""
		return r, nil
	}); err != nil {
		t.Fatalf("Update clearing externalId: %v", err)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-3")
	if err := s.Delete(ctx(t), cache.KindUser, "u1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustGet(t, s, cache.KindUser, "u2")
}

func testEmptyNameNotIndexed(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "", ""))
	mustCreate(t, s, user("u2", "", "")) // two empty names don't clash
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "")
	if _, err := s.Update(ctx(t), cache.KindUser, "u1", rename("Ada")); err != nil {
		t.Fatalf("Update naming u1: %v", err)
	}
	if r, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "ada"); err != nil || r.ID != "u1" {
		t.Errorf("Lookup ada = %q, %v; want u1", r.ID, err)
	}
	if _, err := s.Update(ctx(t), cache.KindUser, "u1", rename("")); err != nil {
		t.Fatalf("Update clearing the name: %v", err)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "ada")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "")
}

func rename(name string) func(cache.Record) (cache.Record, error) {
	return func(r cache.Record) (cache.Record, error) {
		r.Name = name
		return r, nil
	}
}

func setExternalID(ext string) func(cache.Record) (cache.Record, error) {
	return func(r cache.Record) (cache.Record, error) {
		r.ExternalID = ext
		return r, nil
	}
}

func testUpdateRename(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "Ada", "ext-1"))

	// A change of case only keeps the record's own index entry.
	got, err := s.Update(ctx(t), cache.KindUser, "u1", rename("ADA"))
	if err != nil {
		t.Fatalf("Update case-only rename: %v", err)
	}
	if got.Name != "ADA" {
		t.Errorf("Name = %q, want ADA", got.Name)
	}
	if r, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "ada"); err != nil || r.ID != "u1" {
		t.Errorf("Lookup after case-only rename = %q, %v; want u1", r.ID, err)
	}

	if _, err := s.Update(ctx(t), cache.KindUser, "u1", rename("Lovelace")); err != nil {
		t.Fatalf("Update rename: %v", err)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "ada")
	if r, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "lovelace"); err != nil || r.ID != "u1" {
		t.Errorf("Lookup new name = %q, %v; want u1", r.ID, err)
	}
	// The old name is free for another record.
	mustCreate(t, s, user("u2", "ada", ""))
	if r, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "Ada"); err != nil || r.ID != "u2" {
		t.Errorf("Lookup reused name = %q, %v; want u2", r.ID, err)
	}
}

func testUpdateExternalID(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "ada", "ext-1"))
	if _, err := s.Update(ctx(t), cache.KindUser, "u1", setExternalID("ext-9")); err != nil {
		t.Fatalf("Update externalId: %v", err)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-1")
	mustCreate(t, s, user("u2", "grace", "ext-1"))
	// Moving onto an externalId another record has shares it.
	if _, err := s.Update(ctx(t), cache.KindUser, "u2", setExternalID("ext-9")); err != nil {
		t.Fatalf("Update onto a shared externalId: %v", err)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-1")
	u1, u2 := mustGet(t, s, cache.KindUser, "u1"), mustGet(t, s, cache.KindUser, "u2")
	wantFound(t, s, cache.KindUser, cache.IndexExternalID, "ext-9", u1, u2)
	// An update that keeps it keeps its entry; one that leaves takes only
	// its own.
	if _, err := s.Update(ctx(t), cache.KindUser, "u2", increment); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if _, err := s.Update(ctx(t), cache.KindUser, "u1", setExternalID("")); err != nil {
		t.Fatalf("Update clearing externalId: %v", err)
	}
	wantFound(t, s, cache.KindUser, cache.IndexExternalID, "ext-9", mustGet(t, s, cache.KindUser, "u2"))
	if err := s.Delete(ctx(t), cache.KindUser, "u2"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-9")
}

func testUpdateConflict(t *testing.T, s cache.Store) {
	ada := mustCreate(t, s, user("u1", "Ada", "ext-1"))
	grace := mustCreate(t, s, user("u2", "Grace", "ext-2"))

	for _, tc := range []struct {
		name string
		fn   func(cache.Record) (cache.Record, error)
	}{
		{"name", rename("grace")},
		{"taken name, shared externalId", func(r cache.Record) (cache.Record, error) {
			r.Name, r.ExternalID = "GRACE", "ext-2"
			return r, nil
		}},
		{"taken name, new externalId", func(r cache.Record) (cache.Record, error) {
			r.Name, r.ExternalID = "Grace", "ext-7"
			return r, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Update(ctx(t), cache.KindUser, "u1", tc.fn)
			if !errors.Is(err, cache.ErrConflict) {
				t.Fatalf("Update: err = %v, want ErrConflict", err)
			}
			wantRecord(t, "Get u1", mustGet(t, s, cache.KindUser, "u1"), ada)
			wantRecord(t, "Get u2", mustGet(t, s, cache.KindUser, "u2"), grace)
			wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-7")
			for value, id := range map[string]string{"ada": "u1", "grace": "u2"} {
				if r, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, value); err != nil || r.ID != id {
					t.Errorf("Lookup(name %s) = %q, %v; want %s", value, r.ID, err, id)
				}
			}
			wantFound(t, s, cache.KindUser, cache.IndexExternalID, "ext-1", ada)
			wantFound(t, s, cache.KindUser, cache.IndexExternalID, "ext-2", grace)
		})
	}
}

func setMembers(members ...string) func(cache.Record) (cache.Record, error) {
	return func(r cache.Record) (cache.Record, error) {
		r.Members = members
		return r, nil
	}
}

func testGroupsOf(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g2", "Two", "u1", "u2"))
	mustCreate(t, s, group("g1", "One", "u1"))
	mustCreate(t, s, group("g3", "Three"))
	mustCreate(t, s, user("u9", "nobody", "")) // a user in no group
	wantGroupsOf(t, s, "u1", "g1", "g2")
	wantGroupsOf(t, s, "u2", "g2")
	wantGroupsOf(t, s, "u9")
	wantGroupsOf(t, s, "unknown")

	// Add u2 and u3 to g3, remove u1 from g2.
	if _, err := s.Update(ctx(t), cache.KindGroup, "g3", setMembers("u2", "u3")); err != nil {
		t.Fatalf("Update g3: %v", err)
	}
	if _, err := s.Update(ctx(t), cache.KindGroup, "g2", setMembers("u2")); err != nil {
		t.Fatalf("Update g2: %v", err)
	}
	wantGroupsOf(t, s, "u1", "g1")
	wantGroupsOf(t, s, "u2", "g2", "g3")
	wantGroupsOf(t, s, "u3", "g3")

	// A user record's Members are not membership.
	if _, err := s.Update(ctx(t), cache.KindUser, "u9", setMembers("g1")); err != nil {
		t.Fatalf("Update user: %v", err)
	}
	wantGroupsOf(t, s, "g1")

	// Emptying a group.
	if _, err := s.Update(ctx(t), cache.KindGroup, "g2", setMembers()); err != nil {
		t.Fatalf("Update g2 empty: %v", err)
	}
	wantGroupsOf(t, s, "u2", "g3")
}

func testGroupsOfDelete(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "One", "u1", "u2"))
	mustCreate(t, s, group("g2", "Two", "u1"))
	mustCreate(t, s, user("u1", "ada", ""))
	if err := s.Delete(ctx(t), cache.KindGroup, "g1"); err != nil {
		t.Fatalf("Delete g1: %v", err)
	}
	wantGroupsOf(t, s, "u1", "g2")
	wantGroupsOf(t, s, "u2")
	// Deleting a user does not touch the groups that list it: the caller
	// updates those groups.
	if err := s.Delete(ctx(t), cache.KindUser, "u1"); err != nil {
		t.Fatalf("Delete u1: %v", err)
	}
	wantGroupsOf(t, s, "u1", "g2")
	// A re-created group of the same id starts with only its own members.
	mustCreate(t, s, group("g1", "One", "u3"))
	wantGroupsOf(t, s, "u2")
	wantGroupsOf(t, s, "u3", "g1")
}

func wantGroupsOf(t *testing.T, s cache.Store, userID string, want ...string) {
	t.Helper()
	got, err := s.GroupsOf(ctx(t), userID)
	if err != nil {
		t.Fatalf("GroupsOf(%s): %v", userID, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("GroupsOf(%s) = %q, want %q", userID, got, want)
	}
}
