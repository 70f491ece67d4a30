package mapping_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/storetool"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// wipe empties the mapping store, as a Redis restarted without persistence
// or a lost bbolt file leaves it; UiPath keeps everything.
func (e *env) wipe() {
	e.t.Helper()
	if err := storetool.Purge(e.t.Context(), e.store); err != nil {
		e.t.Fatal(err)
	}
	e.resetCalls()
}

// wantReadopted checks the store has the record, marked re-adopted.
func (e *env) wantReadopted(kind cache.Kind, id string) cache.Record {
	e.t.Helper()
	rec, ok := e.record(kind, id)
	if !ok || !rec.Readopted {
		e.t.Fatalf("store %s %s: present %v, readopted %v; want a re-adopted record", kind, id, ok, rec.Readopted)
	}
	return rec
}

const deactivate = `[{"op":"replace","path":"active","value":false}]`

// TestStoreLossDeactivation: after a store loss, a deactivation of a user
// UiPath still has disables the account in the same request (the measured
// defect: 404, account left active), with one GET to find it and one to
// confirm; under the delete policy it deletes it, even an account already
// inactive.
func TestStoreLossDeactivation(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ada := e.mustUser("ada")
		e.mustGroup("Finance", ada.ID)
		e.wipe()
		it, err := e.users.Patch(t.Context(), ada.ID, ops(t, patchBody(deactivate)), `W/"7"`)
		if err != nil {
			t.Fatalf("deactivation after a store loss: %v", err)
		}
		if e.upUser(ada.ID).IsActive {
			t.Fatal("UiPath account still active")
		}
		if a := attrsOf(t, it); a["active"] != false || a["userName"] != "ada@corp.example" {
			t.Errorf("answer %v; want the re-adopted user, inactive", a)
		}
		rec := e.wantReadopted(cache.KindUser, ada.ID)
		if rec.Name != "ada@corp.example" {
			t.Errorf("re-adopted name %q", rec.Name)
		}
		if n := e.calls(http.MethodGet, "/User/"); n != 2 {
			t.Errorf("GET /User calls = %d, want 2 (find, confirm)", n)
		}
		if n := e.calls(http.MethodPut, "/User/"); n != 1 {
			t.Errorf("PUT /User calls = %d, want 1", n)
		}
	})
	t.Run("delete policy", func(t *testing.T) {
		e := newEnv(t, envOptions{cfg: mapping.Config{Deprovision: mapping.DeprovisionDelete}})
		ada, bob := e.mustUser("ada"), e.mustUser("bob")
		// bob is inactive in UiPath already (an admin disabled him).
		if err := e.up.UpdateUser(t.Context(), bob.ID, upstream.UserUpdate{IsActive: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		e.wipe()
		for _, id := range []string{ada.ID, bob.ID} {
			if _, err := e.users.Patch(t.Context(), id, ops(t, patchBody(deactivate)), ""); err != nil {
				t.Fatalf("deactivation: %v", err)
			}
			if _, ok := e.emu.User(id); ok {
				t.Errorf("UiPath still has %s; the delete policy removes it", id)
			}
			if rec := e.wantReadopted(cache.KindUser, id); !rec.Deprovisioned {
				t.Errorf("record %s not marked deprovisioned", id)
			}
		}
	})
}

// TestStoreLossDelete: a DELETE after a store loss deletes the UiPath user
// or group, and leaves no record.
func TestStoreLossDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ada := e.mustUser("ada")
		g := e.mustGroup("Finance", ada.ID)
		e.wipe()
		if err := e.groups.Delete(t.Context(), g.ID, ""); err != nil {
			t.Fatalf("group delete after a store loss: %v", err)
		}
		if _, ok := e.emu.Group(g.ID); ok {
			t.Error("UiPath still has the group")
		}
		if n := e.calls(http.MethodGet, "/Group/"); n != 1 {
			t.Errorf("GET /Group calls = %d, want 1 (a delete needs no members)", n)
		}
		if err := e.users.Delete(t.Context(), ada.ID, `W/"3"`); err != nil {
			t.Fatalf("user delete after a store loss: %v", err)
		}
		if _, ok := e.emu.User(ada.ID); ok {
			t.Error("UiPath still has the account")
		}
		for kind, id := range map[cache.Kind]string{cache.KindUser: ada.ID, cache.KindGroup: g.ID} {
			if _, ok := e.record(kind, id); ok {
				t.Errorf("store still has %s %s", kind, id)
			}
		}
	})
}

