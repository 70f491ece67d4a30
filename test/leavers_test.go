package test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
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
	for _, strategy := range []string{"user", "group"} {
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

// lateWriteOptions: UiPath attempts time out after 300 ms, and a resource
// whose write had an unknown outcome is checked after 300 ms and again
// after 3 s (the window in which a late write may still land).
func lateWriteOptions(strategy string, settler bool) envOptions {
	return envOptions{strategy: strategy, clientTimeout: 300 * time.Millisecond,
		firstCheck: 300 * time.Millisecond, lateWriteWindow: 3 * time.Second, noSettler: !settler}
}

// lateFault holds a UiPath write past the bridge's deadline and applies it
// 1.5 s later, when the bridge has long moved on.
func lateFault(method, path string) emulator.Fault {
	return emulator.Fault{Method: method, PathContains: path, Late: true, Delay: 1500 * time.Millisecond}
}

// waitLanded waits until the emulator has logged n calls of method to a
// path containing part: a late call enters the log when it is applied.
func (e *env) waitLanded(method, part string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		for _, r := range e.emu.Requests() {
			if r.Method == method && strings.Contains(r.Path, part) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("only %d %s calls to %s landed, want %d", got, method, part, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually polls cond for up to 10 s and fails with what it last said.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; last %s", what, state)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestLateActivationCannotUndoDeactivation (defect 3): an active=true whose
// first attempt timed out (UiPath applies it after the deactivation that
// followed) must not leave the leaver active. The IdP's repeat of the
// deactivation restates it, and without any repeat the bridge finds and
// repairs the account itself.
func TestLateActivationCannotUndoDeactivation(t *testing.T) {
	for _, repeat := range []bool{true, false} {
		name := "bridge repairs"
		if repeat {
			name = "IdP repeats"
		}
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, store envtest.Store) {
				e := newEnv(t, store, lateWriteOptions("", !repeat))
				id := str(e.must(201, "POST", "/Users", newUserBody("leaver@corp.example", "active", false)).body, "id")
				e.emu.Inject(lateFault("PUT", id))
				activate := patchBody(map[string]any{"op": "replace", "path": "active", "value": true})
				deactivate := patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"})
				e.must(200, "PATCH", "/Users/"+id, activate) // the retry answered; the first attempt is still on its way
				e.must(200, "PATCH", "/Users/"+id, deactivate)
				e.waitLanded("PUT", id, 4) // create's deactivation, both activation attempts, the deactivation
				if repeat {
					e.must(200, "PATCH", "/Users/"+id, deactivate)
					if u, _ := e.emu.User(id); u.IsActive {
						t.Fatal("the IdP's repeated deactivation answered 200 and left the leaver active in UiPath")
					}
					return
				}
				eventually(t, "the leaver deactivated again in UiPath", func() (bool, string) {
					u, ok := e.emu.User(id)
					return ok && !u.IsActive, fmt.Sprintf("isActive=%v", u.IsActive)
				})
				if got := e.must(200, "GET", "/Users/"+id, nil).body["active"]; got != false {
					t.Errorf("GET shows active %v", got)
				}
			})
		})
	}
}

