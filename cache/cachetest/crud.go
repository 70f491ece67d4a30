package cachetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

func testCreateGet(t *testing.T, s cache.Store) {
	u := user("u1", "Ada@X.com", "ext-1")
	u.Modified = base.Add(time.Minute)
	want := u
	want.Version = 1

	got := mustCreate(t, s, u)
	wantRecord(t, "Create", got, want)
	wantRecord(t, "Get", mustGet(t, s, cache.KindUser, "u1"), want)

	g := group("g1", "Admins", "u1", "u2")
	wantG := g
	wantG.Version = 1
	wantRecord(t, "Create group", mustCreate(t, s, g), wantG)
	wantRecord(t, "Get group", mustGet(t, s, cache.KindGroup, "g1"), wantG)
}

func testCreateSetsVersion(t *testing.T, s cache.Store) {
	u := user("u1", "ada", "")
	u.Version = 7
	if got := mustCreate(t, s, u); got.Version != 1 {
		t.Errorf("Create returned Version %d, want 1", got.Version)
	}
	if got := mustGet(t, s, cache.KindUser, "u1"); got.Version != 1 {
		t.Errorf("Get returned Version %d, want 1", got.Version)
	}
}

func testCreateEmptyID(t *testing.T, s cache.Store) {
	if _, err := s.Create(ctx(t), user("", "ada", "")); err == nil {
		t.Fatal("Create with an empty id succeeded, want an error")
	}
	if _, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "ada"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Lookup after failed Create: err = %v, want ErrNotFound", err)
	}
}

func testCreateDuplicateID(t *testing.T, s cache.Store) {
	orig := mustCreate(t, s, user("u1", "ada", "ext-1"))
	_, err := s.Create(ctx(t), user("u1", "grace", "ext-2"))
	if !errors.Is(err, cache.ErrAlreadyExists) {
		t.Fatalf("Create duplicate id: err = %v, want ErrAlreadyExists", err)
	}
	wantRecord(t, "Get after duplicate", mustGet(t, s, cache.KindUser, "u1"), orig)
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "grace")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-2")
	wantTotal(t, s, cache.KindUser, 1)
}

func testCreateDuplicateName(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "Ada@X.com", "ext-1"))
	_, err := s.Create(ctx(t), user("u2", "ada@x.com", "ext-2"))
	if !errors.Is(err, cache.ErrAlreadyExists) {
		t.Fatalf("Create duplicate name: err = %v, want ErrAlreadyExists", err)
	}
	wantGone(t, s, cache.KindUser, "u2")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-2")
	wantGroupsOf(t, s, "u2")
	wantTotal(t, s, cache.KindUser, 1)

	mustCreate(t, s, group("g1", "Admins"))
	_, err = s.Create(ctx(t), group("g2", "ADMINS", "u1"))
	if !errors.Is(err, cache.ErrAlreadyExists) {
		t.Fatalf("Create duplicate group name: err = %v, want ErrAlreadyExists", err)
	}
	wantGone(t, s, cache.KindGroup, "g2")
	wantGroupsOf(t, s, "u1") // the failed group's members were not indexed
}

// testCreateSharedExternalID: externalId is not unique; records sharing
// one are all created and all found, in creation order (not id order).
func testCreateSharedExternalID(t *testing.T, s cache.Store) {
	first := mustCreate(t, s, user("u9", "ada", "ext-1"))
	second := mustCreate(t, s, user("u1", "grace", "ext-1"))
	mustCreate(t, s, user("u5", "linus", "ext-2"))
	wantTotal(t, s, cache.KindUser, 3)
	wantFound(t, s, cache.KindUser, cache.IndexExternalID, "ext-1", first, second)
	// Groups too: the rule is the same for both kinds.
	g1 := mustCreate(t, s, groupExt("g1", "One", "ext-1"))
	g2 := mustCreate(t, s, groupExt("g2", "Two", "ext-1"))
	wantFound(t, s, cache.KindGroup, cache.IndexExternalID, "ext-1", g1, g2)
	// Lookup serves unique indexes only; a caller asking it for one of
	// several matches is a bug, and must not read as not found.
	_, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexExternalID, "ext-1")
	if err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Lookup(externalId): err = %v, want an error other than ErrNotFound", err)
	}
}