// TestStoreLossProfilePatch: a profile PATCH after a store loss re-adopts
// the user from UiPath (profile and activation as UiPath has them) and
// applies the change; a GET stays a 404 from the store, with no UiPath
// call.
func TestStoreLossProfilePatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ada := e.mustUser("ada")
		e.wipe()
		if _, err := e.users.Get(t.Context(), ada.ID); codeOf(err) != "not found" {
			t.Fatalf("GET after a store loss: %v, want not found", err)
		}
		if n := len(e.emu.Requests()); n != 0 {
			t.Fatalf("a read made %d UiPath calls", n)
		}
		it, err := e.users.Patch(t.Context(), ada.ID, ops(t, patchBody(`[{"op":"replace","path":"name.givenName","value":"Augusta"}]`)), "")
		if err != nil {
			t.Fatalf("profile PATCH after a store loss: %v", err)
		}
		if u := e.upUser(ada.ID); deref(u.Name) != "Augusta" || deref(u.Surname) != "Test" || !u.IsActive {
			t.Errorf("UiPath name %q %q active %v", deref(u.Name), deref(u.Surname), u.IsActive)
		}
		a := attrsOf(t, it)
		name, _ := a["name"].(map[string]any)
		emails, _ := a["emails"].([]any)
		if a["userName"] != "ada@corp.example" || name["givenName"] != "Augusta" || name["familyName"] != "Test" || a["active"] != true || len(emails) != 1 {
			t.Errorf("re-adopted user %v", a)
		}
		e.wantReadopted(cache.KindUser, ada.ID)
		if n := e.calls(http.MethodGet, "/User/"); n != 1 {
			t.Errorf("GET /User calls = %d, want 1", n)
		}
		if put := e.wire.sent(http.MethodPut, "/User/"); len(put) != 1 || put[0].Body["name"] != "Augusta" || put[0].Body["surname"] != nil {
			t.Errorf("PUT /User calls %v; want one carrying only the change", put)
		}
	})
}

// TestStoreLossLeavesUnmanagedAlone: an id naming a robot, a directory
// user or a built-in group is not re-adopted: 404 as before, and UiPath
// is not written to. Neither is an id that is not a GUID looked up.
func TestStoreLossLeavesUnmanagedAlone(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		robot := e.emu.SeedUser(upstream.User{UserName: "robot1", Type: upstream.UserTypeRobot, IsActive: true})
		dir := e.emu.SeedUser(upstream.User{UserName: "dir@corp.example", Email: "dir@corp.example", Type: upstream.UserTypeDirectoryUser, IsActive: true})
		var builtIn upstream.Group
		for _, g := range e.emu.Groups() {
			if g.Type == upstream.GroupTypeBuiltIn {
				builtIn = g
			}
		}
		e.resetCalls()
		for _, id := range []string{robot.ID, dir.ID} {
			if _, err := e.users.Patch(t.Context(), id, ops(t, patchBody(deactivate)), ""); codeOf(err) != "not found" {
				t.Errorf("PATCH %s: %v, want not found", id, err)
			}
			if err := e.users.Delete(t.Context(), id, ""); codeOf(err) != "not found" {
				t.Errorf("DELETE %s: %v, want not found", id, err)
			}
			if u := e.upUser(id); !u.IsActive {
				t.Errorf("%s was deactivated", id)
			}
		}
		if _, err := e.groups.Patch(t.Context(), builtIn.ID, ops(t, patchBody(`[{"op":"replace","path":"displayName","value":"Mine"}]`)), ""); codeOf(err) != "not found" {
			t.Errorf("PATCH built-in group: %v, want not found", err)
		}
		if err := e.groups.Delete(t.Context(), builtIn.ID, ""); codeOf(err) != "not found" {
			t.Errorf("DELETE built-in group: %v, want not found", err)
		}
		if _, err := e.users.Patch(t.Context(), "not-a-guid", ops(t, patchBody(deactivate)), ""); codeOf(err) != "not found" {
			t.Errorf("PATCH not-a-guid: %v, want not found", err)
		}
		if _, err := e.users.Patch(t.Context(), uuid.NewString(), ops(t, patchBody(deactivate)), ""); codeOf(err) != "not found" {
			t.Errorf("PATCH unknown GUID: %v, want not found", err)
		}
		if w := e.wire.all(); len(w) != 0 {
			t.Errorf("UiPath writes %v; want none", w)
		}
		if n := e.calls(http.MethodGet, "/"); n != 7 {
			t.Errorf("GET calls = %d, want 7 (one per GUID write; none for not-a-guid)", n)
		}
		for _, kind := range []cache.Kind{cache.KindUser, cache.KindGroup} {
			if page, err := e.store.List(t.Context(), kind, 0, 0); err != nil || page.Total != 0 {
				t.Errorf("store %s records = %d, %v; want none", kind, page.Total, err)
			}
		}
	})
}

