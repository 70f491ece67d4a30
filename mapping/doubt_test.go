package mapping_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// doubt records a doubt about a resource, due now, as a write with an
// unknown outcome would have.
func (e *env) doubt(kind cache.Kind, id string, owned bool, since time.Time) cache.Doubt {
	e.t.Helper()
	d := cache.Doubt{Kind: kind, ID: id, Since: since, Due: time.Now().Add(-time.Second), Owned: owned}
	if err := e.store.AddDoubt(e.t.Context(), d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) settle() mapping.SettleReport {
	e.t.Helper()
	rep, err := e.prov.Settle(e.t.Context())
	if err != nil {
		e.t.Fatalf("Settle: %v", err)
	}
	return rep
}

func (e *env) pendingDoubt(kind cache.Kind, id string) (cache.Doubt, bool) {
	e.t.Helper()
	d, ok, err := e.store.GetDoubt(e.t.Context(), kind, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d, ok
}

// TestSettleUsers: a user in doubt is checked against UiPath and put back
// to what the store holds; an account under an owned id that the store
// lacks is deleted, one under a foreign id is left alone.
func TestSettleUsers(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ctx := t.Context()
		ada := e.mustUser("ada")
		if _, err := e.users.Patch(ctx, ada.ID, ops(t, patchBody(`[{"op":"replace","path":"active","value":false}]`)), ""); err != nil {
			t.Fatal(err)
		}
		// A late activation and a stray surname land after the deactivation.
		on, sur := true, "Late"
		if err := e.up.UpdateUser(ctx, ada.ID, upstream.UserUpdate{IsActive: &on, Surname: &sur}); err != nil {
			t.Fatal(err)
		}
		bob := e.mustUser("bob") // in doubt, but UiPath agrees
		orphan := uuid.NewString()
		if _, err := e.up.CreateUser(ctx, upstream.NewUser{ID: orphan, UserName: "orphan@corp.example", Type: "User"}, nil); err != nil {
			t.Fatal(err)
		}
		foreign := e.emu.SeedUser(upstream.User{UserName: "admin@corp.example", IsActive: true})
		now := time.Now()
		e.doubt(cache.KindUser, ada.ID, false, now)
		e.doubt(cache.KindUser, bob.ID, false, now)
		e.doubt(cache.KindUser, orphan, true, now)
		e.doubt(cache.KindUser, foreign.ID, false, now)

		e.resetCalls()
		rep := e.settle()
		if rep != (mapping.SettleReport{Checked: 4, Repaired: 2}) {
			t.Errorf("report %+v, want 4 checked, 2 repaired", rep)
		}
		if u := e.upUser(ada.ID); u.IsActive || deref(u.Surname) != "Test" {
			t.Errorf("ada not restored: active=%v surname=%q", u.IsActive, deref(u.Surname))
		}
		if _, ok := e.emu.User(orphan); ok {
			t.Error("an account under an owned id the store lacks survived")
		}
		if _, ok := e.emu.User(foreign.ID); !ok {
			t.Error("an account the bridge never owned was deleted")
		}
		if n := e.calls(http.MethodGet, "/User/"); n != 3 {
			t.Errorf("%d GET /User calls, want 3 (one per resource the store or the doubt owns)", n)
		}
		// The late-write window is still open: each is checked once more.
		if d, ok := e.pendingDoubt(cache.KindUser, ada.ID); !ok || d.Due.Before(now.Add(time.Minute)) {
			t.Errorf("ada's doubt after the check: %+v %v, want it due at the end of the window", d, ok)
		}
		if _, ok := e.pendingDoubt(cache.KindUser, foreign.ID); ok {
			t.Error("a doubt about a resource the bridge does not own outlived its check")
		}
		// A doubt older than the window ends with its check.
		carol := e.mustUser("carol")
		e.doubt(cache.KindUser, carol.ID, false, now.Add(-time.Hour))
		e.settle()
		if _, ok := e.pendingDoubt(cache.KindUser, carol.ID); ok {
			t.Error("carol's doubt outlived a check made after its window")
		}
	})
}

