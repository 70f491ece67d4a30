package test

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// listIDs runs a list request and returns the ids of the resources, in
// order, and totalResults.
func (e *env) listIDs(path string) ([]string, int) {
	e.t.Helper()
	r := e.must(200, "GET", path, nil)
	var ids []string
	for _, res := range r.body["Resources"].([]any) {
		ids = append(ids, str(res.(map[string]any), "id"))
	}
	return ids, int(r.body["totalResults"].(float64))
}

// TestFilters checks every filter operator, logical combinations, value
// paths, case rules and meta comparisons, answered from the store.
func TestFilters(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		start := time.Now().UTC().Add(-time.Second)
		ada := str(e.must(201, "POST", "/Users", map[string]any{
			"schemas": []string{userSchema, enterpriseSchema}, "userName": "ada@corp.example", "externalId": "ada-ext",
			"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}, "displayName": "Ada Lovelace", "title": "Countess",
			"emails": []any{
				map[string]any{"value": "ada@corp.example", "type": "work", "primary": true},
				map[string]any{"value": "ada@home.example", "type": "home"},
			},
			enterpriseSchema: map[string]any{"department": "R&D", "employeeNumber": "1001"},
		}).body, "id")
		bob := str(e.must(201, "POST", "/Users", map[string]any{
			"schemas": []string{userSchema, enterpriseSchema}, "userName": "bob@example.org", "externalId": "bob-ext",
			"name": map[string]any{"givenName": "Bob", "familyName": "Byron"}, "displayName": "Bob Byron", "active": false,
			"emails":         []any{map[string]any{"value": "bob@example.org", "type": "work"}},
			enterpriseSchema: map[string]any{"department": "Sales", "manager": map[string]any{"value": ada}},
		}).body, "id")
		cy := str(e.must(201, "POST", "/Users", map[string]any{
			"schemas": []string{userSchema}, "userName": "cy@corp.example", "displayName": "Cy",
		}).body, "id")
		gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Finance", "externalId": "fin"}).body, "id")
		future := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		past := start.Format(time.RFC3339)

		tests := []struct {
			name   string
			filter string
			groups bool
			want   []string
		}{
			{name: "eq userName, other case", filter: `userName eq "ADA@CORP.EXAMPLE"`, want: []string{ada}},
			{name: "attribute name and operator in any case", filter: `USERNAME EQ "ada@corp.example"`, want: []string{ada}},
			{name: "externalId is caseExact", filter: `externalId eq "ADA-EXT"`, want: nil},
			{name: "eq externalId", filter: `externalId eq "bob-ext"`, want: []string{bob}},
			{name: "eq id", filter: `id eq "` + bob + `"`, want: []string{bob}},
			{name: "ne", filter: `userName ne "ada@corp.example"`, want: []string{bob, cy}},
			{name: "co", filter: `displayName co "byr"`, want: []string{bob}},
			{name: "sw", filter: `userName sw "ADA"`, want: []string{ada}},
			{name: "ew", filter: `userName ew "corp.example"`, want: []string{ada, cy}},
			{name: "pr", filter: `title pr`, want: []string{ada}},
			{name: "not", filter: `not (title pr)`, want: []string{bob, cy}},
			{name: "and", filter: `userName ew "corp.example" and displayName sw "Cy"`, want: []string{cy}},
			{name: "or", filter: `userName eq "cy@corp.example" or displayName eq "bob byron"`, want: []string{bob, cy}},
			{name: "grouping", filter: `(userName sw "a" or userName sw "b") and active eq true`, want: []string{ada}},
			{name: "boolean", filter: `active eq false`, want: []string{bob}},
			{name: "sub-attribute", filter: `name.familyName eq "lovelace"`, want: []string{ada}},
			{name: "multi-valued sub-attribute", filter: `emails.value eq "ada@home.example"`, want: []string{ada}},
			{name: "value path", filter: `emails[type eq "work" and value co "example.org"]`, want: []string{bob}},
			{name: "value path on home", filter: `emails[type eq "home"]`, want: []string{ada}},
			{name: "enterprise attribute by URN", filter: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"`, want: []string{ada}},
			{name: "enterprise manager", filter: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "` + ada + `"`, want: []string{bob}},
			{name: "Entra manager check", filter: `id eq "` + bob + `" and manager eq "` + ada + `"`, want: []string{bob}},
			{name: "Entra manager check, other manager", filter: `id eq "` + bob + `" and manager eq "` + cy + `"`, want: nil},
			{name: "complex compared by value", filter: `emails co "home.example"`, want: []string{ada}},
			{name: "meta.created gt", filter: `meta.created gt "` + past + `"`, want: []string{ada, bob, cy}},
			{name: "meta.lastModified lt", filter: `meta.lastModified lt "` + past + `"`, want: nil},
			{name: "meta.created le future", filter: `meta.created le "` + future + `"`, want: []string{ada, bob, cy}},
			{name: "group displayName, other case", filter: `displayName eq "FINANCE"`, groups: true, want: []string{gid}},
			{name: "group externalId", filter: `externalId eq "fin"`, groups: true, want: []string{gid}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := "/Users"
				if tt.groups {
					path = "/Groups"
				}
				got, total := e.listIDs(path + "?filter=" + url.QueryEscape(tt.filter))
				if !slices.Equal(sorted(got), sorted(tt.want)) || total != len(tt.want) {
					t.Errorf("filter %s: got %v (total %d), want %v", tt.filter, got, total, tt.want)
				}
			})
		}
	})
}

// TestSortAndPaging checks sortBy/sortOrder (nulls last when ascending),
// paging over a sorted list, and sort errors.
func TestSortAndPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		mk := func(userName, display string) string {
			b := map[string]any{"schemas": []string{userSchema}, "userName": userName}
			if display != "" {
				b["displayName"] = display
			}
			return str(e.must(201, "POST", "/Users", b).body, "id")
		}
		cy := mk("cy@corp.example", "cy")
		ada := mk("ada@corp.example", "Ada")
		none := mk("zed@corp.example", "")
		bob := mk("bob@corp.example", "bob")

		tests := []struct {
			name  string
			query string
			want  []string
		}{
			{name: "creation order by default", query: "", want: []string{cy, ada, none, bob}},
			{name: "ascending, case-insensitive, missing last", query: "sortBy=displayName", want: []string{ada, bob, cy, none}},
			{name: "descending, missing first", query: "sortBy=displayName&sortOrder=descending", want: []string{none, cy, bob, ada}},
			{name: "attribute name in any case", query: "sortBy=USERNAME", want: []string{ada, bob, cy, none}},
			{name: "meta.created descending", query: "sortBy=meta.created&sortOrder=descending", want: []string{bob, none, ada, cy}},
			{name: "page of a sorted list", query: "sortBy=userName&startIndex=2&count=2", want: []string{bob, cy}},
			{name: "sorted and filtered", query: "sortBy=userName&sortOrder=descending&filter=" + url.QueryEscape(`userName ew "corp.example" and displayName pr`), want: []string{cy, bob, ada}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total := e.listIDs("/Users?" + tt.query)
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
				}
				if tt.name != "page of a sorted list" && total != len(tt.want) {
					t.Errorf("totalResults %d, want %d", total, len(tt.want))
				}
			})
		}
		scimError(t, e.do("GET", "/Users?sortBy=shoeSize", nil), 400, "invalidValue")
		scimError(t, e.do("GET", "/Users?sortBy=userName&sortOrder=sideways", nil), 400, "invalidValue")
		r := e.must(200, "POST", "/Users/.search", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"sortBy":  "displayName", "count": 2, "attributes": []string{"userName"},
		})
		res := r.body["Resources"].([]any)
		if len(res) != 2 || str(res[0].(map[string]any), "id") != ada || res[0].(map[string]any)["displayName"] != nil {
			t.Errorf(".search with sortBy and attributes: %s", r.raw)
		}
	})
}
