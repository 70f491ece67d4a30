package test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
)

// snapshot is everything the bridge and UiPath hold, to prove a failed
// request changed nothing.
type snapshot struct {
	Store    map[string]cache.Record
	Groups   map[string][]string // user → groups, from the store's index
	Upstream string              // the emulator's users and groups as JSON
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	s := snapshot{Store: map[string]cache.Record{}, Groups: map[string][]string{}}
	ctx := e.t.Context()
	for _, kind := range []cache.Kind{cache.KindUser, cache.KindGroup} {
		page, err := e.store.List(ctx, kind, 0, 10000)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range page.Records {
			s.Store[string(kind)+"/"+r.ID] = r
			if kind == cache.KindUser {
				g, err := e.store.GroupsOf(ctx, r.ID)
				if err != nil {
					e.t.Fatal(err)
				}
				s.Groups[r.ID] = g
			}
		}
	}
	up, err := json.Marshal(map[string]any{"users": e.emu.Users(), "groups": e.emu.Groups()})
	if err != nil {
		e.t.Fatal(err)
	}
	s.Upstream = string(up)
	return s
}

func (e *env) upstreamWrites() int {
	return e.emu.CountRequests("POST") + e.emu.CountRequests("PUT") + e.emu.CountRequests("DELETE")
}

