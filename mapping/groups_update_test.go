package mapping_test

import (
	"encoding/json"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// TestGroupRenameAndReplace: a PUT replaces name and member list; a rename
// always takes a PUT /Group (UiPath keeps the name there), which under the
// group and auto strategies carries the member changes too.
func TestGroupRenameAndReplace(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		setup    func(e *env)
		// doc is the new group document ({name} expands to an id); the
		// group starts as "Engineers" with ada and bob.
		doc                       string
		patch                     string // used instead of doc when set
		wantErr                   string
		wantName                  string   // UiPath's and the store's name after
		wantMembers               []string // names
		wantUserPUT, wantGroupPUT int
		// wantGroupBody is the one PUT /Group's body without partitionGlobalId.
		wantGroupBody map[string]any
	}{
		{name: "rename only, user strategy", strategy: mapping.StrategyUser,
			doc: groupJSON("Platform", "{ada}", "{bob}"), wantName: "Platform", wantMembers: []string{"ada", "bob"},
			wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "Platform"}},
		{name: "rename by PATCH, Entra form", strategy: mapping.StrategyUser,
			patch: `[{"op":"Replace","path":"displayName","value":"Platform"}]`, wantName: "Platform", wantMembers: []string{"ada", "bob"},
			wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "Platform"}},
		{name: "rename and members, user strategy", strategy: mapping.StrategyUser,
			doc: groupJSON("Platform", "{bob}", "{carol}"), wantName: "Platform", wantMembers: []string{"bob", "carol"},
			wantUserPUT: 2, wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "Platform"}},
		{name: "rename and members, group strategy", strategy: mapping.StrategyGroup,
			doc: groupJSON("Platform", "{bob}", "{carol}"), wantName: "Platform", wantMembers: []string{"bob", "carol"},
			wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "Platform",
				"directoryUserIDsToAdd": []any{"{carol}"}, "directoryUserIDsToRemove": []any{"{ada}"}}},
		{name: "rename and one member, auto strategy", strategy: mapping.StrategyAuto,
			doc: groupJSON("Platform", "{ada}", "{bob}", "{carol}"), wantName: "Platform", wantMembers: []string{"ada", "bob", "carol"},
			wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "Platform", "directoryUserIDsToAdd": []any{"{carol}"}}},
		{name: "new member list, same name", strategy: mapping.StrategyUser,
			doc: groupJSON("Engineers", "{carol}"), wantName: "Engineers", wantMembers: []string{"carol"}, wantUserPUT: 3},
		{name: "members left out are removed", strategy: mapping.StrategyGroup,
			doc: `{"displayName":"Engineers"}`, wantName: "Engineers", wantMembers: []string{},
			wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "Engineers", "directoryUserIDsToRemove": []any{"{ada}", "{bob}"}}},
		{name: "name case only", strategy: mapping.StrategyUser,
			doc: groupJSON("ENGINEERS", "{ada}", "{bob}"), wantName: "ENGINEERS", wantMembers: []string{"ada", "bob"},
			wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "ENGINEERS"}},
		{name: "name of another group", strategy: mapping.StrategyUser, setup: func(e *env) { e.mustGroup("Analysts") },
			doc: groupJSON("analysts", "{ada}", "{bob}"), wantErr: "conflict", wantName: "Engineers", wantMembers: []string{"ada", "bob"}},
		{name: "name UiPath has for a group the bridge does not know", strategy: mapping.StrategyGroup,
			setup: func(e *env) { e.emu.SeedGroup("Analysts") },
			doc:   groupJSON("Analysts", "{ada}", "{bob}", "{carol}"), wantErr: "conflict", wantName: "Engineers", wantMembers: []string{"ada", "bob"},
			wantGroupPUT: 1, wantGroupBody: map[string]any{"name": "Analysts", "directoryUserIDsToAdd": []any{"{carol}"}}},
		{name: "member that is not a provisioned user", strategy: mapping.StrategyUser,
			doc:     groupJSON("Engineers", "{ada}", "6f1c2a8e-0000-4000-8000-00000000beef"),
			wantErr: "invalid", wantName: "Engineers", wantMembers: []string{"ada", "bob"}},
		{name: "no displayName", strategy: mapping.StrategyUser, doc: groupJSON(""),
			wantErr: "invalid", wantName: "Engineers", wantMembers: []string{"ada", "bob"}},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Strategy: tt.strategy}})
				e.users3()
				g := e.mustGroup("Engineers", e.idsOf("ada", "bob")...)
				if tt.setup != nil {
					tt.setup(e)
				}
				e.resetCalls()

				var it mapping.Item
				var err error
				if tt.patch != "" {
					it, err = e.groups.Patch(t.Context(), g.ID, ops(t, patchBody(tt.patch)), "")
				} else {
					it, err = e.groups.Replace(t.Context(), g.ID, doc(t, e.expand(tt.doc)), "")
				}
				if got := codeOf(err); got != tt.wantErr {
					t.Fatalf("error %v (code %q), want %q", err, got, tt.wantErr)
				}
				members := e.idsOf(tt.wantMembers...)
				if tt.wantErr == "" && (!slices.Equal(it.Members, members) || it.Version != scimdoc.ETag(2)) {
					t.Errorf("item members %v version %s, want %v at version 2", it.Members, it.Version, members)
				}
				rec, _ := e.record(cache.KindGroup, g.ID)
				if rec.Name != tt.wantName || !slices.Equal(rec.Members, members) {
					t.Errorf("store %q %v, want %q %v", rec.Name, rec.Members, tt.wantName, members)
				}
				up, _ := e.emu.Group(g.ID)
				if up.Name != tt.wantName || !slices.Equal(e.emu.GroupMemberIDs(g.ID), members) {
					t.Errorf("UiPath %q %v, want %q %v", up.Name, e.emu.GroupMemberIDs(g.ID), tt.wantName, members)
				}
				userPUT, groupPUT := e.calls(http.MethodPut, "/User/"), e.calls(http.MethodPut, "/Group/")
				if userPUT != tt.wantUserPUT || groupPUT != tt.wantGroupPUT || e.writes() != userPUT+groupPUT {
					t.Errorf("UiPath calls %v; want %d PUT /User and %d PUT /Group", e.wire.all(), tt.wantUserPUT, tt.wantGroupPUT)
				}
				if tt.wantGroupBody != nil {
					want := doc(t, e.expand(mustJSON(tt.wantGroupBody)))
					puts := e.wire.sent(http.MethodPut, "/Group/")
					if len(puts) == 1 {
						got := puts[0].Body
						delete(got, "partitionGlobalId")
						// Member ids are compared as sets.
						for _, m := range []map[string]any{got, want} {
							for k, v := range m {
								if l, ok := v.([]any); ok {
									m[k] = sorted(stringsOf(l)...)
								}
							}
						}
						if !reflect.DeepEqual(got, want) {
							t.Errorf("PUT /Group body\n got %v\nwant %v", got, want)
						}
					}
				}
			})
		}
	})
}

