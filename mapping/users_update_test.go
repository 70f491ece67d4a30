package mapping_test

import (
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// adaJSON is the user every update test starts from.
var adaJSON = userJSON("ada@corp.example", "Ada", "Lovelace", "okta-ada")

// updateCase is one change to ada: either a PUT document or a PATCH body.
type updateCase struct {
	name    string
	setup   func(e *env)
	replace string // a full document for Replace
	patch   string // a PatchOp body for Patch
	wantErr string
	// wantPUT is the body of the one PUT /User expected; nil means UiPath
	// must not be called at all.
	wantPUT map[string]any
	// wantAttr, when set, are attributes the answer and the store must have.
	wantAttr map[string]any
	// cfg configures the provisioner.
	cfg mapping.Config
}

func runUserUpdates(t *testing.T, tests []updateCase) {
	t.Helper()
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: tt.cfg})
				ada, err := e.users.Create(t.Context(), doc(t, adaJSON))
				if err != nil {
					t.Fatal(err)
				}
				if tt.setup != nil {
					tt.setup(e)
				}
				before, _ := e.record(cache.KindUser, ada.ID)
				upBefore := e.upUser(ada.ID)
				e.resetCalls()

				var it mapping.Item
				if tt.replace != "" {
					it, err = e.users.Replace(t.Context(), ada.ID, doc(t, tt.replace), "")
				} else {
					it, err = e.users.Patch(t.Context(), ada.ID, ops(t, tt.patch), "")
				}
				if got := codeOf(err); got != tt.wantErr {
					t.Fatalf("error %v (code %q), want code %q", err, got, tt.wantErr)
				}

				puts := e.wire.sent(http.MethodPut, "/User/")
				switch {
				case tt.wantPUT == nil && e.writes() != 0:
					t.Errorf("UiPath writes %v, want none", e.wire.all())
				case tt.wantPUT != nil && (len(puts) != 1 || !reflect.DeepEqual(puts[0].Body, tt.wantPUT) || e.writes() != 1):
					t.Errorf("UiPath writes %v, want one PUT /User with %v", e.wire.all(), tt.wantPUT)
				}
				after, _ := e.record(cache.KindUser, ada.ID)
				if tt.wantErr != "" {
					if !reflect.DeepEqual(after, before) {
						t.Errorf("store changed on error:\n got %+v\nwant %+v", after, before)
					}
					if got := e.upUser(ada.ID); !reflect.DeepEqual(got, upBefore) {
						t.Errorf("UiPath account changed on error:\n got %+v\nwant %+v", viewOf(got), viewOf(upBefore))
					}
					return
				}
				if it.ID != ada.ID || it.Version != scimdoc.ETag(after.Version) {
					t.Errorf("answer id %s version %s; store version %d", it.ID, it.Version, after.Version)
				}
				stored, err := e.users.Get(t.Context(), ada.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, got := range []map[string]any{attrsOf(t, it), attrsOf(t, stored)} {
					for k, want := range tt.wantAttr {
						if !reflect.DeepEqual(got[k], want) {
							t.Errorf("attribute %s = %#v, want %#v", k, got[k], want)
						}
					}
				}
			})
		}
	})
}