// TestBadInputChangesNothing sends malformed and refused requests and
// checks each gets its SCIM error while UiPath and the store stay exactly as
// they were, and no write reaches UiPath.
func TestBadInputChangesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		// Renames refused, as SCIM_BRIDGE_USERNAME_CHANGE=refuse does.
		e := newEnv(t, store, envOptions{maxBody: 64 << 10, userNameChange: mapping.UserNameRefuse})
		ada := str(e.must(201, "POST", "/Users", map[string]any{
			"schemas": []string{userSchema}, "userName": "ada@corp.example", "externalId": "ada-ext",
			"emails": []any{map[string]any{"value": "ada@corp.example", "type": "work", "primary": true}},
		}).body, "id")
		gid := str(e.must(201, "POST", "/Groups", map[string]any{
			"schemas": []string{groupSchema}, "displayName": "Finance", "members": []any{map[string]any{"value": ada}},
		}).body, "id")
		version := e.must(200, "GET", "/Users/"+ada, nil).header.Get("ETag")
		patch := func(ops ...map[string]any) map[string]any { return patchBody(ops...) }
		huge := `{"schemas":["` + userSchema + `"],"userName":"big@corp.example","title":"` + strings.Repeat("x", 70<<10) + `"}`

		tests := []struct {
			name         string
			method, path string
			body         any
			headers      []string
			noAuth       bool
			wantStatus   int
			wantScimType string
		}{
			{name: "user without userName", method: "POST", path: "/Users", body: map[string]any{"schemas": []string{userSchema}, "displayName": "X"}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "malformed JSON", method: "POST", path: "/Users", body: `{"schemas":[`, wantStatus: 400, wantScimType: "invalidSyntax"},
			{name: "JSON array body", method: "POST", path: "/Users", body: `[]`, wantStatus: 400, wantScimType: "invalidSyntax"},
			{name: "no schemas", method: "POST", path: "/Users", body: map[string]any{"userName": "x@corp.example"}, wantStatus: 400, wantScimType: "invalidSyntax"},
			{name: "duplicate userName differing in case", method: "POST", path: "/Users", body: map[string]any{"schemas": []string{userSchema}, "userName": "ADA@corp.example"}, wantStatus: 409, wantScimType: "uniqueness"},
			{name: "displayName longer than UiPath takes", method: "POST", path: "/Users", body: map[string]any{"schemas": []string{userSchema}, "userName": "long@corp.example", "displayName": strings.Repeat("d", 300)}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "email UiPath would reject", method: "POST", path: "/Users", body: map[string]any{"schemas": []string{userSchema}, "userName": "mail@corp.example", "emails": []any{map[string]any{"value": "no-at-sign", "primary": true}}}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "group name longer than UiPath takes", method: "POST", path: "/Groups", body: map[string]any{"schemas": []string{groupSchema}, "displayName": strings.Repeat("g", 300)}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "active not a boolean", method: "POST", path: "/Users", body: map[string]any{"schemas": []string{userSchema}, "userName": "z@corp.example", "active": "maybe"}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "userName change by PUT", method: "PUT", path: "/Users/" + ada, body: map[string]any{"schemas": []string{userSchema}, "userName": "ada.renamed@corp.example"}, wantStatus: 400, wantScimType: "mutability"},
			{name: "userName change by PATCH", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "replace", "path": "userName", "value": "ada2@corp.example"}), wantStatus: 400, wantScimType: "mutability"},
			{name: "unknown op", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "frobnicate", "path": "title", "value": "x"}), wantStatus: 400, wantScimType: "invalidSyntax"},
			{name: "unknown attribute path", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "replace", "path": "shoeSize", "value": "44"}), wantStatus: 400, wantScimType: "invalidPath"},
			{name: "malformed path", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "replace", "path": `emails[type eq`, "value": "x"}), wantStatus: 400, wantScimType: "invalidPath"},
			{name: "remove without path", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "remove"}), wantStatus: 400, wantScimType: "noTarget"},
			{name: "read-only groups", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "add", "path": "groups", "value": []any{map[string]any{"value": gid}}}), wantStatus: 400, wantScimType: "mutability"},
			{name: "string that is not a boolean", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "replace", "path": "active", "value": "perhaps"}), wantStatus: 400, wantScimType: "invalidValue"},
			{name: "second op fails: first not applied", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "replace", "path": "displayName", "value": "New"}, map[string]any{"op": "replace", "path": "nope", "value": "x"}), wantStatus: 400, wantScimType: "invalidPath"},
			{name: "PatchOp without schemas", method: "PATCH", path: "/Users/" + ada, body: map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "x"}}}, wantStatus: 400, wantScimType: "invalidSyntax"},
			{name: "no operations", method: "PATCH", path: "/Users/" + ada, body: map[string]any{"schemas": []string{patchSchema}, "Operations": []any{}}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "unknown member", method: "PATCH", path: "/Groups/" + gid, body: patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "5b0c1c3e-0000-4000-8000-000000000000"}}}), wantStatus: 400, wantScimType: "invalidValue"},
			{name: "member without value", method: "PUT", path: "/Groups/" + gid, body: map[string]any{"schemas": []string{groupSchema}, "displayName": "Finance", "members": []any{map[string]any{"display": "x"}}}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "duplicate group name", method: "POST", path: "/Groups", body: map[string]any{"schemas": []string{groupSchema}, "displayName": "finance"}, wantStatus: 409, wantScimType: "uniqueness"},
			{name: "group without displayName", method: "POST", path: "/Groups", body: map[string]any{"schemas": []string{groupSchema}}, wantStatus: 400, wantScimType: "invalidValue"},
			{name: "bad filter", method: "GET", path: `/Users?filter=userName%20zz%20%22x%22`, wantStatus: 400, wantScimType: "invalidFilter"},
			{name: "ordering a boolean", method: "GET", path: `/Users?filter=active%20gt%20true`, wantStatus: 400, wantScimType: "invalidFilter"},
			{name: "ordering a boolean in a value path", method: "GET", path: `/Users?filter=emails%5Bprimary%20le%20true%5D`, wantStatus: 400, wantScimType: "invalidFilter"},
			{name: "remove active", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "remove", "path": "active"}), wantStatus: 400, wantScimType: "invalidValue"},
			{name: "active null in a path-less replace", method: "PATCH", path: "/Users/" + ada, body: patch(map[string]any{"op": "Replace", "value": map[string]any{"active": nil}}), wantStatus: 400, wantScimType: "invalidValue"},
			{name: "filter on unknown attribute", method: "GET", path: `/Users?filter=shoeSize%20eq%20%2244%22`, wantStatus: 400, wantScimType: "invalidFilter"},
			{name: "count not an integer", method: "GET", path: "/Users?count=abc", wantStatus: 400, wantScimType: "invalidValue"},
			{name: "unknown user", method: "GET", path: "/Users/00000000-0000-4000-8000-000000000000", wantStatus: 404},
			{name: "patch unknown user", method: "PATCH", path: "/Users/00000000-0000-4000-8000-000000000000", body: patch(map[string]any{"op": "replace", "path": "title", "value": "x"}), wantStatus: 404},
			{name: "delete unknown group", method: "DELETE", path: "/Groups/00000000-0000-4000-8000-000000000000", wantStatus: 404},
			{name: "unknown endpoint", method: "GET", path: "/Robots", wantStatus: 404},
			{name: "bulk without operations", method: "POST", path: "/Bulk", body: map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}}, wantStatus: 400, wantScimType: "invalidSyntax"},
			{name: "no /Me", method: "GET", path: "/Me", wantStatus: 501},
			{name: "method not allowed", method: "POST", path: "/Users/" + ada, body: map[string]any{}, wantStatus: 405},
			{name: "stale If-Match on PUT", method: "PUT", path: "/Users/" + ada, body: map[string]any{"schemas": []string{userSchema}, "userName": "ada@corp.example", "title": "Boss"}, headers: []string{"If-Match", `W/"999"`}, wantStatus: 412},
			{name: "stale If-Match on DELETE", method: "DELETE", path: "/Users/" + ada, headers: []string{"If-Match", `W/"999"`}, wantStatus: 412},
			{name: "body over the limit", method: "POST", path: "/Users", body: huge, wantStatus: 413},
			{name: "no token", method: "GET", path: "/Users", noAuth: true, wantStatus: 401},
			{name: "wrong token", method: "GET", path: "/Users", headers: []string{"Authorization", "Bearer nope"}, wantStatus: 401},
			{name: "basic auth", method: "GET", path: "/Users", headers: []string{"Authorization", "Basic dXNlcjpwYXNz"}, wantStatus: 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before, writes := e.snapshot(), e.upstreamWrites()
				var r response
				if tt.noAuth {
					r = e.doNoAuth(tt.method, tt.path)
				} else {
					r = e.do(tt.method, tt.path, tt.body, tt.headers...)
				}
				scimError(t, r, tt.wantStatus, tt.wantScimType)
				if str(r.body, "detail") == "" {
					t.Errorf("error without a detail for the admin: %s", r.raw)
				}
				if tt.wantStatus == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if got := e.upstreamWrites() - writes; got != 0 {
					t.Errorf("a refused request made %d upstream writes", got)
				}
				if after := e.snapshot(); !reflect.DeepEqual(before, after) {
					t.Errorf("state changed:\nbefore %+v\nafter  %+v", before, after)
				}
			})
		}
		// The current version still works.
		e.must(200, "PUT", "/Users/"+ada, map[string]any{"schemas": []string{userSchema}, "userName": "ada@corp.example", "title": "Boss"}, "If-Match", version)
	})
}