func TestGroupDelete(t *testing.T) {
	tests := []struct {
		name    string
		ifMatch string
		fault   *emulator.Fault
		wantErr string
	}{
		{name: "group goes, users stay"},
		{name: "current version", ifMatch: `W/"1"`},
		{name: "stale version", ifMatch: `W/"2"`, wantErr: "precondition"},
		{name: "already gone in UiPath", fault: &emulator.Fault{Method: http.MethodDelete, PathContains: "/Group/", Status: 404}},
		{name: "UiPath unavailable", fault: &emulator.Fault{Method: http.MethodDelete, PathContains: "/Group/", Status: 500, Times: -1},
			wantErr: "unavailable"},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store})
				e.users3()
				g := e.mustGroup("Engineers", e.idsOf("ada", "bob")...)
				if tt.fault != nil {
					e.emu.Inject(*tt.fault)
				}
				err := e.groups.Delete(t.Context(), g.ID, tt.ifMatch)
				if got := codeOf(err); got != tt.wantErr {
					t.Fatalf("Delete: error %v, want code %q", err, tt.wantErr)
				}
				_, inStore := e.record(cache.KindGroup, g.ID)
				_, inUiPath := e.emu.Group(g.ID)
				if inStore != (tt.wantErr != "") {
					t.Errorf("store holds the group: %v", inStore)
				}
				if tt.wantErr != "" && !inUiPath {
					t.Error("UiPath lost the group though the delete failed")
				}
				if tt.wantErr == "" && inUiPath && tt.fault == nil {
					t.Error("UiPath still has the group")
				}
				for _, name := range []string{"ada", "bob"} {
					if _, ok := e.emu.User(e.ids[name]); !ok {
						t.Errorf("UiPath lost user %s", name)
					}
					if in := slices.Contains(e.groupsOf(e.ids[name]), g.ID); in != (tt.wantErr != "") {
						t.Errorf("store: %s in the group = %v", name, in)
					}
					u, err := e.users.Get(t.Context(), e.ids[name])
					if err != nil {
						t.Fatal(err)
					}
					if (len(u.Groups) == 1) != (tt.wantErr != "") {
						t.Errorf("%s's groups %+v", name, u.Groups)
					}
				}
			})
		}
	})
}

// TestGroupIfMatch: PATCH and PUT of a group check If-Match like a user's.
func TestGroupIfMatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		e.users3()
		g := e.mustGroup("Engineers", e.ids["ada"])
		addBob := ops(t, patchBody(e.expand(`[{"op":"add","path":"members","value":[{"value":"{bob}"}]}]`)))
		e.resetCalls()
		if _, err := e.groups.Patch(t.Context(), g.ID, addBob, `W/"9"`); codeOf(err) != "precondition" {
			t.Errorf("stale PATCH: %v, want precondition", err)
		}
		if _, err := e.groups.Replace(t.Context(), g.ID, doc(t, groupJSON("Platform")), `W/"9"`); codeOf(err) != "precondition" {
			t.Errorf("stale PUT: %v, want precondition", err)
		}
		if n := e.writes(); n != 0 {
			t.Errorf("%d UiPath writes after failed preconditions", n)
		}
		it, err := e.groups.Patch(t.Context(), g.ID, addBob, g.Version)
		if err != nil {
			t.Fatalf("current PATCH: %v", err)
		}
		if _, err := e.groups.Replace(t.Context(), g.ID, doc(t, groupJSON("Platform")), g.Version); codeOf(err) != "precondition" {
			t.Errorf("PUT with the version before the PATCH: %v, want precondition", err)
		}
		if _, err := e.groups.Replace(t.Context(), g.ID, doc(t, groupJSON("Platform")), it.Version); err != nil {
			t.Errorf("PUT with the current version: %v", err)
		}
		if up, _ := e.emu.Group(g.ID); up.Name != "Platform" || len(e.emu.GroupMemberIDs(g.ID)) != 0 {
			t.Errorf("UiPath group %q members %v, want Platform without members", up.Name, e.emu.GroupMemberIDs(g.ID))
		}
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
