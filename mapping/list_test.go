package mapping_test

import (
	"fmt"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// listEnv holds four users and two groups:
//
//	ada   title Engineer  in Engineers
//	bob                   in Engineers
//	carol title Analyst   in Analysts
//	dave
func listEnv(t *testing.T, store envtest.Store) *env {
	t.Helper()
	e := newEnv(t, envOptions{store: store})
	e.ids = map[string]string{}
	for _, u := range []struct{ name, title string }{{"ada", "Engineer"}, {"bob", ""}, {"carol", "Analyst"}, {"dave", ""}} {
		raw := userJSON(u.name+"@corp.example", u.name, "Test", "ext-"+u.name)
		if u.title != "" {
			raw = merge(raw, `{"title":"`+u.title+`"}`)
		}
		it, err := e.users.Create(t.Context(), doc(t, raw))
		if err != nil {
			t.Fatal(err)
		}
		e.ids[u.name] = it.ID
	}
	e.ids["Engineers"] = e.mustGroup("Engineers", e.idsOf("ada", "bob")...).ID
	e.ids["Analysts"] = e.mustGroup("Analysts", e.ids["carol"]).ID
	return e
}

func TestList(t *testing.T) {
	tests := []struct {
		name            string
		groups          bool // list groups instead of users
		filter          string
		sortBy, order   string
		offset, count   int
		want            []string // names, in order
		wantTotal       int
		wantGroupsOfAda bool // ada is in the answer: check its groups carry no display
	}{
		{name: "all, creation order", count: 100, want: []string{"ada", "bob", "carol", "dave"}, wantTotal: 4, wantGroupsOfAda: true},
		{name: "page", offset: 1, count: 2, want: []string{"bob", "carol"}, wantTotal: 4},
		{name: "page past the end", offset: 4, count: 2, want: []string{}, wantTotal: 4},
		{name: "count only", want: []string{}, wantTotal: 4},
		{name: "userName, another case", filter: `userName eq "ADA@Corp.Example"`, count: 100, want: []string{"ada"}, wantTotal: 1, wantGroupsOfAda: true},
		{name: "userName, count only", filter: `userName eq "ada@corp.example"`, want: []string{}, wantTotal: 1},
		{name: "unknown userName", filter: `userName eq "zoe@corp.example"`, count: 100, want: []string{}, wantTotal: 0},
		{name: "externalId", filter: `externalId eq "ext-bob"`, count: 100, want: []string{"bob"}, wantTotal: 1},
		{name: "externalId is case-exact", filter: `externalId eq "EXT-BOB"`, count: 100, want: []string{}, wantTotal: 0},
		{name: "id", filter: `id eq "{carol}"`, count: 100, want: []string{"carol"}, wantTotal: 1},
		{name: "indexed equality and more", filter: `userName eq "ada@corp.example" and title pr`, count: 100, want: []string{"ada"}, wantTotal: 1},
		{name: "indexed equality, the rest fails", filter: `userName eq "bob@corp.example" and title pr`, count: 100, want: []string{}, wantTotal: 0},
		{name: "general filter", filter: `title pr`, count: 100, want: []string{"ada", "carol"}, wantTotal: 2, wantGroupsOfAda: true},
		{name: "general filter, paged", filter: `title pr`, offset: 1, count: 1, want: []string{"carol"}, wantTotal: 2},
		{name: "general filter on a sub-attribute", filter: `name.givenName sw "c" or emails.value ew "dave@corp.example"`, count: 100,
			want: []string{"carol", "dave"}, wantTotal: 2},
		{name: "filter on meta", filter: `meta.resourceType eq "User" and not (title pr)`, count: 100, want: []string{"bob", "dave"}, wantTotal: 2},
		{name: "users by group", filter: `groups.value eq "{Engineers}"`, count: 100, want: []string{"ada", "bob"}, wantTotal: 2},
		{name: "sort userName descending", sortBy: "userName", order: "descending", count: 100,
			want: []string{"dave", "carol", "bob", "ada"}, wantTotal: 4, wantGroupsOfAda: true},
		{name: "sort title, missing values last", sortBy: "title", count: 100, want: []string{"carol", "ada", "bob", "dave"}, wantTotal: 4},
		{name: "sort title descending, missing values first", sortBy: "title", order: "descending", count: 100,
			want: []string{"bob", "dave", "ada", "carol"}, wantTotal: 4},
		{name: "sorted, filtered and paged", filter: `title pr`, sortBy: "userName", order: "descending", offset: 1, count: 5,
			want: []string{"ada"}, wantTotal: 2},
		{name: "groups: displayName, another case", groups: true, filter: `displayName eq "engineers"`, count: 100,
			want: []string{"Engineers"}, wantTotal: 1},
		{name: "groups: by member", groups: true, filter: `members.value eq "{carol}"`, count: 100, want: []string{"Analysts"}, wantTotal: 1},
		{name: "groups: by member, value path", groups: true, filter: `members[value eq "{ada}"]`, count: 100, want: []string{"Engineers"}, wantTotal: 1},
		{name: "groups: by unknown member", groups: true, filter: `members[value eq "nobody"]`, count: 100, want: []string{}, wantTotal: 0},
		{name: "emails value", filter: `emails[value eq "carol@corp.example"]`, count: 100, want: []string{"carol"}, wantTotal: 1},
		{name: "emails work value, another case", filter: `emails[type eq "work" and value eq "CAROL@corp.example"]`, count: 100,
			want: []string{"carol"}, wantTotal: 1},
		{name: "emails of another type", filter: `emails[type eq "home" and value eq "carol@corp.example"]`, count: 100, want: []string{}, wantTotal: 0},
		{name: "groups: sorted", groups: true, sortBy: "displayName", count: 100, want: []string{"Analysts", "Engineers"}, wantTotal: 2},
		{name: "groups: all", groups: true, count: 1, want: []string{"Engineers"}, wantTotal: 2},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := listEnv(t, store)
		e.resetCalls()
		names := map[string]string{}
		for n, id := range e.ids {
			names[id] = n
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				kind, r := scimdoc.KindUser, e.users
				if tt.groups {
					kind, r = scimdoc.KindGroup, e.groups
				}
				req := mapping.ListRequest{Offset: tt.offset, Count: tt.count}
				var err error
				if tt.filter != "" {
					if req.Filter, err = scimdoc.CompileFilter(kind, e.expand(tt.filter)); err != nil {
						t.Fatal(err)
					}
				}
				if tt.sortBy != "" {
					if req.Sort, err = scimdoc.CompileSort(kind, tt.sortBy, tt.order); err != nil {
						t.Fatal(err)
					}
				}
				res, err := r.List(t.Context(), req)
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				got := []string{}
				for _, it := range res.Items {
					got = append(got, names[it.ID])
					if it.Kind != kind {
						t.Errorf("item %s has kind %v", it.ID, it.Kind)
					}
				}
				if !reflect.DeepEqual(got, tt.want) || res.Total != tt.wantTotal {
					t.Errorf("List = %v (total %d), want %v (total %d)", got, res.Total, tt.want, tt.wantTotal)
				}
				if res.Items == nil {
					t.Error("Items is nil; an empty page must be an empty list")
				}
				if tt.filter != "" && tt.sortBy == "" && tt.offset == 0 {
					// The indexed path answers what the general one does:
					// an or defeats every index.
					general := req
					if general.Filter, err = scimdoc.CompileFilter(kind, e.expand("("+tt.filter+") or ("+tt.filter+")")); err != nil {
						t.Fatal(err)
					}
					want, err := r.List(t.Context(), general)
					if err != nil {
						t.Fatalf("List, general path: %v", err)
					}
					if !reflect.DeepEqual(sorted(idsOfItems(res.Items)...), sorted(idsOfItems(want.Items)...)) || res.Total != want.Total {
						t.Errorf("List = %v (total %d), general path %v (total %d)", idsOfItems(res.Items), res.Total, idsOfItems(want.Items), want.Total)
					}
				}
				for _, it := range res.Items {
					switch names[it.ID] {
					case "ada":
						if want := []mapping.GroupRef{{ID: e.ids["Engineers"]}}; !reflect.DeepEqual(it.Groups, want) {
							t.Errorf("ada's groups in a list %+v, want %+v (no display)", it.Groups, want)
						}
					case "Engineers":
						if want := e.idsOf("ada", "bob"); !reflect.DeepEqual(it.Members, want) {
							t.Errorf("Engineers members %v, want %v", it.Members, want)
						}
					}
				}
			})
		}
	})
}