// TestSettleGroups: a group in doubt gets its name and the bridge's members
// back; members the bridge does not manage stay; an owned group the store
// lacks is deleted.
func TestSettleGroups(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ctx := t.Context()
		ada, bob := e.mustUser("ada"), e.mustUser("bob")
		g := e.mustGroup("Finance", ada.ID)
		unmanaged := e.emu.SeedUser(upstream.User{UserName: "robot@corp.example", IsActive: true})
		// Late writes: ada removed, bob and an unmanaged account added, renamed.
		if _, err := e.up.UpdateGroup(ctx, g.ID, "Finance-old", []string{bob.ID, unmanaged.ID}, []string{ada.ID}); err != nil {
			t.Fatal(err)
		}
		orphan := uuid.NewString()
		if _, err := e.up.CreateGroup(ctx, orphan, "Orphan", nil); err != nil {
			t.Fatal(err)
		}
		e.doubt(cache.KindGroup, g.ID, false, time.Now())
		e.doubt(cache.KindGroup, orphan, true, time.Now())
		rep := e.settle()
		if rep != (mapping.SettleReport{Checked: 2, Repaired: 2}) {
			t.Errorf("report %+v", rep)
		}
		got := e.emu.GroupMemberIDs(g.ID)
		slices.Sort(got)
		if want := sorted(ada.ID, unmanaged.ID); !slices.Equal(got, want) {
			t.Errorf("UiPath members %v, want %v (ada back, bob out, the unmanaged account kept)", got, want)
		}
		if ug, _ := e.emu.Group(g.ID); ug.Name != "Finance" {
			t.Errorf("UiPath name %q, want Finance", ug.Name)
		}
		if _, ok := e.emu.Group(orphan); ok {
			t.Error("an owned group the store lacks survived")
		}
		// A second pass finds nothing to do.
		for _, d := range []string{g.ID} {
			cur, _ := e.pendingDoubt(cache.KindGroup, d)
			if err := e.store.ResolveDoubt(ctx, cur, time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if rep := e.settle(); rep != (mapping.SettleReport{Checked: 1}) {
			t.Errorf("second pass %+v, want 1 checked, nothing repaired", rep)
		}
	})
}

// TestSettleFailureRetried: a check UiPath cannot answer is counted failed
// and tried again later, not dropped.
func TestSettleFailureRetried(t *testing.T) {
	e := newEnv(t, envOptions{})
	ada := e.mustUser("ada")
	e.doubt(cache.KindUser, ada.ID, false, time.Now())
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, PathContains: ada.ID, Status: 503, Times: -1})
	if rep := e.settle(); rep != (mapping.SettleReport{Failed: 1}) {
		t.Fatalf("report %+v, want 1 failed", rep)
	}
	d, ok := e.pendingDoubt(cache.KindUser, ada.ID)
	if !ok || d.Due.Before(time.Now().Add(4*time.Second)) {
		t.Fatalf("doubt after a failed check: %+v %v, want it kept and due later", d, ok)
	}
	e.emu.ClearFaults()
	if err := e.store.ResolveDoubt(t.Context(), d, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if rep := e.settle(); rep != (mapping.SettleReport{Checked: 1}) {
		t.Fatalf("report after UiPath recovered %+v", rep)
	}
}

// TestSettleRecreates: while in doubt, an object UiPath lost that the store
// still holds was removed by a late delete: an active user comes back with
// its groups, a group with its members; an inactive user stays without an
// account.
func TestSettleRecreates(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ctx := t.Context()
		ada, bob := e.mustUser("ada"), e.mustUser("bob")
		g := e.mustGroup("Finance", ada.ID)
		if _, err := e.users.Patch(ctx, bob.ID, ops(t, patchBody(`[{"op":"replace","path":"active","value":false}]`)), ""); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{ada.ID, bob.ID} {
			if err := e.up.DeleteUser(ctx, id); err != nil {
				t.Fatal(err)
			}
			e.doubt(cache.KindUser, id, false, time.Now())
		}
		if rep := e.settle(); rep != (mapping.SettleReport{Checked: 2, Repaired: 1}) {
			t.Errorf("users: report %+v, want ada recreated and bob left", rep)
		}
		if u, ok := e.emu.User(ada.ID); !ok || !u.IsActive || !slices.Contains(u.GroupIDs, g.ID) {
			t.Errorf("ada: exists %v, active %v, groups %v; want recreated in Finance", ok, u.IsActive, u.GroupIDs)
		}
		if _, ok := e.emu.User(bob.ID); ok {
			t.Error("an inactive user's account was recreated")
		}
		if err := e.up.DeleteGroup(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		e.doubt(cache.KindGroup, g.ID, false, time.Now())
		if rep := e.settle(); rep != (mapping.SettleReport{Checked: 1, Repaired: 1}) {
			t.Errorf("group: report %+v", rep)
		}
		if ug, ok := e.emu.Group(g.ID); !ok || ug.Name != "Finance" || !slices.Equal(e.emu.GroupMemberIDs(g.ID), []string{ada.ID}) {
			t.Errorf("group: exists %v, name %q, members %v; want Finance with ada", ok, ug.Name, e.emu.GroupMemberIDs(g.ID))
		}
	})
}
