package test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

func newUserBody(userName string, extra ...any) map[string]any {
	b := map[string]any{
		"schemas": []string{userSchema}, "userName": userName,
		"name":   map[string]any{"givenName": "Given", "familyName": "Family"},
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

func countUpstreamUsers(e *env, userName string) int {
	n := 0
	for _, u := range e.emu.Users() {
		if strings.EqualFold(u.UserName, userName) {
			n++
		}
	}
	return n
}

// TestAdoptExistingAccount: a create for a userName UiPath already has
// links that account (no second account, no endless 409), and a second
// SCIM create for it is a uniqueness error. So does a create whose email
// an account has as its userName too; an account with the email under
// another login is another identity and is not adopted (409).
func TestAdoptExistingAccount(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		old := "Old"
		seeded := e.emu.SeedUser(upstream.User{UserName: "carol@corp.example", Email: "carol@corp.example", Name: &old, IsActive: true})
		r := e.must(201, "POST", "/Users", newUserBody("carol@corp.example"))
		if id := str(r.body, "id"); id != seeded.ID {
			t.Fatalf("created %s instead of adopting %s", id, seeded.ID)
		}
		if n := countUpstreamUsers(e, "carol@corp.example"); n != 1 {
			t.Fatalf("UiPath has %d accounts for carol", n)
		}
		if got := e.upstreamUser(seeded.ID); deref(got.Name) != "Given" || deref(got.Surname) != "Family" {
			t.Errorf("adopted account not brought up to date: %+v", got)
		}
		scimError(t, e.do("POST", "/Users", newUserBody("Carol@corp.example")), http.StatusConflict, "uniqueness")

		// Taken email, different userName: not adopted, UiPath untouched.
		e.emu.SeedUser(upstream.User{UserName: "dan.legacy", Email: "dan@corp.example", IsActive: true})
		before := e.emu.Users()
		scimError(t, e.do("POST", "/Users", newUserBody("dan@corp.example")), http.StatusConflict, "uniqueness")
		if after := e.emu.Users(); len(after) != len(before) {
			t.Errorf("UiPath users %d after the refused create, %d before", len(after), len(before))
		}

		// Taken email that is also the account's userName: adopted.
		seeded3 := e.emu.SeedUser(upstream.User{UserName: "Erin@corp.example", Email: "erin@corp.example", IsActive: true})
		body := newUserBody("erin.w")
		body["emails"] = []any{map[string]any{"value": "erin@corp.example", "primary": true}}
		r = e.must(201, "POST", "/Users", body)
		if id := str(r.body, "id"); id != seeded3.ID {
			t.Fatalf("email that is the account's userName: created %s instead of adopting %s", id, seeded3.ID)
		}
	})
}

func TestAdoptionOff(t *testing.T) {
	e := newEnv(t, envtest.Bolt, envOptions{noAdopt: true})
	e.emu.SeedUser(upstream.User{UserName: "erin@corp.example", Email: "erin@corp.example", IsActive: true})
	scimError(t, e.do("POST", "/Users", newUserBody("erin@corp.example")), http.StatusConflict, "uniqueness")
	if n, _ := e.store.List(t.Context(), cache.KindUser, 0, 0); n.Total != 0 {
		t.Errorf("store holds %d users after a refused create", n.Total)
	}
}

// TestLostResponses: UiPath applied a create or delete but the answer was
// lost; the bridge recognises it (client-generated ids) instead of failing
// or duplicating.
func TestLostResponses(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		e.emu.Inject(emulator.Fault{Method: "POST", PathContains: "BulkCreate", Status: 502, AfterApply: true})
		r := e.must(201, "POST", "/Users", newUserBody("fay@corp.example"))
		fay := str(r.body, "id")
		if n := countUpstreamUsers(e, "fay@corp.example"); n != 1 {
			t.Fatalf("UiPath has %d accounts after a lost create response", n)
		}
		e.upstreamUser(fay)

		e.emu.Inject(emulator.Fault{Method: "POST", PathContains: "/api/Group", Status: 504, AfterApply: true})
		gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Ops"}).body, "id")
		if _, ok := e.emu.Group(gid); !ok {
			t.Fatal("group missing in UiPath")
		}

		e.emu.Inject(emulator.Fault{Method: "DELETE", PathContains: fay, Status: 500, AfterApply: true})
		e.must(204, "DELETE", "/Users/"+fay, nil)
		if _, ok := e.emu.User(fay); ok {
			t.Fatal("user still in UiPath")
		}
		scimError(t, e.do("GET", "/Users/"+fay, nil), 404, "")
	})
}