// TestListReadsNoUiPath: lists and reads are answered from the store; a
// single read names the user's groups, a list does not.
func TestListReadsNoUiPath(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := listEnv(t, store)
		e.resetCalls()
		it, err := e.users.Get(t.Context(), e.ids["ada"])
		if err != nil {
			t.Fatal(err)
		}
		if want := []mapping.GroupRef{{ID: e.ids["Engineers"], Display: "Engineers"}}; !reflect.DeepEqual(it.Groups, want) {
			t.Errorf("Get: ada's groups %+v, want %+v", it.Groups, want)
		}
		a := attrsOf(t, it)
		groups, _ := a["groups"].([]any)
		if len(groups) != 1 || groups[0].(map[string]any)["display"] != "Engineers" {
			t.Errorf("Get: ada's groups attribute %v", a["groups"])
		}
		f, err := scimdoc.CompileFilter(scimdoc.KindUser, `userName eq "ada@corp.example"`)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.users.List(t.Context(), mapping.ListRequest{Filter: f, Count: 1})
		if err != nil || len(res.Items) != 1 {
			t.Fatalf("List: %v %+v", err, res)
		}
		a = attrsOf(t, res.Items[0])
		groups, _ = a["groups"].([]any)
		if len(groups) != 1 || groups[0].(map[string]any)["display"] != nil {
			t.Errorf("List: ada's groups attribute %v, want one without display", a["groups"])
		}
		if _, err := e.groups.Get(t.Context(), e.ids["Analysts"]); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			if n := e.emu.CountRequests(m); n != 0 {
				t.Errorf("%d %s calls to UiPath for reads, want none", n, m)
			}
		}
	})
}

