package mapping_test

import (
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// TestPartialMembershipFailure: when some of the upstream calls of one
// membership change fail, the error names the failed members and says
// whether a retry can help; the store holds exactly what UiPath confirmed,
// so the IdP's retry of the same PATCH makes only the missing calls.
func TestPartialMembershipFailure(t *testing.T) {
	const addThree = `[{"op":"add","path":"members","value":[{"value":"{carol}"},{"value":"{dave}"},{"value":"{erin}"}]}]`
	tests := []struct {
		name     string
		strategy string
		ops      string // on a group of ada and bob
		// fault makes the failure; {dave} expands to dave's id.
		fault          emulator.Fault
		wantCode       string
		wantRetryAfter time.Duration
		wantDetail     string   // a substring of the error's detail
		wantFailed     []string // members the detail names
		wantAfter      []string // members UiPath and the store hold after the failure
		// The retry's calls.
		wantRetryUserPUT, wantRetryGroupPUT int
		wantFinal                           []string
	}{
		{name: "one user call unavailable", strategy: mapping.StrategyUser, ops: addThree,
			fault:    emulator.Fault{Method: http.MethodPut, PathContains: "/User/{dave}", Status: 500, Times: -1},
			wantCode: "unavailable", wantRetryAfter: 30 * time.Second, wantDetail: "1 of 3 membership changes could not be applied",
			wantFailed: []string{"dave"}, wantAfter: []string{"ada", "bob", "carol", "erin"},
			wantRetryUserPUT: 1, wantFinal: []string{"ada", "bob", "carol", "dave", "erin"}},
		{name: "one user call throttled", strategy: mapping.StrategyUser, ops: addThree,
			fault:    emulator.Fault{Method: http.MethodPut, PathContains: "/User/{dave}", Status: 429, RetryAfter: 2 * time.Second, Times: -1},
			wantCode: "throttled", wantRetryAfter: 2 * time.Second, wantDetail: "1 of 3 membership changes could not be applied",
			wantFailed: []string{"dave"}, wantAfter: []string{"ada", "bob", "carol", "erin"},
			wantRetryUserPUT: 1, wantFinal: []string{"ada", "bob", "carol", "dave", "erin"}},
		{name: "one user call refused", strategy: mapping.StrategyUser, ops: addThree,
			fault:    emulator.Fault{Method: http.MethodPut, PathContains: "/User/{dave}", Status: 400, Body: `{"errorMessage":"nope"}`},
			wantCode: "internal", wantDetail: "1 of 3 membership changes were refused by UiPath",
			wantFailed: []string{"dave"}, wantAfter: []string{"ada", "bob", "carol", "erin"},
			wantRetryUserPUT: 1, wantFinal: []string{"ada", "bob", "carol", "dave", "erin"}},
		{name: "removal and addition, the removal fails", strategy: mapping.StrategyUser,
			ops:   `[{"op":"remove","path":"members","value":[{"value":"{ada}"},{"value":"{bob}"}]},{"op":"add","path":"members","value":[{"value":"{carol}"}]}]`,
			fault: emulator.Fault{Method: http.MethodPut, PathContains: "/User/{bob}", Status: 503, Times: -1}, wantRetryAfter: 30 * time.Second,
			wantCode: "unavailable", wantDetail: "1 of 3", wantFailed: []string{"bob"}, wantAfter: []string{"bob", "carol"},
			wantRetryUserPUT: 1, wantFinal: []string{"carol"}},
		{name: "the group call unavailable", strategy: mapping.StrategyGroup, ops: addThree,
			fault:    emulator.Fault{Method: http.MethodPut, PathContains: "/Group/", Status: 502, Times: -1},
			wantCode: "unavailable", wantRetryAfter: 30 * time.Second, wantDetail: "3 of 3",
			wantFailed: []string{"carol", "dave", "erin"}, wantAfter: []string{"ada", "bob"},
			wantRetryGroupPUT: 1, wantFinal: []string{"ada", "bob", "carol", "dave", "erin"}},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Strategy: tt.strategy}})
				e.users3()
				e.ids["dave"] = e.mustUser("dave").ID
				e.ids["erin"] = e.mustUser("erin").ID
				g := e.mustGroup("Engineers", e.idsOf("ada", "bob")...)
				f := tt.fault
				f.PathContains = e.expand(f.PathContains)
				e.emu.Inject(f)
				patch := ops(t, patchBody(e.expand(tt.ops)))

				_, err := e.groups.Patch(t.Context(), g.ID, patch, "")
				if got := codeOf(err); got != tt.wantCode {
					t.Fatalf("Patch: error %v (code %q), want %q", err, got, tt.wantCode)
				}
				merr := asError(t, err)
				if merr.RetryAfter != tt.wantRetryAfter {
					t.Errorf("RetryAfter %v, want %v", merr.RetryAfter, tt.wantRetryAfter)
				}
				if !strings.Contains(merr.Detail, tt.wantDetail) {
					t.Errorf("detail %q does not say %q", merr.Detail, tt.wantDetail)
				}
				for _, name := range []string{"ada", "bob", "carol", "dave", "erin"} {
					if named, failed := strings.Contains(merr.Detail, e.ids[name]), slices.Contains(tt.wantFailed, name); named != failed {
						t.Errorf("detail names %s: %v, want %v (%q)", name, named, failed, merr.Detail)
					}
				}
				after := e.idsOf(tt.wantAfter...)
				if rec, _ := e.record(cache.KindGroup, g.ID); !slices.Equal(rec.Members, after) {
					t.Errorf("store members %v, want what UiPath confirmed: %v", rec.Members, after)
				}
				if got := e.emu.GroupMemberIDs(g.ID); !slices.Equal(got, after) {
					t.Errorf("UiPath members %v, want %v", got, after)
				}
				for _, name := range []string{"ada", "bob", "carol", "dave", "erin"} {
					in := slices.Contains(e.groupsOf(e.ids[name]), g.ID)
					if want := slices.Contains(tt.wantAfter, name); in != want {
						t.Errorf("store: %s in the group = %v, want %v", name, in, want)
					}
				}

				// The IdP retries the same PATCH once UiPath is back.
				e.emu.ClearFaults()
				e.resetCalls()
				it, err := e.groups.Patch(t.Context(), g.ID, patch, "")
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				final := e.idsOf(tt.wantFinal...)
				if !slices.Equal(it.Members, final) || !slices.Equal(e.emu.GroupMemberIDs(g.ID), final) {
					t.Errorf("after the retry: item %v, UiPath %v; want %v", it.Members, e.emu.GroupMemberIDs(g.ID), final)
				}
				if u, gr := e.calls(http.MethodPut, "/User/"), e.calls(http.MethodPut, "/Group/"); u != tt.wantRetryUserPUT || gr != tt.wantRetryGroupPUT {
					t.Errorf("the retry made %d PUT /User and %d PUT /Group calls (%v), want %d and %d",
						u, gr, e.wire.all(), tt.wantRetryUserPUT, tt.wantRetryGroupPUT)
				}
			})
		}
	})
}