// TestUiPathRefusalsAreSCIMErrors: values UiPath refuses (an email another
// account has, a malformed email) are the IdP's to fix, so they answer 409
// uniqueness or 400 invalidValue, not 500, and the store keeps the last
// value UiPath accepted.
func TestUiPathRefusalsAreSCIMErrors(t *testing.T) {
	e := newEnv(t, envtest.Bolt, envOptions{})
	e.must(201, "POST", "/Users", newUserBody("lee@corp.example"))
	id := str(e.must(201, "POST", "/Users", newUserBody("max@corp.example")).body, "id")
	taken := patchBody(map[string]any{"op": "replace", "path": `emails[type eq "work"].value`, "value": "lee@corp.example"})
	scimError(t, e.do("PATCH", "/Users/"+id, taken), 409, "uniqueness")
	bad := patchBody(map[string]any{"op": "replace", "path": `emails[type eq "work"].value`, "value": "not-an-email"})
	r := e.do("PATCH", "/Users/"+id, bad)
	scimError(t, r, 400, "invalidValue")
	// Refused before UiPath is asked, with the attribute and the reason.
	if d := str(r.body, "detail"); !strings.Contains(d, "emails.value") || !strings.Contains(d, "not an email address") {
		t.Errorf("detail does not say why: %s", r.raw)
	}
	if got := e.upstreamUser(id).Email; got != "max@corp.example" {
		t.Errorf("UiPath email %q", got)
	}
	emails := e.must(200, "GET", "/Users/"+id, nil).body["emails"].([]any)
	if v := emails[0].(map[string]any)["value"]; v != "max@corp.example" {
		t.Errorf("store email %v after refused changes", v)
	}
}

// TestUserNameChangeKept: by default (SCIM_BRIDGE_USERNAME_CHANGE=keep) a
// rename by PUT or PATCH is accepted, the IdP's lookup by the new name
// finds the user, and /Schemas says userName is readWrite; under refuse it
// says immutable.
func TestUserNameChangeKept(t *testing.T) {
	e := newEnv(t, envtest.Bolt, envOptions{})
	ada := str(e.must(201, "POST", "/Users", newUserBody("ada@corp.example")).body, "id")
	e.must(200, "PATCH", "/Users/"+ada, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "ada.king@corp.example"}))
	r := e.must(200, "GET", "/Users?filter="+url.QueryEscape(`userName eq "ada.king@corp.example"`), nil)
	if res, _ := r.body["Resources"].([]any); len(res) != 1 || str(res[0].(map[string]any), "id") != ada {
		t.Errorf("lookup by the new userName: %s", r.raw)
	}
	if u, _ := e.emu.User(ada); u.UserName != "ada@corp.example" {
		t.Errorf("UiPath login %q; want it kept", u.UserName)
	}
	mutabilityOf := func(e *env) string {
		t.Helper()
		r := e.must(200, "GET", "/Schemas/"+userSchema, nil)
		attrs, _ := r.body["attributes"].([]any)
		for _, a := range attrs {
			if m, _ := a.(map[string]any); m["name"] == "userName" {
				return str(m, "mutability")
			}
		}
		return ""
	}
	if m := mutabilityOf(e); m != "readWrite" {
		t.Errorf("/Schemas userName mutability %q under keep, want readWrite", m)
	}
	if m := mutabilityOf(newEnv(t, envtest.Bolt, envOptions{userNameChange: mapping.UserNameRefuse})); m != "immutable" {
		t.Errorf("/Schemas userName mutability %q under refuse, want immutable", m)
	}
}