func testMissing(t *testing.T, s cache.Store) {
	if _, err := s.Get(ctx(t), cache.KindUser, "nope"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get missing: err = %v, want ErrNotFound", err)
	}
	called := false
	_, err := s.Update(ctx(t), cache.KindUser, "nope", func(r cache.Record) (cache.Record, error) {
		called = true
		return r, nil
	})
	if !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Update missing: err = %v, want ErrNotFound", err)
	}
	if called {
		t.Error("Update missing called fn")
	}
	if err := s.Delete(ctx(t), cache.KindUser, "nope"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Delete missing: err = %v, want ErrNotFound", err)
	}
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "nope")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "nope")
	wantTotal(t, s, cache.KindUser, 0)
}

func testUpdate(t *testing.T, s cache.Store) {
	created := mustCreate(t, s, user("u1", "ada", "ext-1"))
	modified := base.Add(time.Hour)
	var seen cache.Record
	got, err := s.Update(ctx(t), cache.KindUser, "u1", func(r cache.Record) (cache.Record, error) {
		seen = r
		r.Resource = json.RawMessage(`{"userName":"ada","n":5}`)
		r.Modified = modified
		r.Deprovisioned = true
		// Fields the store owns: all ignored.
		r.Kind = cache.KindGroup
		r.ID = "other"
		r.Created = base.Add(-time.Hour)
		r.Version = 99
		return r, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantRecord(t, "fn argument", seen, created)
	want := created
	want.Resource = json.RawMessage(`{"userName":"ada","n":5}`)
	want.Modified = modified
	want.Deprovisioned = true
	want.Version = 2
	wantRecord(t, "Update", got, want)
	wantRecord(t, "Get after Update", mustGet(t, s, cache.KindUser, "u1"), want)
	wantGone(t, s, cache.KindUser, "other")
	wantGone(t, s, cache.KindGroup, "u1")

	got, err = s.Update(ctx(t), cache.KindUser, "u1", increment)
	if err != nil {
		t.Fatalf("second Update: %v", err)
	}
	if got.Version != 3 || counter(t, got) != 6 {
		t.Errorf("second Update: Version %d n %d, want 3 and 6", got.Version, counter(t, got))
	}
	if !got.Modified.Equal(modified) {
		t.Errorf("Update changed Modified to %v; the store must keep the caller's value %v", got.Modified, modified)
	}
}

func testUpdateFnError(t *testing.T, s cache.Store) {
	created := mustCreate(t, s, user("u1", "ada", "ext-1"))
	errBoom := errors.New("boom")
	_, err := s.Update(ctx(t), cache.KindUser, "u1", func(r cache.Record) (cache.Record, error) {
		r.Name = "grace"
		return r, errBoom
	})
	if err != errBoom { // the contract says "returned as is", so no errors.Is
		t.Fatalf("Update with failing fn: err = %v, want errBoom as is", err)
	}
	wantRecord(t, "Get after failed Update", mustGet(t, s, cache.KindUser, "u1"), created)
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "grace")
}

func testDelete(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "Ada", "ext-1"))
	mustCreate(t, s, user("u2", "Grace", "ext-2"))
	if err := s.Delete(ctx(t), cache.KindUser, "u1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantGone(t, s, cache.KindUser, "u1")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexName, "ada")
	wantNotIndexed(t, s, cache.KindUser, cache.IndexExternalID, "ext-1")
	wantTotal(t, s, cache.KindUser, 1)
	if err := s.Delete(ctx(t), cache.KindUser, "u1"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("second Delete: err = %v, want ErrNotFound", err)
	}
	mustGet(t, s, cache.KindUser, "u2")

	// Id, name and externalId are free again.
	again := mustCreate(t, s, user("u1", "ADA", "ext-1"))
	if again.Version != 1 {
		t.Errorf("re-created record has Version %d, want 1", again.Version)
	}
}

func testKindsSeparate(t *testing.T, s cache.Store) {
	u := mustCreate(t, s, user("x1", "Team", "ext-1"))
	g := group("x1", "team")
	g.ExternalID = "ext-1"
	g = mustCreate(t, s, g)

	for _, tc := range []struct {
		kind cache.Kind
		want cache.Record
	}{{cache.KindUser, u}, {cache.KindGroup, g}} {
		wantRecord(t, "Get "+string(tc.kind), mustGet(t, s, tc.kind, "x1"), tc.want)
		got, err := s.Lookup(ctx(t), tc.kind, cache.IndexName, "TEAM")
		if err != nil {
			t.Fatalf("Lookup %s name: %v", tc.kind, err)
		}
		wantRecord(t, "Lookup "+string(tc.kind), got, tc.want)
		wantFound(t, s, tc.kind, cache.IndexExternalID, "ext-1", tc.want)
		wantTotal(t, s, tc.kind, 1)
	}

	if err := s.Delete(ctx(t), cache.KindGroup, "x1"); err != nil {
		t.Fatalf("Delete group: %v", err)
	}
	wantRecord(t, "user after group Delete", mustGet(t, s, cache.KindUser, "x1"), u)
	if _, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "team"); err != nil {
		t.Errorf("user name index lost with the group: %v", err)
	}
}

