package cachetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
)

// creationOrder are user ids in the order testList creates them: neither
// sorted nor reverse-sorted, so only creation order explains the result.
var creationOrder = []string{"u5", "u1", "u7", "u3", "u2", "u6", "u4"}

func createUsers(t *testing.T, s cache.Store, idList []string) {
	t.Helper()
	for _, id := range idList {
		mustCreate(t, s, user(id, "name-"+id, "ext-"+id))
	}
}

func testList(t *testing.T, s cache.Store) {
	createUsers(t, s, creationOrder)
	mustCreate(t, s, group("g1", "One"))
	// Updating must not move a record in the order.
	if _, err := s.Update(ctx(t), cache.KindUser, "u5", rename("renamed")); err != nil {
		t.Fatalf("Update: %v", err)
	}

	n := len(creationOrder)
	tests := []struct {
		name          string
		offset, limit int
		wantIDs       []string
	}{
		{name: "all", offset: 0, limit: 100, wantIDs: creationOrder},
		{name: "exact", offset: 0, limit: n, wantIDs: creationOrder},
		{name: "first page", offset: 0, limit: 3, wantIDs: creationOrder[:3]},
		{name: "second page", offset: 3, limit: 3, wantIDs: creationOrder[3:6]},
		{name: "last partial page", offset: 6, limit: 3, wantIDs: creationOrder[6:]},
		{name: "limit 0", offset: 0, limit: 0, wantIDs: nil},
		{name: "limit 0 with offset", offset: 2, limit: 0, wantIDs: nil},
		{name: "offset at end", offset: n, limit: 5, wantIDs: nil},
		{name: "offset beyond end", offset: n + 10, limit: 5, wantIDs: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.List(ctx(t), cache.KindUser, tt.offset, tt.limit)
			if err != nil {
				t.Fatalf("List(%d, %d): %v", tt.offset, tt.limit, err)
			}
			if p.Total != n {
				t.Errorf("Total = %d, want %d", p.Total, n)
			}
			if got := ids(p.Records); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("ids = %q, want %q", got, tt.wantIDs)
			}
			for _, r := range p.Records {
				if r.Kind != cache.KindUser {
					t.Errorf("record %s has Kind %q", r.ID, r.Kind)
				}
				wantRecord(t, "List vs Get "+r.ID, r, mustGet(t, s, cache.KindUser, r.ID))
			}
		})
	}

	p, err := s.List(ctx(t), cache.KindGroup, 0, 10)
	if err != nil {
		t.Fatalf("List groups: %v", err)
	}
	if p.Total != 1 || !slices.Equal(ids(p.Records), []string{"g1"}) {
		t.Errorf("List groups = %q total %d, want [g1] total 1", ids(p.Records), p.Total)
	}
}

func testListAfterDelete(t *testing.T, s cache.Store) {
	createUsers(t, s, creationOrder)
	for _, id := range []string{"u1", "u6"} {
		if err := s.Delete(ctx(t), cache.KindUser, id); err != nil {
			t.Fatalf("Delete %s: %v", id, err)
		}
	}
	// Re-creating a deleted id puts it last.
	mustCreate(t, s, user("u1", "again", ""))
	want := []string{"u5", "u7", "u3", "u2", "u4", "u1"}
	p, err := s.List(ctx(t), cache.KindUser, 0, 100)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := ids(p.Records); !slices.Equal(got, want) || p.Total != len(want) {
		t.Errorf("List = %q total %d, want %q total %d", got, p.Total, want, len(want))
	}
	p, err = s.List(ctx(t), cache.KindUser, 4, 100)
	if err != nil {
		t.Fatalf("List offset 4: %v", err)
	}
	if got := ids(p.Records); !slices.Equal(got, want[4:]) {
		t.Errorf("List offset 4 = %q, want %q", got, want[4:])
	}
}

func testListInvalid(t *testing.T, s cache.Store) {
	createUsers(t, s, creationOrder[:2])
	for _, tc := range []struct{ offset, limit int }{{-1, 10}, {0, -1}} {
		if _, err := s.List(ctx(t), cache.KindUser, tc.offset, tc.limit); err == nil {
			t.Errorf("List(%d, %d) succeeded, want an error", tc.offset, tc.limit)
		}
	}
	p, err := s.List(ctx(t), cache.Kind("robot"), 0, 10)
	if err != nil || p.Total != 0 || len(p.Records) != 0 {
		t.Errorf("List(unknown kind) = %+v, %v; want an empty page", p, err)
	}
}

// testPipeline issues a batch of concurrent operations that mixes present
// and missing keys, as a backend that pipelines or batches them would, and
// checks that each gets its own answer.
func testPipeline(t *testing.T, s cache.Store) {
	present := []string{"u1", "u3", "u5"}
	createUsers(t, s, present)

	type result struct {
		op  string
		err error
		id  string
	}
	var ops []func() result
	for i := range 6 {
		id := fmt.Sprintf("u%d", i)
		ops = append(ops,
			func() result {
				r, err := s.Get(ctx(t), cache.KindUser, id)
				return result{"get " + id, err, r.ID}
			},
			func() result {
				r, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "NAME-"+id)
				return result{"lookup name " + id, err, r.ID}
			},
			func() result {
				recs, err := s.Find(ctx(t), cache.KindUser, cache.IndexExternalID, "ext-"+id)
				switch {
				case err != nil:
					return result{"find ext " + id, err, ""}
				case len(recs) == 0:
					return result{"find ext " + id, cache.ErrNotFound, ""}
				case len(recs) > 1:
					return result{"find ext " + id, fmt.Errorf("%d records", len(recs)), ""}
				}
				return result{"find ext " + id, nil, recs[0].ID}
			},
			func() result {
				r, err := s.Get(ctx(t), cache.KindGroup, id) // never present
				return result{"get group " + id, err, r.ID}
			},
		)
	}
	results := make([]result, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() { results[i] = op() })
	}
	wg.Wait()

	for i, res := range results {
		id := fmt.Sprintf("u%d", i/4)
		wantFound := slices.Contains(present, id) && i%4 != 3
		switch {
		case wantFound && (res.err != nil || res.id != id):
			t.Errorf("%s = %q, %v; want %s", res.op, res.id, res.err, id)
		case !wantFound && !errors.Is(res.err, cache.ErrNotFound):
			t.Errorf("%s = %q, %v; want ErrNotFound", res.op, res.id, res.err)
		}
	}

	// Deletes of a mixed batch: present ones succeed, missing ones report
	// ErrNotFound, and nothing else is touched.
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Delete(ctx(t), cache.KindUser, fmt.Sprintf("u%d", i)) })
	}
	wg.Wait()
	for i, err := range errs {
		id := fmt.Sprintf("u%d", i)
		if slices.Contains(present, id) {
			if err != nil {
				t.Errorf("Delete %s: %v", id, err)
			}
		} else if !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("Delete %s: err = %v, want ErrNotFound", id, err)
		}
	}
	wantTotal(t, s, cache.KindUser, 0)
}