// TestLateMemberAddCannotOutliveRemoval (defect 3): a member add whose
// first attempt timed out lands after the removal that followed; the
// bridge reads the group back and removes the member again, so UiPath
// and the store agree.
func TestLateMemberAddCannotOutliveRemoval(t *testing.T) {
	for _, strategy := range []string{"user", "group"} {
		t.Run(strategy, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, store envtest.Store) {
				e := newEnv(t, store, lateWriteOptions(strategy, true))
				uid := str(e.must(201, "POST", "/Users", newUserBody("mover@corp.example")).body, "id")
				gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Finance"}).body, "id")
				path := "/Group/" + gid // group: one PUT /Group carries the member
				if strategy == "user" {
					path = "/User/" + uid
				}
				e.emu.Inject(lateFault("PUT", path))
				member := []any{map[string]any{"value": uid}}
				e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": member}))
				e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + uid + `"]`}))
				e.waitLanded("PUT", path, 3)
				eventually(t, "UiPath's group without the removed member", func() (bool, string) {
					ms := e.emu.GroupMemberIDs(gid)
					return !slices.Contains(ms, uid), fmt.Sprintf("UiPath members %v", ms)
				})
				if got := memberValues(e.must(200, "GET", "/Groups/"+gid, nil).body); len(got) != 0 {
					t.Errorf("store members %v, want none", got)
				}
				// After the late-write window the doubt is resolved: nothing
				// is left to check, and UiPath still agrees.
				eventually(t, "the doubt resolved", func() (bool, string) {
					due, err := e.store.DueDoubts(t.Context(), time.Now().Add(time.Hour), 0)
					return err == nil && len(due) == 0, fmt.Sprintf("%d doubts (%v)", len(due), err)
				})
				if ms := e.emu.GroupMemberIDs(gid); slices.Contains(ms, uid) {
					t.Errorf("UiPath members %v after the window", ms)
				}
			})
		})
	}
}

// TestDeactivationAndDeletionReadBack (defect 3): UiPath answers a
// deactivation or a deletion with success without it taking effect (as
// when an earlier write lands on top of it); the bridge reads the account
// back within the request and applies the change again, so the answer the
// IdP gets is true the moment it gets it.
func TestDeactivationAndDeletionReadBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{noSettler: true})
		id := str(e.must(201, "POST", "/Users", newUserBody("quiet@corp.example")).body, "id")
		e.emu.Inject(emulator.Fault{Method: "PUT", PathContains: id, Status: 200}) // answered, not applied
		e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": false}))
		if u, _ := e.emu.User(id); u.IsActive {
			t.Fatal("the deactivation answered 200 while UiPath still shows the account active")
		}
		e.emu.Inject(emulator.Fault{Method: "DELETE", PathContains: id, Status: 204})
		e.must(204, "DELETE", "/Users/"+id, nil)
		if _, ok := e.emu.User(id); ok {
			t.Fatal("the deletion answered 204 while UiPath still has the account")
		}
	})
}

// TestDeactivationReadBackNeverWaitsForBudget: with UiPath's GET budget
// spent (300 per 5 minutes), the read-back of a deactivation does not hold
// the leaver's request until there is room: the deactivation is applied
// and answered at once, and the read-back is left to the background check.
func TestDeactivationReadBackNeverWaitsForBudget(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{budget: map[string]int{"GET": 1}, budgetWindow: 10 * time.Second,
			budgetWait: time.Minute, noSettler: true,
			client: func(c *upstream.Config) { c.Sleep = nil }}) // budget waits take real time
		id := str(e.must(201, "POST", "/Users", newUserBody("exit-wave@corp.example")).body, "id")
		if _, err := e.uipath.GetUser(t.Context(), id); err != nil { // spends the only GET
			t.Fatal(err)
		}
		start := time.Now()
		e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": false}))
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the deactivation took %v: it waited for the GET budget", took)
		}
		if u, _ := e.emu.User(id); u.IsActive {
			t.Fatal("the leaver is active in UiPath")
		}
		d, ok, err := e.store.GetDoubt(t.Context(), cache.KindUser, id)
		if err != nil || !ok || d.Due.After(time.Now()) {
			t.Errorf("doubt after an unconfirmed deactivation: %+v %v %v, want one due now", d, ok, err)
		}
	})
}