// TestDeletedInUiPathProfilePatchRecreates: a user the store has and an
// admin deleted in UiPath comes back, under its id and in its groups, on
// the IdP's next profile change (the measured defect: 500).
func TestDeletedInUiPathProfilePatchRecreates(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ada := e.mustUser("ada")
		g := e.mustGroup("Finance", ada.ID)
		if err := e.up.DeleteUser(t.Context(), ada.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.users.Patch(t.Context(), ada.ID, ops(t, patchBody(`[{"op":"replace","path":"name.familyName","value":"Lovelace"}]`)), ""); err != nil {
			t.Fatalf("profile PATCH of a user deleted in UiPath: %v", err)
		}
		u := e.upUser(ada.ID)
		if deref(u.Surname) != "Lovelace" || deref(u.Name) != "Ada" || u.UserName != "ada@corp.example" || !u.IsActive || !slices.Contains(u.GroupIDs, g.ID) {
			t.Errorf("recreated account %+v; want the new profile, active, in Finance", u)
		}
		if rec, _ := e.record(cache.KindUser, ada.ID); rec.Readopted {
			t.Error("a recreated user is marked re-adopted")
		}
	})
}

// TestDeletedInUiPathGroupPatchRecreates: a group the store has and an
// admin deleted in UiPath comes back, under its id, with its members and
// the change, whichever calls carry memberships.
func TestDeletedInUiPathGroupPatchRecreates(t *testing.T) {
	for _, strategy := range []string{mapping.StrategyUser, mapping.StrategyGroup} {
		t.Run(strategy, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, store envtest.Store) {
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Strategy: strategy}})
				e.users3()
				g := e.mustGroup("Finance", e.ids["ada"], e.ids["bob"])
				if err := e.up.DeleteGroup(t.Context(), g.ID); err != nil {
					t.Fatal(err)
				}
				body := e.expand(patchBody(`[{"op":"add","path":"members","value":[{"value":"{carol}"}]},{"op":"remove","path":"members[value eq \"{bob}\"]"}]`))
				it, err := e.groups.Patch(t.Context(), g.ID, ops(t, body), "")
				if err != nil {
					t.Fatalf("PATCH of a group deleted in UiPath: %v", err)
				}
				want := e.idsOf("ada", "carol")
				if got := e.upMembers(g.ID); !slices.Equal(got, want) {
					t.Errorf("UiPath members %v, want %v", got, want)
				}
				if ug, ok := e.emu.Group(g.ID); !ok || ug.Name != "Finance" {
					t.Errorf("UiPath group: %v %q", ok, ug.Name)
				}
				if !slices.Equal(it.Members, want) {
					t.Errorf("answer members %v, want %v", it.Members, want)
				}
			})
		})
	}
}

// TestStoreLossGroupPatchReadoptsMembers: after a store loss, a group PATCH
// (the IdP's retry) naming members the store no longer knows re-adopts the
// group and the members from UiPath (the measured defect: 400 "not a user
// provisioned through this bridge"); a member that UiPath does not have is
// still refused.
func TestStoreLossGroupPatchReadoptsMembers(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		e.users3()
		g := e.mustGroup("Finance", e.ids["ada"], e.ids["bob"])
		e.wipe()
		body := e.expand(patchBody(`[{"op":"add","path":"members","value":[{"value":"{ada}"},{"value":"{bob}"},{"value":"{carol}"}]}]`))
		it, err := e.groups.Patch(t.Context(), g.ID, ops(t, body), "")
		if err != nil {
			t.Fatalf("group PATCH after a store loss: %v", err)
		}
		want := e.idsOf("ada", "bob", "carol")
		if !slices.Equal(it.Members, want) || !slices.Equal(e.upMembers(g.ID), want) {
			t.Errorf("members: answer %v, UiPath %v; want %v", it.Members, e.upMembers(g.ID), want)
		}
		rec := e.wantReadopted(cache.KindGroup, g.ID)
		if rec.Name != "Finance" || !slices.Equal(rec.Members, want) {
			t.Errorf("store group %q %v", rec.Name, rec.Members)
		}
		for _, n := range []string{"ada", "bob", "carol"} {
			e.wantReadopted(cache.KindUser, e.ids[n])
			if gs := e.groupsOf(e.ids[n]); !slices.Equal(gs, []string{g.ID}) {
				t.Errorf("%s groups %v", n, gs)
			}
		}
		if n := e.calls(http.MethodGet, "/User/"); n != 3 {
			t.Errorf("GET /User calls = %d, want 3 (one per member)", n)
		}
		if n := e.calls(http.MethodGet, "/Group/"); n != 2 {
			t.Errorf("GET /Group calls = %d, want 2 (group, members)", n)
		}
		stranger := uuid.NewString()
		_, err = e.groups.Patch(t.Context(), g.ID, ops(t, patchBody(fmt.Sprintf(`[{"op":"add","path":"members","value":[{"value":%q}]}]`, stranger))), "")
		if codeOf(err) != "invalid" {
			t.Errorf("member UiPath lacks: %v, want invalid", err)
		}
	})
}

