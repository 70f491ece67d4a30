package test

import (
	"fmt"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// TestRootSearch: POST /.search searches every resource type (RFC 7644
// §3.4.3): Users then Groups, paged across both, each resource in its own
// type's representation; a filter on an attribute one type lacks finds
// the other type's only; a filter neither type accepts, and sortBy (no
// order across types), answer 400.
func TestRootSearch(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		ada := str(e.must(201, "POST", "/Users", newUserBody("ada@corp.example")).body, "id")
		bob := str(e.must(201, "POST", "/Users", newUserBody("bob@corp.example")).body, "id")
		g := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Finance"}).body, "id")
		const search = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
		ids := func(r response) []string {
			var out []string
			res, _ := r.body["Resources"].([]any)
			for _, x := range res {
				out = append(out, str(x.(map[string]any), "id"))
			}
			return out
		}
		r := e.must(200, "POST", "/.search", map[string]any{"schemas": []string{search}})
		if got := ids(r); len(got) != 3 || got[2] != g || fmt.Sprint(r.body["totalResults"]) != "3" || fmt.Sprint(r.body["itemsPerPage"]) != "3" {
			t.Errorf("everything: %s", r.raw)
		}
		r = e.must(200, "POST", "/.search", map[string]any{"schemas": []string{search}, "startIndex": 2, "count": 2})
		if got := ids(r); len(got) != 2 || got[1] != g || fmt.Sprint(r.body["totalResults"]) != "3" || fmt.Sprint(r.body["startIndex"]) != "2" {
			t.Errorf("a page across the types: %s", r.raw)
		}
		r = e.must(200, "POST", "/.search", map[string]any{"schemas": []string{search}, "filter": `userName eq "bob@corp.example"`})
		if got := ids(r); len(got) != 1 || got[0] != bob {
			t.Errorf("userName filter: %s", r.raw)
		}
		r = e.must(200, "POST", "/.search", map[string]any{"schemas": []string{search}, "filter": `id eq "` + ada + `" or id eq "` + g + `"`})
		if got := ids(r); len(got) != 2 || got[0] != ada || got[1] != g {
			t.Errorf("id filter over both types: %s", r.raw)
		}
		r = e.must(200, "POST", "/.search", map[string]any{"schemas": []string{search}, "count": 0})
		if fmt.Sprint(r.body["totalResults"]) != "3" || fmt.Sprint(r.body["itemsPerPage"]) != "0" {
			t.Errorf("count 0: %s", r.raw)
		}
		scimError(t, e.do("POST", "/.search", map[string]any{"schemas": []string{search}, "filter": `shoeSize eq "44"`}), 400, "invalidFilter")
		scimError(t, e.do("POST", "/.search", map[string]any{"schemas": []string{search}, "sortBy": "userName"}), 400, "invalidValue")
		scimError(t, e.do("POST", "/.search", `[1]`), 400, "invalidSyntax")
	})
}