// TestRenameFailureChangesNothing: a rename that UiPath refuses carries
// the member changes with it under the group strategy, so nothing of the
// request is recorded.
func TestRenameFailureChangesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, strategy := range []string{mapping.StrategyUser, mapping.StrategyGroup} {
			t.Run(strategy, func(t *testing.T) {
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Strategy: strategy}})
				e.users3()
				g := e.mustGroup("Engineers", e.ids["ada"])
				e.emu.Inject(emulator.Fault{Method: http.MethodPut, PathContains: "/Group/", Status: 503, Times: -1})
				e.resetCalls()
				_, err := e.groups.Replace(t.Context(), g.ID, doc(t, groupJSON("Platform", e.idsOf("ada", "bob")...)), "")
				if codeOf(err) != "unavailable" {
					t.Fatalf("error %v, want unavailable", err)
				}
				rec, _ := e.record(cache.KindGroup, g.ID)
				if rec.Name != "Engineers" || !slices.Equal(rec.Members, []string{e.ids["ada"]}) || rec.Version != 1 {
					t.Errorf("store record %+v, want it untouched", rec)
				}
				if n := e.calls(http.MethodPut, "/User/"); n != 0 {
					t.Errorf("%d PUT /User calls after the rename failed, want none", n)
				}
				if got := e.emu.GroupMemberIDs(g.ID); !slices.Equal(got, []string{e.ids["ada"]}) {
					t.Errorf("UiPath members %v", got)
				}
			})
		}
	})
}

// TestRemoveMemberWhoseAccountVanished: an admin deletes bob's account in
// UiPath; the IdP then removes bob from a group and adds carol. Bob is no
// longer a member anywhere, so the removal is already true in UiPath: the
// request should succeed and the store should forget bob's membership.
//
// withAccounts keeps such ids "because a removal of a forgotten user is
// harmless upstream", but UiPath answers 404 to PUT /User/{bob} and 400 to a
// PUT /Group whose directoryUserIDsToRemove names an unknown user. Under
// strategy user the request fails (CodeInternal) and bob stays in the store
// for good; under group and auto the whole PUT /Group fails, so carol's
// addition fails with it, and every later change that removes bob fails too.
func TestRemoveMemberWhoseAccountVanished(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, strategy := range []string{mapping.StrategyUser, mapping.StrategyGroup, mapping.StrategyAuto} {
			t.Run(strategy, func(t *testing.T) {
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Strategy: strategy}})
				e.users3()
				g := e.mustGroup("Engineers", e.idsOf("ada", "bob")...)
				if err := e.up.DeleteUser(t.Context(), e.ids["bob"]); err != nil {
					t.Fatal(err)
				}
				_, err := e.groups.Patch(t.Context(), g.ID, ops(t, patchBody(e.expand(
					`[{"op":"remove","path":"members[value eq \"{bob}\"]"},{"op":"add","path":"members","value":[{"value":"{carol}"}]}]`))), "")
				if err != nil {
					t.Errorf("Patch: %v", err)
				}
				want := e.idsOf("ada", "carol")
				if rec, _ := e.record(cache.KindGroup, g.ID); !slices.Equal(rec.Members, want) {
					t.Errorf("store members %v, want ada and carol", rec.Members)
				}
				if got := e.emu.GroupMemberIDs(g.ID); !slices.Equal(got, want) {
					t.Errorf("UiPath members %v, want ada and carol", got)
				}
			})
		}
	})
}

// TestDeactivateUserWhoseAccountVanished: the account was deleted directly
// in UiPath; the IdP's deactivation finds the goal already holds and
// succeeds, instead of failing on every retry.
func TestDeactivateUserWhoseAccountVanished(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		u := e.mustUser("dora")
		if err := e.up.DeleteUser(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
		it, err := e.users.Patch(t.Context(), u.ID, ops(t, patchBody(`[{"op":"Replace","path":"active","value":"False"}]`)), "")
		if err != nil {
			t.Fatalf("deactivation of a vanished account: %v", err)
		}
		if attrs := attrsOf(t, it); attrs["active"] != false {
			t.Errorf("stored active = %v, want false", attrs["active"])
		}
		if _, ok := e.emu.User(u.ID); ok {
			t.Error("the deactivation recreated the account")
		}
	})
}
