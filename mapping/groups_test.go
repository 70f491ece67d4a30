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

// groupJSON is a group document; members are user ids.
func groupJSON(name string, members ...string) string {
	var b strings.Builder
	b.WriteString(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name + `","members":[`)
	for i, m := range members {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"value":"` + m + `"}`)
	}
	b.WriteString("]}")
	return b.String()
}

func TestGroupCreate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   mapping.Config
		setup func(e *env)
		// members names the users (ada, bob, carol) to put in the group.
		members []string
		// wantUp are the members UiPath must have; nil means all of them.
		wantUp []string
	}{
		{name: "with members", members: []string{"ada", "bob"}},
		{name: "without members"},
		{name: "response lost after the group was made", members: []string{"ada"},
			setup: func(e *env) {
				e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/Group", Status: 502, AfterApply: true})
			}},
		{name: "member without an account", cfg: mapping.Config{Deprovision: mapping.DeprovisionDelete},
			members: []string{"ada", "carol"}, wantUp: []string{"ada"},
			setup: func(e *env) {
				if _, err := e.users.Patch(e.t.Context(), e.ids["carol"], ops(e.t, patchBody(`[{"op":"replace","path":"active","value":false}]`)), ""); err != nil {
					e.t.Fatal(err)
				}
			}},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: tt.cfg})
				e.users3()
				if tt.setup != nil {
					tt.setup(e)
				}
				e.resetCalls()
				members := e.idsOf(tt.members...)
				wantUp := members
				if tt.wantUp != nil {
					wantUp = e.idsOf(tt.wantUp...)
				}
				g, err := e.groups.Create(t.Context(), doc(t, groupJSON("Engineers", members...)))
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if g.Kind != scimdoc.KindGroup || g.ID == "" || g.Version != scimdoc.ETag(1) || !reflect.DeepEqual(g.Members, members) {
					t.Errorf("item %+v, want a new group with members %v", g, members)
				}
				if a := attrsOf(t, g); a["displayName"] != "Engineers" {
					t.Errorf("item displayName %v", a["displayName"])
				}
				posts := e.wire.sent(http.MethodPost, "/Group")
				if len(posts) != 1 || e.writes() != 1 {
					t.Fatalf("UiPath writes %v, want one POST /Group", e.wire.all())
				}
				if got := stringsOf(posts[0].Body["directoryUserMemberIDs"]); !reflect.DeepEqual(got, wantUp) {
					t.Errorf("POST /Group carried members %v, want %v", got, wantUp)
				}
				if posts[0].Body["id"] != g.ID {
					t.Errorf("POST /Group id %v, want the SCIM id %s", posts[0].Body["id"], g.ID)
				}
				up, ok := e.emu.Group(g.ID)
				if !ok || up.Name != "Engineers" {
					t.Fatalf("UiPath group %+v (found %v)", up, ok)
				}
				if got := e.emu.GroupMemberIDs(g.ID); !slices.Equal(got, wantUp) {
					t.Errorf("UiPath members %v, want %v", got, wantUp)
				}
				if rec, _ := e.record(cache.KindGroup, g.ID); !slices.Equal(rec.Members, members) {
					t.Errorf("store members %v, want %v", rec.Members, members)
				}
				for _, m := range members {
					u, err := e.users.Get(t.Context(), m)
					if err != nil {
						t.Fatal(err)
					}
					if want := []mapping.GroupRef{{ID: g.ID, Display: "Engineers"}}; !reflect.DeepEqual(u.Groups, want) {
						t.Errorf("user %s groups %+v, want %+v", m, u.Groups, want)
					}
				}
			})
		}
	})
}

func TestGroupCreateRefused(t *testing.T) {
	tests := []struct {
		name    string
		adopt   bool
		setup   func(e *env)
		doc     func(e *env) string
		wantErr string
	}{
		{name: "member that is not a provisioned user", wantErr: "invalid",
			doc: func(e *env) string {
				return groupJSON("Engineers", e.ids["ada"], "6f1c2a8e-0000-4000-8000-00000000beef")
			}},
		{name: "no displayName", wantErr: "invalid", doc: func(*env) string { return `{"displayName":"  "}` }},
		{name: "members not an array", wantErr: "invalid", doc: func(*env) string { return `{"displayName":"Engineers","members":"ada"}` }},
		{name: "duplicate displayName, another case", wantErr: "conflict",
			setup: func(e *env) { e.mustGroup("Engineers") },
			doc:   func(*env) string { return groupJSON("ENGINEERS") }},
		{name: "UiPath group of that name, adoption off", wantErr: "conflict",
			setup: func(e *env) { e.emu.SeedGroup("Engineers") },
			doc:   func(*env) string { return groupJSON("Engineers") }},
		{name: "built-in UiPath group", adopt: true, wantErr: "conflict",
			doc: func(*env) string { return groupJSON("Administrators") }},
		{name: "UiPath unavailable", wantErr: "unavailable",
			setup: func(e *env) {
				e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/Group", Status: 503})
			},
			doc: func(e *env) string { return groupJSON("Engineers", e.ids["ada"]) }},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{AdoptExisting: tt.adopt}})
				e.users3()
				if tt.setup != nil {
					tt.setup(e)
				}
				upBefore := e.emu.Groups()
				before, err := e.groups.List(t.Context(), mapping.ListRequest{})
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.groups.Create(t.Context(), doc(t, tt.doc(e)))
				if got := codeOf(err); got != tt.wantErr {
					t.Fatalf("Create: error %v (code %q), want %q", err, got, tt.wantErr)
				}
				if !reflect.DeepEqual(e.emu.Groups(), upBefore) {
					t.Errorf("UiPath groups changed:\n got %+v\nwant %+v", e.emu.Groups(), upBefore)
				}
				if after, _ := e.groups.List(t.Context(), mapping.ListRequest{}); after.Total != before.Total {
					t.Errorf("store holds %d groups, want %d", after.Total, before.Total)
				}
			})
		}
	})
}

// TestGroupAdopt: a group create whose name UiPath already has links that
// group and makes its members the IdP's list in one call: it adds the
// requested members it lacks and removes the users the bridge manages that
// the IdP did not name (after a store loss, bob left the group in the IdP
// meanwhile), while a member the bridge does not manage (an account made
// in UiPath) is left alone and not recorded. The store and UiPath agree
// from the start.
func TestGroupAdopt(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: mapping.Config{AdoptExisting: true}})
		e.users3()
		seeded := e.emu.SeedGroup("Engineers")
		outsider := e.emu.SeedUser(upstream.User{UserName: "local.admin", GroupIDs: []string{seeded.ID}})
		if _, err := e.up.UpdateGroup(t.Context(), seeded.ID, seeded.Name, []string{e.ids["bob"], e.ids["carol"]}, nil); err != nil {
			t.Fatal(err)
		}
		e.wire.reset()

		g, err := e.groups.Create(t.Context(), doc(t, groupJSON("engineers", e.ids["ada"], e.ids["carol"])))
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if g.ID != seeded.ID {
			t.Errorf("id %s, want the existing group's %s", g.ID, seeded.ID)
		}
		if got, want := e.emu.GroupMemberIDs(seeded.ID), sorted(outsider.ID, e.ids["ada"], e.ids["carol"]); !reflect.DeepEqual(got, want) {
			t.Errorf("UiPath members %v, want %v (bob out, the outsider left alone)", got, want)
		}
		if rec, _ := e.record(cache.KindGroup, seeded.ID); !reflect.DeepEqual(rec.Members, sorted(e.ids["ada"], e.ids["carol"])) || rec.Name != "engineers" {
			t.Errorf("store record %+v, want name engineers and ada, carol", rec)
		}
		puts := e.wire.sent(http.MethodPut, "/Group/")
		if len(puts) != 1 || !reflect.DeepEqual(stringsOf(puts[0].Body["directoryUserIDsToAdd"]), []string{e.ids["ada"]}) ||
			!reflect.DeepEqual(stringsOf(puts[0].Body["directoryUserIDsToRemove"]), []string{e.ids["bob"]}) {
			t.Errorf("PUT /Group calls %v, want one adding ada and removing bob", puts)
		}
		// The linked group cannot be adopted a second time.
		if _, err := e.groups.Create(t.Context(), doc(t, groupJSON("Engineers"))); codeOf(err) != "conflict" {
			t.Errorf("second create of the name: %v, want conflict", err)
		}
	})
}

// memberChange is ada, bob in a group; the change removes ada and adds
// carol and dave.
var memberChange = map[string]string{
	"Okta": `[{"op":"add","path":"members","value":[{"value":"{carol}"},{"value":"{dave}"}]},
	          {"op":"remove","path":"members[value eq \"{ada}\"]"}]`,
	"Entra": `[{"op":"Add","path":"members","value":[{"value":"{carol}"}]},
	           {"op":"Add","path":"members","value":[{"value":"{dave}"}]},
	           {"op":"Remove","path":"members","value":[{"value":"{ada}"}]}]`,
}

func TestGroupPatchMembers(t *testing.T) {
	tests := []struct {
		strategy   string
		form       string
		ops        string // "" means memberChange[form]
		wantMember []string
		// The calls the change takes: PUT /User and PUT /Group.
		wantUserPUT, wantGroupPUT int
	}{
		{strategy: mapping.StrategyUser, form: "Okta", wantUserPUT: 3},
		{strategy: mapping.StrategyUser, form: "Entra", wantUserPUT: 3},
		{strategy: mapping.StrategyGroup, form: "Okta", wantGroupPUT: 1},
		{strategy: mapping.StrategyGroup, form: "Entra", wantGroupPUT: 1},
		{strategy: mapping.StrategyAuto, form: "Okta", wantGroupPUT: 1},
		{strategy: mapping.StrategyAuto, form: "Entra", wantGroupPUT: 1},
		{strategy: mapping.StrategyAuto, form: "one member", wantUserPUT: 1,
			ops: `[{"op":"Add","path":"members","value":[{"value":"{carol}"}]}]`, wantMember: []string{"ada", "bob", "carol"}},
		{strategy: mapping.StrategyGroup, form: "replace all", wantGroupPUT: 1,
			ops: `[{"op":"replace","path":"members","value":[{"value":"{bob}"},{"value":"{carol}"},{"value":"{dave}"}]}]`},
		{strategy: mapping.StrategyUser, form: "member already there", ops: `[{"op":"add","path":"members","value":[{"value":"{bob}"}]}]`,
			wantMember: []string{"ada", "bob"}},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.strategy+"/"+tt.form, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Strategy: tt.strategy}})
				e.users3()
				e.ids["dave"] = e.mustUser("dave").ID
				g := e.mustGroup("Engineers", e.idsOf("ada", "bob")...)
				e.resetCalls()
				raw := tt.ops
				if raw == "" {
					raw = memberChange[tt.form]
				}
				want := e.idsOf("bob", "carol", "dave")
				if tt.wantMember != nil {
					want = e.idsOf(tt.wantMember...)
				}

				it, err := e.groups.Patch(t.Context(), g.ID, ops(t, patchBody(e.expand(raw))), "")
				if err != nil {
					t.Fatalf("Patch: %v", err)
				}
				if !reflect.DeepEqual(it.Members, want) {
					t.Errorf("item members %v, want %v", it.Members, want)
				}
				if rec, _ := e.record(cache.KindGroup, g.ID); !reflect.DeepEqual(rec.Members, want) {
					t.Errorf("store members %v, want %v", rec.Members, want)
				}
				if got := e.emu.GroupMemberIDs(g.ID); !reflect.DeepEqual(got, want) {
					t.Errorf("UiPath members %v, want %v", got, want)
				}
				userPUT, groupPUT := e.calls(http.MethodPut, "/User/"), e.calls(http.MethodPut, "/Group/")
				if userPUT != tt.wantUserPUT || groupPUT != tt.wantGroupPUT || e.writes() != userPUT+groupPUT {
					t.Errorf("UiPath calls: %d PUT /User, %d PUT /Group, %v; want %d and %d",
						userPUT, groupPUT, e.wire.all(), tt.wantUserPUT, tt.wantGroupPUT)
				}
				for _, c := range e.wire.sent(http.MethodPut, "/User/") {
					if c.Body["groupIDsToAdd"] == nil && c.Body["groupIDsToRemove"] == nil || len(c.Body) != 1 {
						t.Errorf("PUT %s carries %v, want one group delta only", c.Path, c.Body)
					}
				}
				for _, name := range []string{"ada", "bob", "carol", "dave"} {
					in := slices.Contains(e.groupsOf(e.ids[name]), g.ID)
					if want := slices.Contains(want, e.ids[name]); in != want {
						t.Errorf("store: %s in group = %v, want %v", name, in, want)
					}
				}
			})
		}
	})
}

// TestGroupCreateMeetsItsOwnEarlierTry: a group create UiPath applied but
// answered 429 is sent again and meets its own group as a duplicate name;
// UiPath refuses its id as taken; that group is this create's (its id is
// the one the bridge generated), so it is used as it is, with no member
// read and no second group.
func TestGroupCreateMeetsItsOwnEarlierTry(t *testing.T) {
	e := newEnv(t, envOptions{cfg: mapping.Config{AdoptExisting: true}})
	e.users3()
	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/api/Group", Status: http.StatusTooManyRequests, AfterApply: true})
	e.resetCalls()
	g, err := e.groups.Create(t.Context(), doc(t, groupJSON("Engineers", e.ids["ada"])))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	custom := 0
	for _, ug := range e.emu.Groups() {
		if ug.Type == upstream.GroupTypeCustom {
			custom++
		}
	}
	if custom != 1 {
		t.Fatalf("UiPath has %d custom groups, want 1", custom)
	}
	if got := e.emu.GroupMemberIDs(g.ID); !reflect.DeepEqual(got, []string{e.ids["ada"]}) {
		t.Errorf("members %v, want ada", got)
	}
	if n := e.calls(http.MethodPost, "/Group"); n != 2 {
		t.Errorf("POST /Group calls %d, want 2 (the 429 and its retry)", n)
	}
	for _, r := range e.emu.Requests() {
		if strings.HasSuffix(r.Path, "/Members") {
			t.Errorf("read the members of its own group: %s", r.Path)
		}
	}
}
