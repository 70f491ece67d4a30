package test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// Tests for issue "Leavers stay out": requests that must never re-enable a
// deactivated account or take the bridge down.

// TestDeactivatedStaysDeactivated: only an explicit active true reactivates
// an account. A PATCH that removes active, or replaces it with null, is
// refused; a PUT that omits active leaves activation as it is.
func TestDeactivatedStaysDeactivated(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		id := str(e.must(201, "POST", "/Users", map[string]any{
			"schemas": []string{userSchema}, "userName": "leaver@corp.example",
			"name": map[string]any{"givenName": "Lea", "familyName": "Ver"},
		}).body, "id")
		e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
		inactive := func(step string) {
			t.Helper()
			if u, ok := e.emu.User(id); !ok || u.IsActive {
				t.Fatalf("%s: UiPath account active=%v (exists %v), want deactivated", step, u.IsActive, ok)
			}
			if got := e.must(200, "GET", "/Users/"+id, nil).body["active"]; got != false {
				t.Fatalf("%s: GET shows active %v, want false", step, got)
			}
		}
		inactive("deactivated")

		scimError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "remove", "path": "active"})), 400, "invalidValue")
		inactive("PATCH remove active")
		scimError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": nil})), 400, "invalidValue")
		inactive("PATCH replace active null")
		scimError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "Replace", "value": map[string]any{"active": nil}})), 400, "invalidValue")
		inactive("path-less PATCH active null")

		e.must(200, "PUT", "/Users/"+id, map[string]any{
			"schemas": []string{userSchema}, "userName": "leaver@corp.example",
			"name": map[string]any{"givenName": "Lea", "familyName": "Ver-Renamed"},
		})
		inactive("PUT without active")
		if u, _ := e.emu.User(id); u.Surname == nil || *u.Surname != "Ver-Renamed" {
			t.Errorf("the PUT's other changes were not applied: surname %v", u.Surname)
		}

		e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "True"}))
		if u, _ := e.emu.User(id); !u.IsActive {
			t.Fatal("an explicit active True did not reactivate the account")
		}
	})
}

// TestAmbiguousCredentialsRefused: two Authorization headers are refused,
// whichever comes first.
func TestAmbiguousCredentialsRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		for _, pair := range [][2]string{
			{"Bearer " + e.token, "Bearer wrong-token"},
			{"Bearer wrong-token", "Bearer " + e.token},
			{"Bearer " + e.token, "Bearer " + e.token},
		} {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.url+"/Users", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Add("Authorization", pair[0])
			req.Header.Add("Authorization", pair[1])
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("two Authorization headers %q: status %d, want 401", pair, res.StatusCode)
			}
		}
	})
}

// TestHostileInputBounded: deeply nested or oversized filters, paths and
// bodies are refused with a quick 400, and the bridge keeps serving.
func TestHostileInputBounded(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		id := str(e.must(201, "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "target@corp.example"}).body, "id")
		deep := strings.Repeat("(", 100_000) + `userName eq "x"` + strings.Repeat(")", 100_000)
		nested := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
		for _, c := range []struct {
			name, method, path string
			body               any
			scimType           string
		}{
			{"filter of 100,000 nested parentheses", "GET", "/Users?filter=" + url.QueryEscape(deep), nil, "invalidFilter"},
			{"filter over the length bound", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "`+strings.Repeat("x", 20_000)+`"`), nil, "invalidFilter"},
			{"search with a nested filter", "POST", "/Users/.search", map[string]any{"filter": deep}, "invalidFilter"},
			{"PATCH path with nested value filters", "PATCH", "/Users/" + id,
				patchBody(map[string]any{"op": "remove", "path": "emails[" + strings.Repeat("(", 5_000) + `type eq "work"` + strings.Repeat(")", 5_000) + "]"}), "invalidPath"},
			{"sortBy over the length bound", "GET", "/Users?sortBy=" + strings.Repeat("a", 5_000), nil, "invalidValue"},
			{"deeply nested POST body", "POST", "/Users", `{"schemas":["` + userSchema + `"],"userName":"deep@corp.example","x":` + nested(5_000) + `}`, "invalidSyntax"},
			{"deeply nested PATCH value", "PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"title","value":` + nested(5_000) + `}]}`, "invalidSyntax"},
		} {
			start := time.Now()
			r := e.do(c.method, c.path, c.body)
			scimError(t, r, 400, c.scimType)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s: answered after %v", c.name, d)
			}
		}
		e.must(200, "GET", "/Users/"+id, nil)
	})
}

// TestOutOfBandDeletion: a user deleted directly in UiPath. Deactivating
// them and removing them from a group already hold, so both succeed, and
// the store forgets the membership (they answered 500 on every retry).
func TestOutOfBandDeletion(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, strategy := range []string{"user", "group", "auto"} {
			t.Run(strategy, func(t *testing.T) {
				e := newEnv(t, store, envOptions{strategy: strategy})
				gone := str(e.must(201, "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "gone@corp.example"}).body, "id")
				stays := str(e.must(201, "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "stays@corp.example"}).body, "id")
				gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Team",
					"members": []any{map[string]any{"value": gone}, map[string]any{"value": stays}}}).body, "id")
				if err := e.uipath.DeleteUser(t.Context(), gone); err != nil {
					t.Fatal(err)
				}
				e.must(200, "PATCH", "/Users/"+gone, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"}))
				e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + gone + `"]`}))
				members := memberValues(e.must(200, "GET", "/Groups/"+gid, nil).body)
				if len(members) != 1 || members[0] != stays {
					t.Errorf("store members %v, want only %s", members, stays)
				}
				if got := e.emu.GroupMemberIDs(gid); len(got) != 1 || got[0] != stays {
					t.Errorf("UiPath members %v, want only %s", got, stays)
				}
			})
		}
	})
}

// TestReplicasDeleteRacesGroupAdd: one replica deletes users while another
// adds them to a group (it answered [204, 400, 500] and left the store's
// group listing two deleted users that UiPath's did not have). Whatever the
// interleaving, every member the bridge lists exists, and UiPath agrees.
func TestReplicasDeleteRacesGroupAdd(t *testing.T) {
	for _, strategy := range []string{"user", "auto"} {
		t.Run(strategy, func(t *testing.T) {
			rs := newReplicas(t, 2, strategy)
			a, b := rs[0], rs[1]
			gid := str(a.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Churn"}).body, "id")
			for round := range 3 {
				const n = 8
				users := make([]string, n)
				for i := range n {
					users[i] = str(a.must(201, "POST", "/Users", newUserBody(fmt.Sprintf("churn%d-%d@corp.example", round, i))).body, "id")
				}
				parallel(2*n, func(k int) {
					id := users[k/2]
					if k%2 == 0 {
						a.do("DELETE", "/Users/"+id, nil)
						return
					}
					b.do("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}}))
				})
				members := memberValues(a.must(200, "GET", "/Groups/"+gid, nil).body)
				for _, m := range members {
					if r := a.do("GET", "/Users/"+m, nil); r.status != 200 {
						t.Errorf("round %d: the group lists %s, which GET answers %d", round, m, r.status)
					}
				}
				if got := a.emu.GroupMemberIDs(gid); !slices.Equal(sorted(got), sorted(members)) {
					t.Errorf("round %d: UiPath members %v, bridge members %v", round, got, members)
				}
			}
		})
	}
}