// TestListAcrossScanPages: a filtered or sorted list reads the store in
// pages of 500; the window the client asked for must come out the same
// wherever the page boundaries fall.
func TestListAcrossScanPages(t *testing.T) {
	const n = 520 // more than one scan page
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		// Concurrent creates share the embedded store's fsyncs.
		sem := make(chan struct{}, 32)
		var wg sync.WaitGroup
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				raw := userJSON(fmt.Sprintf("u%04d@corp.example", i), "U", "T", fmt.Sprintf("x%d", i))
				if i%3 == 0 {
					raw = merge(raw, `{"title":"Engineer"}`)
				}
				if _, err := e.users.Create(t.Context(), doc(t, raw)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		all, err := e.users.List(t.Context(), mapping.ListRequest{Count: 2 * n})
		if err != nil || len(all.Items) != n || all.Total != n {
			t.Fatalf("unfiltered list: %d items of %d (%v), want %d", len(all.Items), all.Total, err, n)
		}
		// The oracle: the store's order, filtered and sorted here.
		var storeOrder, titled []string
		firstPage := 0 // matches among the first 500 records
		for i, it := range all.Items {
			a := attrsOf(t, it)
			storeOrder = append(storeOrder, a["userName"].(string))
			if _, ok := a["title"]; ok {
				titled = append(titled, a["userName"].(string))
				if i < 500 {
					firstPage++
				}
			}
		}
		desc := slices.Clone(storeOrder)
		slices.Sort(desc)
		slices.Reverse(desc)
		titledAsc := slices.Clone(titled)
		slices.Sort(titledAsc)
		window := func(l []string, off, count int) []string {
			return l[min(off, len(l)):min(off+count, len(l))]
		}

		tests := []struct {
			name          string
			filter, sort  string
			desc          bool
			offset, count int
			want          []string
		}{
			{name: "filter, window across the boundary", filter: "title pr", offset: firstPage - 3, count: 6, want: window(titled, firstPage-3, 6)},
			{name: "filter, window from the boundary", filter: "title pr", offset: firstPage, count: 2, want: window(titled, firstPage, 2)},
			{name: "filter, everything", filter: "title pr", count: 1000, want: titled},
			{name: "filter, the tail", filter: "title pr", offset: 170, count: 10, want: window(titled, 170, 10)},
			{name: "filter, past the end", filter: "title pr", offset: 400, count: 10, want: []string{}},
			{name: "sort descending, window across the boundary", sort: "userName", desc: true, offset: 495, count: 10, want: window(desc, 495, 10)},
			{name: "filter and sort, the tail", filter: "title pr", sort: "userName", offset: 170, count: 10, want: window(titledAsc, 170, 10)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req := mapping.ListRequest{Offset: tt.offset, Count: tt.count}
				if tt.filter != "" {
					req.Filter, _ = scimdoc.CompileFilter(scimdoc.KindUser, tt.filter)
				}
				if tt.sort != "" {
					order := "ascending"
					if tt.desc {
						order = "descending"
					}
					req.Sort, _ = scimdoc.CompileSort(scimdoc.KindUser, tt.sort, order)
				}
				res, err := e.users.List(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				got := []string{}
				for _, it := range res.Items {
					got = append(got, attrsOf(t, it)["userName"].(string))
				}
				wantTotal := n
				if tt.filter != "" {
					wantTotal = len(titled)
				}
				if !slices.Equal(got, tt.want) || res.Total != wantTotal {
					t.Errorf("List = %d items %s (total %d), want %d items %s (total %d)",
						len(got), strings.Join(got, " "), res.Total, len(tt.want), strings.Join(tt.want, " "), wantTotal)
				}
			})
		}
	})
}

func idsOfItems(items []mapping.Item) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}
