package storetool_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/storetool"
)

// listStore keeps ids by kind and implements only what Purge uses: List
// and Delete (any other method panics on the nil embedded Store).
type listStore struct {
	cache.Store
	ids     map[cache.Kind][]string
	deletes []cache.Kind
	// gone makes Delete of this id answer ErrNotFound, as when someone
	// else deleted it between List and Delete.
	gone string
}

func (s *listStore) List(_ context.Context, kind cache.Kind, offset, limit int) (cache.Page, error) {
	ids := s.ids[kind]
	var p cache.Page
	for _, id := range ids[min(offset, len(ids)):min(offset+limit, len(ids))] {
		p.Records = append(p.Records, cache.Record{Kind: kind, ID: id})
	}
	p.Total = len(ids)
	return p, nil
}

func (s *listStore) Delete(_ context.Context, kind cache.Kind, id string) error {
	i := slices.Index(s.ids[kind], id)
	if i < 0 {
		return cache.ErrNotFound
	}
	s.ids[kind] = slices.Delete(s.ids[kind], i, i+1)
	s.deletes = append(s.deletes, kind)
	if id == s.gone {
		return fmt.Errorf("delete %s: %w", id, cache.ErrNotFound)
	}
	return nil
}

// TestPurge: more records than one List page, groups before users, and a
// record already gone is no error.
func TestPurge(t *testing.T) {
	s := &listStore{ids: map[cache.Kind][]string{}, gone: "u0007"}
	for i := range 2500 {
		s.ids[cache.KindUser] = append(s.ids[cache.KindUser], fmt.Sprintf("u%04d", i))
	}
	for i := range 3 {
		s.ids[cache.KindGroup] = append(s.ids[cache.KindGroup], fmt.Sprintf("g%d", i))
	}
	if err := storetool.Purge(t.Context(), s); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for kind, ids := range s.ids {
		if len(ids) != 0 {
			t.Errorf("%v: %d records left after Purge", kind, len(ids))
		}
	}
	if want := 2503; len(s.deletes) != want {
		t.Errorf("%d deletes, want %d", len(s.deletes), want)
	}
	if i := slices.Index(s.deletes, cache.KindUser); i != 3 {
		t.Errorf("first user deleted after %d groups, want after all 3", i)
	}
}
