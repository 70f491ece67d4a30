package test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/storetool"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// TestStoreLoss: the store loses every record (a Redis restarted without
// persistence, a lost bbolt file) while UiPath keeps the accounts and
// groups. Over real HTTP, the IdP's next writes still land: a deactivation
// disables the account (it answered 404 and left it active), a group PATCH
// naming the lost members re-adopts them (it answered 400), a DELETE
// deletes; a GET stays 404 and a robot's id is never touched. A user then
// deleted in UiPath comes back on its next profile change (it answered
// 500).
func TestStoreLoss(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		ada := str(e.must(201, "POST", "/Users", newUserBody("ada@corp.example")).body, "id")
		bob := str(e.must(201, "POST", "/Users", newUserBody("bob@corp.example")).body, "id")
		carol := str(e.must(201, "POST", "/Users", newUserBody("carol@corp.example")).body, "id")
		gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Team",
			"members": []any{map[string]any{"value": ada}, map[string]any{"value": bob}}}).body, "id")
		robot := e.emu.SeedUser(upstream.User{UserName: "robot1", Type: upstream.UserTypeRobot, IsActive: true})

		if err := storetool.Purge(t.Context(), e.store); err != nil {
			t.Fatal(err)
		}
		e.emu.ResetRequests()

		e.must(404, "GET", "/Users/"+ada, nil)
		if n := len(e.emu.Requests()); n != 0 {
			t.Errorf("a GET made %d UiPath calls", n)
		}
		// Entra's deactivation.
		e.must(200, "PATCH", "/Users/"+bob, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"}))
		if u, ok := e.emu.User(bob); !ok || u.IsActive {
			t.Errorf("bob in UiPath: exists %v, active %v; want disabled", ok, u.IsActive)
		}
		// Entra's membership retry, naming members the store lost.
		e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "Add", "path": "members",
			"value": []any{map[string]any{"value": ada}, map[string]any{"value": carol}}}))
		want := sorted([]string{ada, bob, carol})
		if got := memberValues(e.must(200, "GET", "/Groups/"+gid, nil).body); !slices.Equal(sorted(got), want) {
			t.Errorf("group members %v, want %v", got, want)
		}
		if got := e.emu.GroupMemberIDs(gid); !slices.Equal(got, want) {
			t.Errorf("UiPath members %v, want %v", got, want)
		}
		e.must(404, "PATCH", "/Users/"+robot.ID, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"}))
		e.must(404, "DELETE", "/Users/"+robot.ID, nil)
		if u, ok := e.emu.User(robot.ID); !ok || !u.IsActive {
			t.Error("the robot was touched")
		}
		// bob: find, confirm; the group: group, members, then ada and
		// carol; the robot: one per write.
		if n := e.emu.CountRequests(http.MethodGet); n != 8 {
			t.Errorf("UiPath GETs = %d, want 8", n)
		}

		// Deleted in UiPath, then changed by the IdP: recreated, in Team.
		if err := e.uipath.DeleteUser(t.Context(), carol); err != nil {
			t.Fatal(err)
		}
		e.must(200, "PATCH", "/Users/"+carol, patchBody(map[string]any{"op": "replace", "path": "name.familyName", "value": "Jones"}))
		if u, ok := e.emu.User(carol); !ok || u.Surname == nil || *u.Surname != "Jones" || !slices.Contains(u.GroupIDs, gid) {
			t.Errorf("carol in UiPath: exists %v, %+v; want recreated as Jones in Team", ok, u)
		}

		e.must(204, "DELETE", "/Users/"+ada, nil)
		if _, ok := e.emu.User(ada); ok {
			t.Error("UiPath still has ada")
		}
		if !strings.Contains(e.logs.String(), "re-adopted from UiPath after a store loss") {
			t.Error("no re-adoption warning in the log")
		}
		e.quiesce()
	})
}