func TestUserReplace(t *testing.T) {
	runUserUpdates(t, []updateCase{
		{name: "given name: only the changed fields are sent",
			replace:  userJSON("ada@corp.example", "Augusta", "Lovelace", "okta-ada"),
			wantPUT:  map[string]any{"name": "Augusta", "displayName": "Augusta Lovelace"},
			wantAttr: map[string]any{"name": map[string]any{"givenName": "Augusta", "familyName": "Lovelace"}}},
		{name: "email", replace: merge(adaJSON, `{"emails":[{"value":"countess@corp.example","primary":true}]}`),
			wantPUT: map[string]any{"email": "countess@corp.example"}},
		{name: "deactivate", replace: merge(adaJSON, `{"active":false}`),
			wantPUT: map[string]any{"isActive": false}, wantAttr: map[string]any{"active": false}},
		{name: "attribute UiPath does not keep", replace: merge(adaJSON, `{"title":"Analyst"}`),
			wantAttr: map[string]any{"title": "Analyst"}},
		{name: "same document", replace: adaJSON, wantAttr: map[string]any{"userName": "ada@corp.example"}},
		{name: "userName case only", replace: merge(adaJSON, `{"userName":"Ada@Corp.Example"}`),
			wantAttr: map[string]any{"userName": "Ada@Corp.Example"}},
		{name: "userName change, kept in the store only",
			replace:  merge(adaJSON, `{"userName":"augusta@corp.example"}`),
			wantAttr: map[string]any{"userName": "augusta@corp.example"}},
		{name: "userName change with the email", replace: merge(adaJSON, `{"userName":"augusta@corp.example","emails":[{"value":"augusta@corp.example","primary":true}]}`),
			wantPUT: map[string]any{"email": "augusta@corp.example"}, wantAttr: map[string]any{"userName": "augusta@corp.example"}},
		{name: "userName change, policy refuse", cfg: mapping.Config{UserNameChange: mapping.UserNameRefuse},
			replace: merge(adaJSON, `{"userName":"augusta@corp.example"}`), wantErr: "mutability"},
		{name: "userName of another user", setup: func(e *env) { e.mustUser("bob") },
			replace: merge(adaJSON, `{"userName":"BOB@corp.example"}`), wantErr: "conflict"},
		{name: "no userName", replace: `{"name":{"givenName":"Ada"}}`, wantErr: "invalid"},
		{name: "email UiPath would reject, refused before asking it", replace: merge(adaJSON, `{"emails":[{"value":"not-an-email"}]}`),
			wantErr: "invalid"},
		{name: "displayName longer than UiPath takes", replace: merge(adaJSON, `{"displayName":"`+strings.Repeat("x", 257)+`"}`),
			wantErr: "invalid"},
		{name: "email of another UiPath account",
			setup:   func(e *env) { e.emu.SeedUser(upstream.User{UserName: "other", Email: "taken@corp.example"}) },
			replace: merge(adaJSON, `{"emails":[{"value":"taken@corp.example"}]}`),
			wantPUT: map[string]any{"email": "taken@corp.example"}, wantErr: "conflict"},
	})
}

func TestUserPatch(t *testing.T) {
	runUserUpdates(t, []updateCase{
		{name: "Okta deactivate", patch: patchBody(`[{"op":"replace","value":{"active":false}}]`),
			wantPUT: map[string]any{"isActive": false}, wantAttr: map[string]any{"active": false}},
		{name: "Entra deactivate", patch: patchBody(`[{"op":"Replace","path":"active","value":"False"}]`),
			wantPUT: map[string]any{"isActive": false}, wantAttr: map[string]any{"active": false}},
		{name: "Entra given name", patch: patchBody(`[{"op":"Replace","path":"name.givenName","value":"Augusta"}]`),
			wantPUT: map[string]any{"name": "Augusta", "displayName": "Augusta Lovelace"}},
		{name: "Okta names in one value",
			patch:   patchBody(`[{"op":"replace","value":{"name.familyName":"King","displayName":"Ada King"}}]`),
			wantPUT: map[string]any{"surname": "King", "displayName": "Ada King"},
			wantAttr: map[string]any{"displayName": "Ada King",
				"name": map[string]any{"givenName": "Ada", "familyName": "King"}}},
		{name: "Entra primary email",
			patch:   patchBody(`[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"countess@corp.example"}]`),
			wantPUT: map[string]any{"email": "countess@corp.example"}},
		{name: "attribute UiPath does not keep", patch: patchBody(`[{"op":"add","path":"title","value":"Analyst"}]`),
			wantAttr: map[string]any{"title": "Analyst"}},
		{name: "no change", patch: patchBody(`[{"op":"replace","path":"active","value":true}]`),
			wantAttr: map[string]any{"active": true}},
		{name: "userName change", patch: patchBody(`[{"op":"replace","path":"userName","value":"augusta@corp.example"}]`),
			wantAttr: map[string]any{"userName": "augusta@corp.example"}},
		{name: "userName change, policy refuse", cfg: mapping.Config{UserNameChange: mapping.UserNameRefuse},
			patch:   patchBody(`[{"op":"replace","path":"userName","value":"augusta@corp.example"}]`),
			wantErr: "mutability"},
		{name: "unknown attribute", patch: patchBody(`[{"op":"replace","path":"shoeSize","value":42}]`),
			wantErr: "invalid"},
	})
}