func testPing(t *testing.T, s cache.Store) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func wantGone(t *testing.T, s cache.Store, kind cache.Kind, id string) {
	t.Helper()
	if got, err := s.Get(ctx(t), kind, id); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get(%s %s) = %+v, %v; want ErrNotFound", kind, id, got, err)
	}
}

func wantNotIndexed(t *testing.T, s cache.Store, kind cache.Kind, index cache.Index, value string) {
	t.Helper()
	if index.Unique() {
		if got, err := s.Lookup(ctx(t), kind, index, value); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("Lookup(%s %s %q) = %q, %v; want ErrNotFound", kind, index, value, got.ID, err)
		}
	}
	wantFound(t, s, kind, index, value)
}

// wantFound checks that Find returns exactly want, in order.
func wantFound(t *testing.T, s cache.Store, kind cache.Kind, index cache.Index, value string, want ...cache.Record) {
	t.Helper()
	got, err := s.Find(ctx(t), kind, index, value)
	if err != nil {
		t.Fatalf("Find(%s %s %q): %v", kind, index, value, err)
	}
	if got == nil {
		t.Errorf("Find(%s %s %q) = nil, want an empty slice", kind, index, value)
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("Find(%s %s %q) = %q, want %q", kind, index, value, ids(got), ids(want))
	}
	for i := range got {
		wantRecord(t, fmt.Sprintf("Find %s %q [%d]", index, value, i), got[i], want[i])
	}
}

func wantTotal(t *testing.T, s cache.Store, kind cache.Kind, want int) {
	t.Helper()
	p, err := s.List(ctx(t), kind, 0, 0)
	if err != nil {
		t.Fatalf("List(%s): %v", kind, err)
	}
	if p.Total != want {
		t.Errorf("List(%s).Total = %d, want %d", kind, p.Total, want)
	}
}

// testReadopted: the marks of a record rebuilt from UiPath (Readopted,
// Imported) survive every read path and later updates, are absent unless
// set, and an update can clear them.
func testReadopted(t *testing.T, s cache.Store) {
	u := user("u1", "ada", "")
	u.Readopted = true
	u.Imported = true
	mustCreate(t, s, u)
	if got := mustGet(t, s, cache.KindUser, "u1"); !got.Readopted || !got.Imported {
		t.Errorf("Get lost Readopted: %#v", got)
	}
	got, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "ada")
	if err != nil || !got.Readopted {
		t.Errorf("Lookup: %#v, %v; want Readopted", got, err)
	}
	if _, err := s.Update(ctx(t), cache.KindUser, "u1", increment); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, cache.KindUser, "u1"); !got.Readopted || !got.Imported {
		t.Errorf("Update lost Readopted or Imported: %#v", got)
	}
	page, err := s.List(ctx(t), cache.KindUser, 0, 10)
	if err != nil || len(page.Records) != 1 || !page.Records[0].Readopted || !page.Records[0].Imported {
		t.Errorf("List: %#v, %v; want the readopted, imported record", page.Records, err)
	}
	if _, err := s.Update(ctx(t), cache.KindUser, "u1", func(r cache.Record) (cache.Record, error) {
		r.Imported = false
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, cache.KindUser, "u1"); !got.Readopted || got.Imported {
		t.Errorf("after clearing Imported: %#v", got)
	}
	g := group("g1", "Admins", "u1")
	g.Readopted = true
	mustCreate(t, s, g)
	if got := mustGet(t, s, cache.KindGroup, "g1"); !got.Readopted || len(got.Members) != 1 {
		t.Errorf("group Get: %#v; want Readopted with its member", got)
	}
	mustCreate(t, s, user("u2", "grace", ""))
	if got := mustGet(t, s, cache.KindUser, "u2"); got.Readopted || got.Imported {
		t.Errorf("a record created without the mark reads back with it: %#v", got)
	}
}
