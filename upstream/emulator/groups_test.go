package emulator

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
)

func TestGroupLifecycle(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	a := h.srv.SeedUser(upstream.User{UserName: "a", Email: "a@example.com"})
	b := h.srv.SeedUser(upstream.User{UserName: "b"})
	gid := uuid.NewString()

	g := decode[upstream.Group](t, h.call(http.MethodPost, "/api/Group",
		upstream.NewGroup{PartitionGlobalID: pid, ID: gid, Name: "Gryffindors", DirectoryUserMemberIDs: []string{a.ID}}, 201))
	if g.ID != gid || g.Name != "Gryffindors" || g.DisplayName != "Gryffindors" || g.Type != upstream.GroupTypeCustom ||
		!uipathTime.MatchString(g.CreationTime) || len(g.Members) != 1 {
		t.Errorf("created %+v", g)
	}

	// Creation conflicts.
	for name, body := range map[string]upstream.NewGroup{
		"DuplicateGroupName": {PartitionGlobalID: pid, ID: uuid.NewString(), Name: "GRYFFINDORS"},
		"DuplicateId":        {PartitionGlobalID: pid, ID: gid, Name: "Other"},
	} {
		res := decode[upstream.IdentityResult](t, h.call(http.MethodPost, "/api/Group", body, 400))
		if res.Succeeded || len(res.Errors) != 1 || res.Errors[0].Code != name {
			t.Errorf("%s: %+v", name, res)
		}
	}
	h.call(http.MethodPost, "/api/Group", upstream.NewGroup{PartitionGlobalID: pid, ID: uuid.NewString(), Name: "X",
		DirectoryUserMemberIDs: []string{uuid.NewString()}}, 400)

	// List: plain array, built-ins first, members empty.
	list := decode[[]upstream.Group](t, h.call(http.MethodGet, "/api/Group/"+pid, nil, 200))
	var names []string
	for _, lg := range list {
		names = append(names, lg.Name)
		if lg.Members == nil || len(lg.Members) != 0 {
			t.Errorf("list members of %s = %v", lg.Name, lg.Members)
		}
	}
	if strings.Join(names, ",") != "Everyone,Administrators,Gryffindors" || list[0].Type != upstream.GroupTypeBuiltIn {
		t.Errorf("list %v", names)
	}

	// Rename and membership delta through PUT /Group; idempotent.
	upd := upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Lions",
		DirectoryUserIDsToAdd: []string{b.ID, b.ID, a.ID}, DirectoryUserIDsToRemove: []string{}}
	g = decode[upstream.Group](t, h.call(http.MethodPut, "/api/Group/"+gid, upd, 200))
	if g.Name != "Lions" || len(g.Members) != 2 {
		t.Errorf("after PUT %+v", g)
	}
	h.call(http.MethodPut, "/api/Group/"+gid, upd, 200)
	h.call(http.MethodPut, "/api/Group/"+gid, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Everyone"}, 400)
	h.call(http.MethodPut, "/api/Group/"+gid, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Lions",
		DirectoryUserIDsToAdd: []string{uuid.NewString()}}, 400)
	h.call(http.MethodPut, "/api/Group/"+uuid.NewString(), upstream.GroupUpdate{PartitionGlobalID: pid, Name: "N"}, 404)

	// GET one: members filled as DirectoryUser entries.
	g = decode[upstream.Group](t, h.call(http.MethodGet, "/api/Group/"+pid+"/"+gid, nil, 200))
	var am *upstream.GroupMember
	for i := range g.Members {
		if g.Members[i].Identifier == a.ID {
			am = &g.Members[i]
		}
	}
	if am == nil || am.ObjectType != "DirectoryUser" || am.Source != "local" || am.Name != "a" || am.Email != "a@example.com" {
		t.Errorf("members %+v", g.Members)
	}
	h.call(http.MethodGet, "/api/Group/"+pid+"/"+uuid.NewString(), nil, 404)
	h.call(http.MethodGet, "/api/Group/"+pid+"/"+uuid.NewString()+"/Members", nil, 404)

	// Members page.
	mp := decode[upstream.MemberPage](t, h.call(http.MethodGet, "/api/Group/"+pid+"/"+gid+"/Members?top=1", nil, 200))
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if mp.TotalCount != 2 || len(mp.Results) != 1 || mp.Results[0] != (upstream.MemberRef{ID: want[0], Type: 0}) {
		t.Errorf("members page %+v", mp)
	}

	// Delete cascades to users' groupIDs.
	h.call(http.MethodDelete, "/api/Group/"+pid+"/"+gid, nil, 204)
	h.call(http.MethodDelete, "/api/Group/"+pid+"/"+gid, nil, 404)
	for _, u := range h.srv.Users() {
		if slices.Contains(u.GroupIDs, gid) {
			t.Errorf("user %s still in deleted group", u.UserName)
		}
	}
}