// TestStoreLossMemberLookupsAreBounded: a request naming more unknown
// members than a request may look up re-adopts that many and fails as
// retryable; the retry finishes, and no member is looked up twice.
func TestStoreLossMemberLookupsAreBounded(t *testing.T) {
	e := newEnv(t, envOptions{store: envtest.Redis})
	g := e.mustGroup("Everybody")
	var ids []string
	for i := range 53 {
		ids = append(ids, e.emu.SeedUser(upstream.User{UserName: fmt.Sprintf("s%02d@corp.example", i), IsActive: true}).ID)
	}
	e.resetCalls()
	vals := ""
	for i, id := range ids {
		if i > 0 {
			vals += ","
		}
		vals += fmt.Sprintf(`{"value":%q}`, id)
	}
	body := ops(t, patchBody(`[{"op":"add","path":"members","value":[`+vals+`]}]`))
	_, err := e.groups.Patch(t.Context(), g.ID, body, "")
	if merr := asError(t, err); merr.Code != mapping.CodeUnavailable || merr.RetryAfter <= 0 {
		t.Fatalf("first try: %v; want unavailable with a Retry-After", err)
	}
	if n := e.calls(http.MethodGet, "/User/"); n != 50 {
		t.Errorf("first try: GET /User calls = %d, want 50", n)
	}
	if e.upMembers(g.ID) != nil && len(e.upMembers(g.ID)) != 0 {
		t.Errorf("first try changed UiPath members: %v", e.upMembers(g.ID))
	}
	e.resetCalls()
	it, err := e.groups.Patch(t.Context(), g.ID, body, "")
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := e.calls(http.MethodGet, "/User/"); n != 3 {
		t.Errorf("retry: GET /User calls = %d, want 3", n)
	}
	if want := lower(ids); !slices.Equal(it.Members, want) || !slices.Equal(e.upMembers(g.ID), want) {
		t.Errorf("members: answer %d, UiPath %d; want all 53", len(it.Members), len(e.upMembers(g.ID)))
	}
}

// TestConcurrentReadoptionOfOneMember: two group changes naming the same
// member the store lost, at once, both succeed: the one whose re-adoption
// loses the race uses the other's record.
func TestConcurrentReadoptionOfOneMember(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, latency: 30 * time.Millisecond})
		ada := e.mustUser("ada")
		g1, g2 := e.mustGroup("One"), e.mustGroup("Two")
		if err := e.store.Delete(t.Context(), cache.KindUser, ada.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, g := range []string{g1.ID, g2.ID} {
			wg.Go(func() {
				_, errs[i] = e.groups.Patch(t.Context(), g, ops(t, patchBody(fmt.Sprintf(`[{"op":"add","path":"members","value":[{"value":%q}]}]`, ada.ID))), "")
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("PATCH %d: %v", i, err)
			}
		}
		e.wantReadopted(cache.KindUser, ada.ID)
		if gs := e.groupsOf(ada.ID); len(gs) != 2 {
			t.Errorf("ada's groups %v, want both", gs)
		}
	})
}