// TestUserPatchNoChangeKeepsVersion: an operation that changes nothing does
// not write the store either, so the ETag the IdP holds stays valid.
func TestUserPatchNoChangeKeepsVersion(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ada := e.mustUser("ada")
		it, err := e.users.Patch(t.Context(), ada.ID, ops(t, patchBody(`[{"op":"replace","value":{"active":true,"name.givenName":"Ada"}}]`)), ada.Version)
		if err != nil {
			t.Fatal(err)
		}
		if it.Version != ada.Version {
			t.Errorf("version %s after a no-op PATCH, want %s", it.Version, ada.Version)
		}
		if n := e.calls(http.MethodPut, "/User/"); n != 0 {
			t.Errorf("%d PUT /User calls, want none", n)
		}
	})
}

// TestUserIfMatch: every changing verb checks If-Match; a stale version
// changes nothing anywhere, the current one (weak or not, or *) goes
// through.
func TestUserIfMatch(t *testing.T) {
	verbs := []struct {
		name string
		call func(e *env, id, ifMatch string) error
		// done reports whether the change went through.
		done func(e *env, id string) bool
	}{
		{name: "replace",
			call: func(e *env, id, ifMatch string) error {
				_, err := e.users.Replace(e.t.Context(), id, doc(e.t, merge(adaJSON, `{"active":false}`)), ifMatch)
				return err
			},
			done: func(e *env, id string) bool { return !e.upUser(id).IsActive }},
		{name: "patch",
			call: func(e *env, id, ifMatch string) error {
				_, err := e.users.Patch(e.t.Context(), id, ops(e.t, patchBody(`[{"op":"replace","path":"name.givenName","value":"Augusta"}]`)), ifMatch)
				return err
			},
			done: func(e *env, id string) bool { return deref(e.upUser(id).Name) == "Augusta" }},
		{name: "delete",
			call: func(e *env, id, ifMatch string) error { return e.users.Delete(e.t.Context(), id, ifMatch) },
			done: func(e *env, id string) bool { _, ok := e.emu.User(id); return !ok }},
	}
	conds := []struct {
		name    string
		ifMatch func(current string) string
		wantErr string
	}{
		{"stale version", func(string) string { return `W/"7"` }, "precondition"},
		{"current version", func(cur string) string { return cur }, ""},
		{"current version without W/", func(string) string { return `"1"` }, ""},
		{"any version", func(string) string { return "*" }, ""},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, v := range verbs {
			for _, c := range conds {
				t.Run(v.name+"/"+c.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, envOptions{store: store})
					ada, err := e.users.Create(t.Context(), doc(t, adaJSON))
					if err != nil {
						t.Fatal(err)
					}
					writes := e.writes()
					err = v.call(e, ada.ID, c.ifMatch(ada.Version))
					if got := codeOf(err); got != c.wantErr {
						t.Fatalf("error %v, want code %q", err, c.wantErr)
					}
					if got, want := v.done(e, ada.ID), c.wantErr == ""; got != want {
						t.Errorf("change applied in UiPath: %v, want %v", got, want)
					}
					rec, ok := e.record(cache.KindUser, ada.ID)
					if c.wantErr != "" {
						if n := e.writes(); n != writes {
							t.Errorf("%d UiPath writes after a failed precondition", n-writes)
						}
						if !ok || rec.Version != 1 {
							t.Errorf("store record %+v (found %v), want it untouched at version 1", rec, ok)
						}
					}
				})
			}
		}
	})
}