func TestMembershipIsOneRelation(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	u := h.srv.SeedUser(upstream.User{UserName: "u"})
	g1, g2 := h.srv.SeedGroup("One"), h.srv.SeedGroup("Two")
	userGroups := func() []string {
		got := decode[upstream.User](t, h.call(http.MethodGet, "/api/User/"+u.ID, nil, 200))
		return got.GroupIDs
	}
	members := func(gid string) []string {
		mp := decode[upstream.MemberPage](t, h.call(http.MethodGet, "/api/Group/"+pid+"/"+gid+"/Members?top=1000", nil, 200))
		var ids []string
		for _, m := range mp.Results {
			ids = append(ids, m.ID)
		}
		return ids
	}
	// User side → group side.
	h.call(http.MethodPut, "/api/User/"+u.ID, upstream.UserUpdate{GroupIDsToAdd: []string{g1.ID}}, 200)
	if !reflect.DeepEqual(members(g1.ID), []string{u.ID}) {
		t.Errorf("group side misses a user-side add")
	}
	// Group side → user side.
	h.call(http.MethodPut, "/api/Group/"+g2.ID, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Two", DirectoryUserIDsToAdd: []string{u.ID}}, 200)
	h.call(http.MethodPut, "/api/Group/"+g1.ID, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "One", DirectoryUserIDsToRemove: []string{u.ID}}, 200)
	if got := userGroups(); !slices.Contains(got, g2.ID) || slices.Contains(got, g1.ID) {
		t.Errorf("user side %v after group-side edits", got)
	}
	if len(members(g1.ID)) != 0 {
		t.Errorf("g1 still has members")
	}
	// Bulk group delete cascades too; unknown ids are ignored.
	h.call(http.MethodDelete, "/api/Group/"+pid, map[string]any{"groupIDs": []string{g2.ID, uuid.NewString()}}, 204)
	if got := userGroups(); slices.Contains(got, g2.ID) || len(got) != 1 {
		t.Errorf("user side %v after bulk delete", got)
	}
}

