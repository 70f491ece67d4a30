package cachetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
)

const writers = 20

// testParallelUpdate checks compare-and-swap: concurrent increments of a
// counter kept in Resource must all land.
func testParallelUpdate(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "ada", "ext-1"))
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.Update(ctx(t), cache.KindUser, "u1", increment)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	got := mustGet(t, s, cache.KindUser, "u1")
	if n := counter(t, got); n != writers {
		t.Errorf("counter = %d, want %d (lost updates)", n, writers)
	}
	if got.Version != writers+1 {
		t.Errorf("Version = %d, want %d", got.Version, writers+1)
	}
}

// testParallelMembers appends a distinct member from each writer and checks
// both the record and the membership index.
func testParallelMembers(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins"))
	var wg sync.WaitGroup
	errs := make([]error, writers)
	var want []string
	for i := range writers {
		member := fmt.Sprintf("u%02d", i)
		want = append(want, member)
		wg.Go(func() {
			_, errs[i] = s.Update(ctx(t), cache.KindGroup, "g1", func(r cache.Record) (cache.Record, error) {
				// Copy: fn must not modify what it was given in place.
				r.Members = append(slices.Clone(r.Members), member)
				slices.Sort(r.Members)
				return r, nil
			})
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
	for _, m := range want {
		wantGroupsOf(t, s, m, "g1")
	}
}

// testParallelCreateSameName races creates of distinct ids for one name:
// exactly one wins and the index points at it.
func testParallelCreateSameName(t *testing.T, s cache.Store) {
	var wg sync.WaitGroup
	errs := make([]error, writers)
	names := []string{"ADA-A", "ada-a"} // one name, two spellings
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.Create(ctx(t), user(fmt.Sprintf("u%02d", i), names[i%2], ""))
		})
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil && winner != "":
			t.Errorf("writers %s and u%02d both created the name", winner, i)
		case err == nil:
			winner = fmt.Sprintf("u%02d", i)
		case !errors.Is(err, cache.ErrAlreadyExists):
			t.Errorf("writer %d: err = %v, want ErrAlreadyExists", i, err)
		}
	}
	if winner == "" {
		t.Fatal("no writer created the record")
	}
	got, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "ada-a")
	if err != nil || got.ID != winner {
		t.Errorf("Lookup = %q, %v; want %s", got.ID, err, winner)
	}
	wantTotal(t, s, cache.KindUser, 1)
}

// testParallelRename races two records onto one new name: one wins, the
// other gets ErrConflict, and no index entry dangles.
func testParallelRename(t *testing.T, s cache.Store) {
	mustCreate(t, s, user("u1", "ada", ""))
	mustCreate(t, s, user("u2", "grace", ""))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{"u1", "u2"} {
		wg.Go(func() { _, errs[i] = s.Update(ctx(t), cache.KindUser, id, rename("Hopper")) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			won = i
		case !errors.Is(err, cache.ErrConflict):
			t.Errorf("rename %d: err = %v, want nil or ErrConflict", i, err)
		}
	}
	if won == -1 || (errs[0] == nil && errs[1] == nil) {
		t.Fatalf("errs = %v; want exactly one success", errs)
	}
	winner, loser, loserName := "u1", "u2", "grace"
	if won == 1 {
		winner, loser, loserName = "u2", "u1", "ada"
	}
	if got, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, "hopper"); err != nil || got.ID != winner {
		t.Errorf("Lookup hopper = %q, %v; want %s", got.ID, err, winner)
	}
	if got, err := s.Lookup(ctx(t), cache.KindUser, cache.IndexName, loserName); err != nil || got.ID != loser {
		t.Errorf("Lookup %s = %q, %v; want %s", loserName, got.ID, err, loser)
	}
}
