package test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream"
)

const (
	userSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []string{patchSchema}, "Operations": list}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// upstreamUser fetches a user from the emulator's state or fails.
func (e *env) upstreamUser(id string) upstream.User {
	e.t.Helper()
	u, ok := e.emu.User(id)
	if !ok {
		e.t.Fatalf("UiPath has no user %s", id)
	}
	return u
}

// customGroupIDs is a user's UiPath groups without the built-in ones
// UiPath manages itself (Everyone).
func (e *env) customGroupIDs(u upstream.User) []string {
	var out []string
	for _, g := range u.GroupIDs {
		if grp, ok := e.emu.Group(g); ok && grp.Type == upstream.GroupTypeBuiltIn {
			continue
		}
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// TestProvisioningEndToEnd drives the whole bridge over HTTP through the
// life of two users and a group, checking UiPath (the emulator) and the
// SCIM answers after every step, once per store backend.
func TestProvisioningEndToEnd(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, strategy := range []string{"user", "group", "auto"} {
			t.Run(strategy, func(t *testing.T) {
				e := newEnv(t, store, envOptions{strategy: strategy})
				provisioningFlow(t, e)
			})
		}
	})
}

func provisioningFlow(t *testing.T, e *env) {
	// Okta: existence check, then create.
	r := e.must(200, "GET", `/Users?filter=userName%20eq%20%22ada%40corp.example%22&startIndex=1&count=100`, nil)
	if r.body["totalResults"] != float64(0) || r.body["itemsPerPage"] != float64(0) {
		t.Fatalf("empty search: %s", r.raw)
	}
	r = e.must(201, "POST", "/Users", map[string]any{
		"schemas": []string{userSchema}, "userName": "ada@corp.example", "externalId": "00u1ada",
		"name":        map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":      []any{map[string]any{"primary": true, "value": "ada@corp.example", "type": "work"}},
		"displayName": "Ada Lovelace", "password": "x9Kq2mz1", "active": true, "groups": []any{},
	})
	ada := str(r.body, "id")
	if r.header.Get("Location") == "" || r.header.Get("ETag") == "" {
		t.Errorf("create lacks Location or ETag: %v", r.header)
	}
	if _, ok := r.body["password"]; ok {
		t.Errorf("password echoed back: %s", r.raw)
	}
	u := e.upstreamUser(ada)
	if u.UserName != "ada@corp.example" || u.Email != "ada@corp.example" || deref(u.Name) != "Ada" ||
		deref(u.Surname) != "Lovelace" || deref(u.DisplayName) != "Ada Lovelace" || !u.IsActive {
		t.Fatalf("UiPath user after create: %+v", u)
	}

	// Entra: create with the enterprise extension and nulls.
	r = e.must(201, "POST", "/Users", map[string]any{
		"schemas":    []string{userSchema, enterpriseSchema},
		"externalId": "bob", "userName": "bob@corp.example", "active": true, "displayName": "Bob Byron",
		"emails": []any{map[string]any{"primary": true, "type": "work", "value": "bob@corp.example"}},
		"meta":   map[string]any{"resourceType": "User"},
		"name":   map[string]any{"formatted": "Bob Byron", "familyName": "Byron", "givenName": "Bob"},
		"roles":  []any{}, "phoneNumbers": nil, "title": nil, "manager": nil,
		enterpriseSchema: map[string]any{"employeeNumber": "1001", "department": "R&D"},
	})
	bob := str(r.body, "id")
	if str(r.body, enterpriseSchema, "department") != "R&D" {
		t.Errorf("enterprise extension not returned: %s", r.raw)
	}
	if got := e.upstreamUser(bob); got.UserName != "bob@corp.example" || deref(got.Surname) != "Byron" {
		t.Fatalf("UiPath bob: %+v", got)
	}

	// Lookups are answered from the store, case-insensitively on userName.
	before := e.emu.CountRequests("GET")
	r = e.must(200, "GET", `/Users?filter=userName%20eq%20%22ADA%40CORP.EXAMPLE%22`, nil)
	if r.body["totalResults"] != float64(1) || str(r.body["Resources"].([]any)[0].(map[string]any), "id") != ada {
		t.Fatalf("filter by userName: %s", r.raw)
	}
	e.must(200, "GET", "/Users/"+ada, nil)
	r = e.must(200, "GET", `/Users?filter=externalId%20eq%20%22bob%22`, nil)
	if r.body["totalResults"] != float64(1) {
		t.Fatalf("filter by externalId: %s", r.raw)
	}
	if got := e.emu.CountRequests("GET"); got != before {
		t.Errorf("reads called UiPath %d times", got-before)
	}

	// Group push: create empty, add members (Okta form).
	r = e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Finance", "members": []any{}})
	gid := str(r.body, "id")
	if g, ok := e.emu.Group(gid); !ok || g.Name != "Finance" {
		t.Fatalf("UiPath group after create: %+v %v", g, ok)
	}
	e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{
		"op": "add", "path": "members", "value": []any{
			map[string]any{"value": ada, "display": "ada@corp.example"}, map[string]any{"value": bob},
		}}))
	e.checkMembers(gid, ada, bob)

	// Okta removal by value filter.
	e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + bob + `"]`}))
	e.checkMembers(gid, ada)

	// Entra legacy removal with a value array removes only those members.
	e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": bob}}}))
	e.checkMembers(gid, ada, bob)
	e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": bob}}}))
	e.checkMembers(gid, ada)

	// Rename (Okta sends the id inside the value).
	e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "Finance EMEA"}}))
	if g, _ := e.emu.Group(gid); g.Name != "Finance EMEA" {
		t.Fatalf("UiPath group name after rename: %q", g.Name)
	}
	r = e.must(200, "GET", `/Groups?filter=displayName%20eq%20%22finance%20emea%22&excludedAttributes=members`, nil)
	if r.body["totalResults"] != float64(1) {
		t.Fatalf("group lookup after rename: %s", r.raw)
	}
	if _, ok := r.body["Resources"].([]any)[0].(map[string]any)["members"]; ok {
		t.Errorf("excludedAttributes=members ignored: %s", r.raw)
	}
	e.checkMembers(gid, ada)

	// Okta full membership push (PATCH replace) and AIW group PUT.
	e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "members", "value": []any{map[string]any{"value": bob}}}))
	e.checkMembers(gid, bob)
	r = e.must(200, "PUT", "/Groups/"+gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "Finance EMEA", "members": []any{map[string]any{"value": ada}}})
	if got := memberValues(r.body); !slices.Equal(got, []string{ada}) {
		t.Errorf("group PUT answer members %v", got)
	}
	e.checkMembers(gid, ada)
	// A repeated request changes nothing and calls UiPath for nothing.
	writes := e.upstreamWrites()
	e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ada}}}))
	if got := e.upstreamWrites() - writes; got != 0 {
		t.Errorf("an idempotent PATCH made %d upstream writes", got)
	}

	// Okta profile update: GET then PUT the whole object; one upstream write.
	r = e.must(200, "GET", "/Users/"+ada, nil)
	full := r.body
	full["name"] = map[string]any{"givenName": "Ada", "familyName": "King"}
	putsBefore := e.emu.CountRequests("PUT")
	r = e.must(200, "PUT", "/Users/"+ada, full)
	if str(r.body, "name", "familyName") != "King" {
		t.Errorf("PUT answer: %s", r.raw)
	}
	if got := e.upstreamUser(ada); deref(got.Surname) != "King" || deref(got.Name) != "Ada" {
		t.Fatalf("UiPath after PUT: %+v", got)
	}
	if got := e.emu.CountRequests("PUT") - putsBefore; got != 1 {
		t.Errorf("profile PUT made %d upstream PUTs, want 1", got)
	}
	if got := e.customGroupIDs(e.upstreamUser(ada)); !slices.Equal(got, []string{gid}) {
		t.Errorf("PUT of the user changed its groups: %v", got)
	}

	// Okta deactivation: path-less replace.
	r = e.must(200, "PATCH", "/Users/"+ada, patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
	if r.body["active"] != false {
		t.Errorf("PATCH answer active: %s", r.raw)
	}
	if e.upstreamUser(ada).IsActive {
		t.Fatal("UiPath account still active after deactivation")
	}
	// Entra legacy deactivation: string boolean.
	e.must(200, "PATCH", "/Users/"+bob, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"}))
	if e.upstreamUser(bob).IsActive {
		t.Fatal("UiPath bob still active after Entra deactivation")
	}
	// Inactive users are still listed.
	r = e.must(200, "GET", "/Users?startIndex=1&count=100", nil)
	if r.body["totalResults"] != float64(2) {
		t.Errorf("listing after deactivation: %s", r.raw)
	}
	// Reactivation.
	e.must(200, "PATCH", "/Users/"+ada, patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": true}}))
	if !e.upstreamUser(ada).IsActive {
		t.Fatal("UiPath account not reactivated")
	}

	// Delete the user: gone from UiPath and from the group.
	e.must(204, "DELETE", "/Users/"+ada, nil)
	if _, ok := e.emu.User(ada); ok {
		t.Fatal("UiPath still has the deleted user")
	}
	scimError(t, e.do("GET", "/Users/"+ada, nil), http.StatusNotFound, "")
	e.checkMembers(gid)

	// Delete the group.
	e.must(204, "DELETE", "/Groups/"+gid, nil)
	if _, ok := e.emu.Group(gid); ok {
		t.Fatal("UiPath still has the deleted group")
	}
	scimError(t, e.do("GET", "/Groups/"+gid, nil), http.StatusNotFound, "")
}

// checkMembers asserts the group's members as UiPath sees them (group side
// and user side) and as the bridge answers them.
func (e *env) checkMembers(gid string, want ...string) {
	e.t.Helper()
	want = sorted(want)
	if got := sorted(e.emu.GroupMemberIDs(gid)); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		e.t.Fatalf("UiPath members of %s = %v, want %v", gid, got, want)
	}
	for _, u := range e.emu.Users() {
		in := slices.Contains(u.GroupIDs, gid)
		if in != slices.Contains(want, u.ID) {
			e.t.Fatalf("UiPath user %s groupIDs %v disagree with members %v", u.ID, u.GroupIDs, want)
		}
	}
	r := e.must(200, "GET", "/Groups/"+gid, nil)
	if got := memberValues(r.body); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		e.t.Fatalf("SCIM members of %s = %v, want %v", gid, got, want)
	}
	for _, id := range want {
		r := e.must(200, "GET", "/Users/"+id, nil)
		found := false
		for _, g := range r.body["groups"].([]any) {
			found = found || g.(map[string]any)["value"] == gid
		}
		if !found {
			e.t.Fatalf("SCIM user %s does not list group %s: %s", id, gid, r.raw)
		}
	}
}