// TestLeaverUsesTheReserveWhileTheQueueSpendsTheBudget: queued membership
// traffic spends every PUT the budget lets it have (20 per window, 10%
// reserved: 18). A leaver's deactivation then still goes out at once, on
// the reserve: the IdP gets its 2xx without a 429 and UiPath shows the
// account inactive when it does, with no wait for the window. With no
// reserve, the same leaver meets the spent budget and gets a 429: the
// reserve is what lets it through.
func TestLeaverUsesTheReserveWhileTheQueueSpendsTheBudget(t *testing.T) {
	const limit, groups = 20, 30
	const window = 3 * time.Second
	for _, c := range []struct {
		name    string
		reserve float64
	}{{"reserve 10%", 0.1}, {"no reserve", 0}} {
		t.Run(c.name, func(t *testing.T) {
			ordinary := limit - upstream.ReservedCalls(map[string]int{"PUT": limit}, c.reserve)["PUT"]
			budget := upstream.NewLocalBudget(map[string]int{"PUT": limit}, window, nil).WithReserve(c.reserve)
			e := newEnv(t, envtest.Bolt, envOptions{
				strategy: "auto", queued: true, quiet: 10 * time.Millisecond,
				// UiPath limits PUT as the budget does; the setup's reads
				// and creates are not what this test is about.
				emulator:   emulator.Config{Limits: map[string]int{"PUT": limit, "GET": -1, "DELETE": -1}, Window: window},
				budgetWait: 200 * time.Millisecond,
				client:     func(cfg *upstream.Config) { cfg.Budget = budget },
			})
			leaver := str(e.must(201, "POST", "/Users", newUserBody("leaver@corp.example")).body, "id")
			// 30 groups of two members each: 30 PUT /Group calls, more
			// than a window allows.
			var gids, members []string
			for i := range groups {
				gids = append(gids, str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("Team %02d", i)}).body, "id"))
				for j := range 2 {
					members = append(members, str(e.must(201, "POST", "/Users", newUserBody(fmt.Sprintf("m%02d-%d@corp.example", i, j))).body, "id"))
				}
			}
			if n := e.emu.CountRequests(http.MethodPut); n != 0 {
				t.Fatalf("the setup made %d PUTs", n)
			}
			for i, gid := range gids {
				e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members",
					"value": []any{map[string]any{"value": members[2*i]}, map[string]any{"value": members[2*i+1]}}}))
			}
			waitFor(t, 10*time.Second, "the scheduler to spend the ordinary PUT budget", func() bool {
				return e.emu.CountRequests(http.MethodPut) >= ordinary
			})
			// The ordinary budget is spent and membership work waits for it.
			if d, err := budget.TryTake(t.Context(), http.MethodPut, false); err != nil || d <= 0 {
				t.Fatalf("ordinary PUT budget not spent (wait %v, %v): the test proves nothing", d, err)
			}
			pending, err := e.store.PendingChanges(t.Context())
			if err != nil || len(pending) == 0 {
				t.Fatalf("pending changes %d (%v), want membership work waiting for the budget", len(pending), err)
			}
			putsBefore := e.emu.CountRequests(http.MethodPut)

			start := time.Now()
			r := e.do("PATCH", "/Users/"+leaver, patchBody(map[string]any{"op": "replace", "path": "active", "value": false}))
			took := time.Since(start)
			u, _ := e.emu.User(leaver)
			t.Logf("figures: %s: PUT limit %d per %v, ordinary %d; scheduler PUTs before the leaver %d, pending %d; leaver answered %d in %v; UiPath active=%v",
				c.name, limit, window, ordinary, putsBefore, len(pending), r.status, took.Round(time.Millisecond), u.IsActive)
			if c.reserve == 0 {
				if r.status != http.StatusTooManyRequests || !u.IsActive {
					t.Fatalf("without a reserve the leaver answered %d and UiPath active=%v; want 429 and still active (the budget is spent)", r.status, u.IsActive)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("leaver: status %d, want 200: %s", r.status, r.raw)
			}
			if u.IsActive {
				t.Fatal("the leaver is still active in UiPath when the IdP gets its answer")
			}
			if took > window/2 {
				t.Errorf("the leaver took %v: it waited for the window", took)
			}
			if n := e.emu.CountRequests(http.MethodPut) - putsBefore; n != 1 {
				t.Errorf("%d PUTs during the leaver, want its one deactivation", n)
			}
			if d, _ := budget.TryTake(t.Context(), http.MethodPut, false); d <= 0 {
				t.Error("an ordinary PUT found room after the leaver: it took the ordinary budget, not the reserve")
			}
			for _, req := range e.emu.Requests() {
				if req.Status == http.StatusTooManyRequests {
					t.Errorf("UiPath throttled %s %s", req.Method, req.Path)
				}
			}
		})
	}
}