func TestBuiltInGroups(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	u := h.srv.SeedUser(upstream.User{UserName: "u"})
	gs := h.srv.Groups()
	everyone, admins := gs[0], gs[1]
	if everyone.Name != "Everyone" || admins.Name != "Administrators" || !slices.Contains(h.srv.GroupMemberIDs(everyone.ID), u.ID) {
		t.Fatalf("built-ins %+v", gs)
	}
	tests := []struct {
		name, method, path string
		body               any
	}{
		{"rename", "PUT", "/api/Group/" + admins.ID, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Admins"}},
		{"add member", "PUT", "/api/Group/" + admins.ID, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Administrators", DirectoryUserIDsToAdd: []string{u.ID}}},
		{"remove from Everyone", "PUT", "/api/Group/" + everyone.ID, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Everyone", DirectoryUserIDsToRemove: []string{u.ID}}},
		{"delete", "DELETE", "/api/Group/" + pid + "/" + everyone.ID, nil},
		{"bulk delete", "DELETE", "/api/Group/" + pid, map[string]any{"groupIDs": []string{admins.ID}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := decode[upstream.IdentityResult](t, h.call(tt.method, tt.path, tt.body, 400))
			if res.Succeeded || len(res.Errors) != 1 || res.Errors[0].Code != codeBuiltIn {
				t.Errorf("result %+v", res)
			}
		})
	}
	if got := h.srv.Groups(); !reflect.DeepEqual(got, []upstream.Group{everyone, admins}) {
		t.Errorf("built-ins changed: %+v", got)
	}
	// Same name, no delta: accepted no-op. Membership through PUT /User works.
	h.call(http.MethodPut, "/api/Group/"+admins.ID, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "Administrators"}, 200)
	h.call(http.MethodPut, "/api/User/"+u.ID, upstream.UserUpdate{GroupIDsToAdd: []string{admins.ID, everyone.ID}}, 200)
	if !slices.Contains(h.srv.GroupMemberIDs(admins.ID), u.ID) {
		t.Error("PUT /User could not add to Administrators")
	}
}

func TestInspectionReturnsDeepCopies(t *testing.T) {
	h := newHarness(t, Config{})
	name := "Jo"
	seed := upstream.User{UserName: "jo", Name: &name}
	u := h.srv.SeedUser(seed)
	name = "changed by caller"
	g := h.srv.SeedGroup("G")
	h.call(http.MethodPut, "/api/User/"+u.ID, upstream.UserUpdate{GroupIDsToAdd: []string{g.ID}}, 200)

	got, _ := h.srv.User(u.ID)
	*got.Name = "mutated"
	got.GroupIDs[0] = "mutated"
	users := h.srv.Users()
	*users[0].Name = "mutated"
	groups := h.srv.Groups()
	groups[2].Members[0].Name = "mutated"
	*groups[2].Members[0].FirstName = "mutated"
	ids := h.srv.GroupMemberIDs(g.ID)
	ids[0] = "mutated"
	one, _ := h.srv.Group(g.ID)
	one.Members[0].Identifier = "mutated"

	after, _ := h.srv.User(u.ID)
	if *after.Name != "Jo" || slices.Contains(after.GroupIDs, "mutated") {
		t.Errorf("user state aliased: %+v", after)
	}
	ga, _ := h.srv.Group(g.ID)
	if m := ga.Members[0]; m.Name != "jo" || *m.FirstName != "Jo" || m.Identifier != u.ID || h.srv.GroupMemberIDs(g.ID)[0] != u.ID {
		t.Errorf("group state aliased: %+v", ga)
	}
	if _, ok := h.srv.User(uuid.NewString()); ok {
		t.Error("User of an unknown id reported ok")
	}
	if _, ok := h.srv.Group(uuid.NewString()); ok {
		t.Error("Group of an unknown id reported ok")
	}
	if again := h.srv.SeedGroup("g"); again.ID != g.ID {
		t.Error("SeedGroup is not idempotent by name")
	}
}

// TestDriftHooks: the methods that change UiPath behind the bridge's back
// change what the API then answers, and leave built-in groups alone.
func TestDriftHooks(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	a, b := h.srv.SeedUser(upstream.User{UserName: "a"}), h.srv.SeedUser(upstream.User{UserName: "b"})
	g, gone := h.srv.SeedGroup("One"), h.srv.SeedGroup("Two")
	if !h.srv.SetMember(g.ID, a.ID, true) || !h.srv.SetMember(gone.ID, b.ID, true) || h.srv.SetMember(g.ID, "no-such-user", true) {
		t.Fatal("SetMember on existing ids failed, or on a missing one succeeded")
	}
	if !h.srv.RenameGroup(g.ID, "Uno") || !h.srv.DeleteGroup(gone.ID) || !h.srv.DeleteUser(a.ID) || h.srv.DeleteUser(a.ID) {
		t.Fatal("RenameGroup, DeleteGroup or DeleteUser failed, or a second DeleteUser succeeded")
	}
	for _, bi := range h.srv.Groups() {
		if bi.Type == upstream.GroupTypeBuiltIn && (h.srv.DeleteGroup(bi.ID) || h.srv.RenameGroup(bi.ID, "x")) {
			t.Errorf("built-in group %s deleted or renamed", bi.Name)
		}
	}
	got := decode[upstream.Group](t, h.call(http.MethodGet, "/api/Group/"+pid+"/"+g.ID, nil, 200))
	if got.Name != "Uno" || len(got.Members) != 0 {
		t.Errorf("group after rename and member's deletion: %q with %d members, want Uno with none", got.Name, len(got.Members))
	}
	h.call(http.MethodGet, "/api/Group/"+pid+"/"+gone.ID, nil, 404)
	h.call(http.MethodGet, "/api/User/"+a.ID, nil, 404)
	if u := decode[upstream.User](t, h.call(http.MethodGet, "/api/User/"+b.ID, nil, 200)); slices.Contains(u.GroupIDs, gone.ID) {
		t.Errorf("b still in the deleted group: %v", u.GroupIDs)
	}
	h.srv.SetMember(g.ID, b.ID, true)
	h.srv.SetMember(g.ID, b.ID, false)
	if ids := h.srv.GroupMemberIDs(g.ID); len(ids) != 0 {
		t.Errorf("members %v after add and remove", ids)
	}
}