// TestUpstreamDownThenRetry: a create UiPath did not apply answers 503 with
// Retry-After and leaves nothing behind; the IdP's retry succeeds.
func TestUpstreamDownThenRetry(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		e.emu.Inject(emulator.Fault{Method: "POST", PathContains: "BulkCreate", Status: 503, Times: 1})
		r := e.do("POST", "/Users", newUserBody("gus@corp.example"))
		scimError(t, r, 503, "")
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("503 without a usable Retry-After: %q", r.header.Get("Retry-After"))
		}
		if n := countUpstreamUsers(e, "gus@corp.example"); n != 0 {
			t.Fatalf("UiPath has %d accounts after a failed create", n)
		}
		e.must(200, "GET", `/Users?filter=userName%20eq%20%22gus%40corp.example%22`, nil)
		e.must(201, "POST", "/Users", newUserBody("gus@corp.example"))
		if n := countUpstreamUsers(e, "gus@corp.example"); n != 1 {
			t.Fatalf("UiPath has %d accounts after the retry", n)
		}

		// UiPath throttles longer than the client waits: the IdP is told
		// when to come back.
		e.emu.Inject(emulator.Fault{Method: "PUT", Status: 429, RetryAfter: 120 * time.Second, Times: -1})
		id := str(e.must(200, "GET", `/Users?filter=userName%20eq%20%22gus%40corp.example%22`, nil).body["Resources"].([]any)[0].(map[string]any), "id")
		r = e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Gus"}))
		scimError(t, r, 429, "")
		if got := r.header.Get("Retry-After"); got != "120" {
			t.Errorf("Retry-After %q, want 120", got)
		}
		if got := e.must(200, "GET", "/Users/"+id, nil).body["displayName"]; got == "Gus" {
			t.Error("store recorded a change UiPath refused")
		}
		e.emu.ClearFaults()
	})
}

// TestPartialMembershipFailure: when some per-user calls fail, the store
// keeps exactly what UiPath confirmed and the IdP's retry completes the rest
// with only the missing calls.
func TestPartialMembershipFailure(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{strategy: "user"})
		var ids []string
		for _, n := range []string{"h1", "h2", "h3"} {
			ids = append(ids, str(e.must(201, "POST", "/Users", newUserBody(n+"@corp.example")).body, "id"))
		}
		gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Sales"}).body, "id")
		e.emu.Inject(emulator.Fault{Method: "PUT", PathContains: ids[1], Status: 503, Times: 3})
		add := patchBody(map[string]any{"op": "add", "path": "members", "value": []any{
			map[string]any{"value": ids[0]}, map[string]any{"value": ids[1]}, map[string]any{"value": ids[2]},
		}})
		r := e.do("PATCH", "/Groups/"+gid, add)
		scimError(t, r, 503, "")
		if d := str(r.body, "detail"); !strings.Contains(d, "1 of 3") || !strings.Contains(d, ids[1]) {
			t.Errorf("detail does not say what failed: %s", r.raw)
		}
		want := sorted([]string{ids[0], ids[2]})
		e.checkMembers(gid, want...)

		puts := e.emu.CountRequests("PUT")
		e.must(204, "PATCH", "/Groups/"+gid, add)
		e.checkMembers(gid, ids...)
		if got := e.emu.CountRequests("PUT") - puts; got != 1 {
			t.Errorf("retry made %d upstream PUTs, want 1 (only the missing member)", got)
		}
	})
}

// TestDeleteDeprovisionPolicy: with SCIM_BRIDGE_DEPROVISION=delete,
// active=false deletes the UiPath account; reactivation recreates it under
// the same id with its groups.
func TestDeleteDeprovisionPolicy(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{deprovision: "delete"})
		id := str(e.must(201, "POST", "/Users", newUserBody("ivy@corp.example")).body, "id")
		gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Legal", "members": []any{map[string]any{"value": id}}}).body, "id")
		e.checkMembers(gid, id)

		r := e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": false}))
		if r.body["active"] != false {
			t.Errorf("answer: %s", r.raw)
		}
		if _, ok := e.emu.User(id); ok {
			t.Fatal("UiPath account not deleted by the delete policy")
		}
		// The IdP still sees the (inactive) user and its groups.
		e.must(200, "GET", "/Users/"+id, nil)

		e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": true}))
		u := e.upstreamUser(id)
		if !u.IsActive || !slices.Contains(u.GroupIDs, gid) {
			t.Fatalf("recreated account: %+v, want active and in %s", u, gid)
		}
		e.checkMembers(gid, id)
	})
}

// TestReassignDeactivatedUser: Okta re-POSTs a deactivated user with the
// same externalId when it is assigned again; the bridge reactivates that
// account instead of answering 409 or creating a second one.
func TestReassignDeactivatedUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		body := newUserBody("jo@corp.example", "externalId", "00u1jo", "active", true)
		id := str(e.must(201, "POST", "/Users", body).body, "id")
		e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
		if e.upstreamUser(id).IsActive {
			t.Fatal("not deactivated")
		}
		body["name"] = map[string]any{"givenName": "Jo", "familyName": "Again"}
		r := e.must(201, "POST", "/Users", body)
		if got := str(r.body, "id"); got != id {
			t.Fatalf("re-POST made %s, want the existing %s", got, id)
		}
		u := e.upstreamUser(id)
		if !u.IsActive || deref(u.Surname) != "Again" {
			t.Fatalf("UiPath after re-assignment: %+v", u)
		}
		if n := countUpstreamUsers(e, "jo@corp.example"); n != 1 {
			t.Fatalf("UiPath has %d accounts for jo", n)
		}
		// An active user is still a duplicate.
		scimError(t, e.do("POST", "/Users", body), 409, "uniqueness")
	})
}