// TestSchedulerRecreatesMissing: a queued change whose call finds its own
// group or user deleted in UiPath recreates it from the store, with every
// membership the store has, instead of failing the additions.
func TestSchedulerRecreatesMissing(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		cfg := queuedCfg()
		cfg.Strategy = mapping.StrategyGroup
		e := newEnv(t, envOptions{store: store, cfg: cfg})
		e.users3()
		g := e.mustGroup("Finance", e.ids["ada"])
		if err := e.up.DeleteGroup(t.Context(), g.ID); err != nil {
			t.Fatal(err)
		}
		e.patchMembers(g.ID, "add", e.ids["bob"])
		e.drain()
		if got, want := e.upMembers(g.ID), e.idsOf("ada", "bob"); !slices.Equal(got, want) {
			t.Errorf("group: UiPath members %v, want %v", got, want)
		}

		// A user call (strategy user) finding its account gone.
		cfg.Strategy = mapping.StrategyUser
		e2 := newEnv(t, envOptions{store: store, cfg: cfg})
		e2.users3()
		g2 := e2.mustGroup("Ops", e2.ids["ada"])
		h2 := e2.mustGroup("Sales")
		if err := e2.up.DeleteUser(t.Context(), e2.ids["ada"]); err != nil {
			t.Fatal(err)
		}
		e2.patchMembers(h2.ID, "add", e2.ids["ada"])
		e2.drain()
		u := e2.upUser(e2.ids["ada"])
		if !slices.Contains(u.GroupIDs, g2.ID) || !slices.Contains(u.GroupIDs, h2.ID) || !u.IsActive {
			t.Errorf("user: recreated in %v active %v; want Ops and Sales", u.GroupIDs, u.IsActive)
		}
		for _, env := range []*env{e, e2} {
			if fails, err := env.store.Failures(t.Context(), 0); err != nil || len(fails) != 0 {
				t.Errorf("failures %+v, %v; want none", fails, err)
			}
		}
	})
}

// TestGroupAddOfAccountDeletedInUiPath: a group change adding a user whose
// account an admin deleted in UiPath (the IdP still has the user active)
// succeeds: the account comes back under its id with its groups, this one
// included, and nothing is recorded as failed. A removal of such a user
// holds as it is. A user the IdP has inactive gets no account back: the
// membership is kept in the store only. In both write modes, with group
// and user calls.
func TestGroupAddOfAccountDeletedInUiPath(t *testing.T) {
	for _, writes := range []string{mapping.WritesSync, mapping.WritesQueued} {
		for _, strategy := range []string{mapping.StrategyGroup, mapping.StrategyUser} {
			t.Run(writes+"/"+strategy, func(t *testing.T) {
				cfg := queuedCfg()
				cfg.MembershipWrites, cfg.Strategy = writes, strategy
				e := newEnv(t, envOptions{cfg: cfg})
				e.users3()
				dan := e.mustUser("dan").ID
				g := e.mustGroup("Finance", e.ids["ada"], e.ids["bob"])
				other := e.mustGroup("Ops", e.ids["carol"])
				if _, err := e.users.Patch(t.Context(), dan, ops(t, patchBody(deactivate)), ""); err != nil {
					t.Fatal(err)
				}
				e.drain()
				for _, id := range []string{e.ids["bob"], e.ids["carol"], dan} {
					if err := e.up.DeleteUser(t.Context(), id); err != nil {
						t.Fatal(err)
					}
				}
				e.patchMembers(g.ID, "remove", e.ids["bob"])
				e.patchMembers(g.ID, "add", e.ids["carol"], dan)
				e.drain()

				carol, ok := e.emu.User(e.ids["carol"])
				if !ok || !carol.IsActive || !slices.Contains(carol.GroupIDs, g.ID) || !slices.Contains(carol.GroupIDs, other.ID) {
					t.Errorf("carol in UiPath: present %v, %+v; want her account back, active, in Finance and Ops", ok, carol)
				}
				if _, ok := e.emu.User(dan); ok {
					t.Error("dan (inactive in the IdP) got an account back")
				}
				if got, want := e.upMembers(g.ID), e.idsOf("ada", "carol"); !slices.Equal(got, want) {
					t.Errorf("UiPath members %v, want %v", got, want)
				}
				rec, _ := e.record(cache.KindGroup, g.ID)
				if want := sorted(e.ids["ada"], e.ids["carol"], dan); !slices.Equal(rec.Members, want) {
					t.Errorf("desired members %v, want %v", rec.Members, want)
				}
				if fails, err := e.store.Failures(t.Context(), 0); err != nil || len(fails) != 0 {
					t.Errorf("failures %+v, %v; want none", fails, err)
				}
				if p := e.pending(); len(p) != 0 {
					t.Errorf("still pending: %+v", p)
				}
			})
		}
	}
}