func TestUserDelete(t *testing.T) {
	tests := []struct {
		name    string
		fault   *emulator.Fault
		wantErr string
	}{
		{name: "account and memberships go"},
		{name: "account already gone in UiPath", fault: &emulator.Fault{Method: http.MethodDelete, PathContains: "/User/", Status: 404}},
		{name: "UiPath unavailable", fault: &emulator.Fault{Method: http.MethodDelete, PathContains: "/User/", Status: 503, Times: -1},
			wantErr: "unavailable"},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store})
				ada, bob := e.mustUser("ada"), e.mustUser("bob")
				g1 := e.mustGroup("Engineers", ada.ID, bob.ID)
				g2 := e.mustGroup("Analysts", ada.ID)
				if tt.fault != nil {
					e.emu.Inject(*tt.fault)
				}
				err := e.users.Delete(t.Context(), ada.ID, "")
				if got := codeOf(err); got != tt.wantErr {
					t.Fatalf("Delete: error %v, want code %q", err, tt.wantErr)
				}
				_, inStore := e.record(cache.KindUser, ada.ID)
				wantG1, wantG2 := []string{bob.ID}, []string{}
				if tt.wantErr != "" {
					// Nothing is forgotten that UiPath still has.
					if !inStore {
						t.Error("the store forgot a user UiPath could not delete")
					}
					wantG1, wantG2 = sorted(ada.ID, bob.ID), []string{ada.ID}
				} else {
					if inStore {
						t.Error("the store still holds the deleted user")
					}
					if _, ok := e.emu.User(ada.ID); ok && tt.fault == nil {
						t.Error("UiPath still has the account")
					}
					if _, err := e.users.Get(t.Context(), ada.ID); codeOf(err) != "not found" {
						t.Errorf("Get after Delete: %v, want not found", err)
					}
				}
				for _, g := range []struct {
					id   string
					want []string
				}{{g1.ID, wantG1}, {g2.ID, wantG2}} {
					rec, _ := e.record(cache.KindGroup, g.id)
					if got := rec.Members; !slices.Equal(got, g.want) {
						t.Errorf("store members of %s: %v, want %v", rec.Name, got, g.want)
					}
				}
				if tt.fault == nil {
					if got := e.emu.GroupMemberIDs(g1.ID); !reflect.DeepEqual(got, []string{bob.ID}) {
						t.Errorf("UiPath members of Engineers: %v, want %v", got, []string{bob.ID})
					}
				}
			})
		}
	})
}

// TestUserDeprovisionDelete: under the delete policy, active=false deletes
// the UiPath account but keeps the SCIM user and its groups; membership
// changes meanwhile touch only the store; reactivation recreates the
// account under the same id, in the groups it has then.
func TestUserDeprovisionDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Deprovision: mapping.DeprovisionDelete}})
		ctx := t.Context()
		ada, bob := e.mustUser("ada"), e.mustUser("bob")
		eng := e.mustGroup("Engineers", ada.ID, bob.ID)
		ops2 := e.mustGroup("Operations", ada.ID)
		support := e.mustGroup("Support")

		if _, err := e.users.Patch(ctx, ada.ID, ops(t, patchBody(`[{"op":"Replace","path":"active","value":"False"}]`)), ""); err != nil {
			t.Fatalf("deactivate: %v", err)
		}
		if _, ok := e.emu.User(ada.ID); ok {
			t.Fatal("UiPath still has the deactivated account")
		}
		got, err := e.users.Get(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a := attrsOf(t, got); a["active"] != false || len(got.Groups) != 2 {
			t.Errorf("deprovisioned user reads active=%v groups=%+v, want false and both groups", a["active"], got.Groups)
		}
		if rec, _ := e.record(cache.KindUser, ada.ID); !rec.Deprovisioned {
			t.Error("store does not mark the user deprovisioned")
		}

		// While the account is gone, changes reach the store only.
		e.emu.ResetRequests()
		if _, err := e.users.Replace(ctx, ada.ID, doc(t, merge(userJSON("ada@corp.example", "Augusta", "Test", "ext-ada"), `{"active":false}`)), ""); err != nil {
			t.Fatalf("replace while deprovisioned: %v", err)
		}
		if _, err := e.groups.Patch(ctx, ops2.ID, ops(t, patchBody(`[{"op":"remove","path":"members[value eq \"`+ada.ID+`\"]"}]`)), ""); err != nil {
			t.Fatalf("remove from group while deprovisioned: %v", err)
		}
		if _, err := e.groups.Patch(ctx, support.ID, ops(t, patchBody(`[{"op":"Add","path":"members","value":[{"value":"`+ada.ID+`"}]}]`)), ""); err != nil {
			t.Fatalf("add to group while deprovisioned: %v", err)
		}
		if n := e.writes(); n != 0 {
			t.Errorf("%d UiPath writes for a user without an account, want none", n)
		}
		if got, want := e.groupsOf(ada.ID), sorted(eng.ID, support.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("store groups of ada %v, want %v", got, want)
		}

		// Reactivation: one BulkCreate with the groups it belongs to now.
		it, err := e.users.Patch(ctx, ada.ID, ops(t, patchBody(`[{"op":"replace","value":{"active":true}}]`)), "")
		if err != nil {
			t.Fatalf("reactivate: %v", err)
		}
		if it.ID != ada.ID {
			t.Errorf("reactivated id %s, want %s", it.ID, ada.ID)
		}
		u := e.upUser(ada.ID)
		if !u.IsActive || deref(u.Name) != "Augusta" {
			t.Errorf("recreated account %+v, want active with the latest name", viewOf(u))
		}
		if got := e.emu.GroupMemberIDs(eng.ID); !reflect.DeepEqual(got, sorted(ada.ID, bob.ID)) {
			t.Errorf("UiPath Engineers members %v", got)
		}
		if got := e.emu.GroupMemberIDs(support.ID); !slices.Equal(got, []string{ada.ID}) {
			t.Errorf("UiPath Support members %v, want ada, who joined while deprovisioned", got)
		}
		if bulk := e.wire.sent(http.MethodPost, "/User/BulkCreate"); len(bulk) == 0 ||
			!slices.Equal(sorted(stringsOf(bulk[len(bulk)-1].Body["groupIDs"])...), sorted(eng.ID, support.ID)) {
			t.Errorf("the recreating BulkCreate did not carry the user's groups: %v", bulk)
		}
		if slices.Contains(e.emu.GroupMemberIDs(ops2.ID), ada.ID) {
			t.Error("recreated account rejoined a group it left while deprovisioned")
		}
		if rec, _ := e.record(cache.KindUser, ada.ID); rec.Deprovisioned {
			t.Error("store still marks the user deprovisioned")
		}

		// Deleting a deprovisioned user calls nobody.
		if _, err := e.users.Patch(ctx, bob.ID, ops(t, patchBody(`[{"op":"replace","value":{"active":false}}]`)), ""); err != nil {
			t.Fatal(err)
		}
		deletes := e.calls(http.MethodDelete, "/User/")
		if err := e.users.Delete(ctx, bob.ID, ""); err != nil {
			t.Fatalf("delete deprovisioned: %v", err)
		}
		if n := e.calls(http.MethodDelete, "/User/") - deletes; n != 0 {
			t.Errorf("%d DELETE /User calls for a user without an account", n)
		}
		if rec, _ := e.record(cache.KindGroup, eng.ID); !reflect.DeepEqual(rec.Members, []string{ada.ID}) {
			t.Errorf("store Engineers members %v, want only ada", rec.Members)
		}
	})
}

// TestUserDeprovisionFailures: under the delete policy, when UiPath cannot
// delete or recreate the account the user stays as UiPath has it, so the
// IdP's retry does the work; a recreate whose answer was lost is a success.
func TestUserDeprovisionFailures(t *testing.T) {
	deactivate := patchBody(`[{"op":"replace","path":"active","value":false}]`)
	activate := patchBody(`[{"op":"replace","path":"active","value":true}]`)
	tests := []struct {
		name        string
		deactivated bool // start from a deprovisioned user
		fault       emulator.Fault
		patch       string
		wantErr     string
		wantAccount bool // UiPath has the account after
		wantDeprov  bool // the store marks the user deprovisioned after
	}{
		{name: "delete unavailable", patch: deactivate,
			fault:   emulator.Fault{Method: http.MethodDelete, PathContains: "/User/", Status: 503, Times: -1},
			wantErr: "unavailable", wantAccount: true},
		// UiPath answers 404 but still shows the account: the deletion is
		// read back, so the account is deleted again rather than trusted gone.
		{name: "account already gone", patch: deactivate,
			fault:       emulator.Fault{Method: http.MethodDelete, PathContains: "/User/", Status: 404},
			wantAccount: false, wantDeprov: true},
		{name: "recreate unavailable", deactivated: true, patch: activate,
			fault:   emulator.Fault{Method: http.MethodPost, PathContains: "BulkCreate", Status: 503},
			wantErr: "unavailable", wantDeprov: true},
		{name: "recreate refused", deactivated: true, patch: activate,
			fault:   emulator.Fault{Method: http.MethodPost, PathContains: "BulkCreate", Status: 400, Body: `{"errorMessage":"no"}`},
			wantErr: "internal", wantDeprov: true},
		{name: "recreate answer lost", deactivated: true, patch: activate,
			fault:       emulator.Fault{Method: http.MethodPost, PathContains: "BulkCreate", Status: 504, AfterApply: true},
			wantAccount: true},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Deprovision: mapping.DeprovisionDelete}})
				ada := e.mustUser("ada")
				if tt.deactivated {
					if _, err := e.users.Patch(t.Context(), ada.ID, ops(t, deactivate), ""); err != nil {
						t.Fatal(err)
					}
				}
				e.emu.Inject(tt.fault)
				_, err := e.users.Patch(t.Context(), ada.ID, ops(t, tt.patch), "")
				if got := codeOf(err); got != tt.wantErr {
					t.Fatalf("error %v, want code %q", err, tt.wantErr)
				}
				if _, ok := e.emu.User(ada.ID); ok != tt.wantAccount {
					t.Errorf("UiPath has the account: %v, want %v", ok, tt.wantAccount)
				}
				rec, _ := e.record(cache.KindUser, ada.ID)
				if rec.Deprovisioned != tt.wantDeprov {
					t.Errorf("store marks deprovisioned: %v, want %v", rec.Deprovisioned, tt.wantDeprov)
				}
				if tt.wantErr != "" && rec.Version != 1+btoi(tt.deactivated) {
					t.Errorf("store version %d: a failed change was recorded", rec.Version)
				}
			})
		}
	})
}

func btoi(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestUserNameChange: a changed userName (a marriage, a new UPN) is kept:
// lookups by the new name find the user and by the old one no longer, the
// UiPath account keeps its login name (UiPath cannot rename one) while
// its email and names follow, later updates work, and the audit log says
// what changed.
func TestUserNameChange(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		ada := e.mustUser("ada")
		_, err := e.users.Replace(t.Context(), ada.ID, doc(t, userJSON("ada.king@corp.example", "Ada", "King", "ext-ada")), "")
		if err != nil {
			t.Fatalf("rename: %v", err)
		}
		byName := func(name string) mapping.ListResult {
			t.Helper()
			f, err := scimdoc.CompileFilter(scimdoc.KindUser, `userName eq "`+name+`"`)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.users.List(t.Context(), mapping.ListRequest{Filter: f, Count: 10})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if found := byName("ADA.KING@corp.example"); len(found.Items) != 1 || found.Items[0].ID != ada.ID {
			t.Errorf("lookup by the new userName: %+v", found)
		}
		if old := byName("ada@corp.example"); len(old.Items) != 0 {
			t.Errorf("lookup by the old userName: %+v; want nothing", old)
		}
		u := e.upUser(ada.ID)
		if u.UserName != "ada@corp.example" || u.Email != "ada.king@corp.example" || deref(u.Surname) != "King" {
			t.Errorf("UiPath account %+v; want the old login with the new email and surname", u)
		}
		if _, err := e.users.Patch(t.Context(), ada.ID, ops(t, patchBody(deactivate)), ""); err != nil || e.upUser(ada.ID).IsActive {
			t.Errorf("a later deactivation: %v", err)
		}
		// The old name is free in the store, but UiPath keeps it as ada's
		// login: a new person under it is refused, not merged with her.
		if _, err := e.users.Create(t.Context(), doc(t, userJSON("ada@corp.example", "Ada", "Other", "ext-ada-2"))); codeOf(err) != "conflict" {
			t.Errorf("create with ada's old userName: %v; want conflict", err)
		}
		entries, err := e.store.AuditLog(t.Context(), cache.AuditQuery{Subject: ada.ID})
		if err != nil || !slices.ContainsFunc(entries, func(en cache.AuditEntry) bool {
			return strings.Contains(en.Detail, `userName changed from "ada@corp.example" to "ada.king@corp.example"`)
		}) {
			t.Errorf("audit entries %+v, %v; want the rename recorded", entries, err)
		}
	})
}
