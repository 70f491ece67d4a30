package upstream_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/upstream"
)

func ptr[T any](v T) *T { return &v }

func TestUserCRUD(t *testing.T) {
	e := newEnv(t, envOption{})
	ctx := t.Context()
	grp := e.emu.SeedGroup("Gryffindors")

	id := newGUID()
	created, err := e.c.CreateUser(ctx, upstream.NewUser{
		ID: id, UserName: "Hermione@Example.com", Email: "hermione@example.com",
		Name: "Hermione", Surname: "Granger", DisplayName: "Hermione Granger", Type: "User",
	}, []string{grp.ID})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if created.ID != id || created.UserName != "Hermione@Example.com" || !created.IsActive ||
		created.Type != upstream.UserTypeUser || !slices.Contains(created.GroupIDs, grp.ID) {
		t.Errorf("created = %+v", created)
	}
	if got := e.emu.GroupMemberIDs(grp.ID); !slices.Contains(got, id) {
		t.Errorf("group members = %v, want %s among them", got, id)
	}

	got, err := e.c.GetUser(ctx, id)
	if err != nil || got.ID != id || got.Name == nil || *got.Name != "Hermione" {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}

	page, err := e.c.SearchUsers(ctx, "granger", 10, 0)
	if err != nil || page.TotalCount != 1 || len(page.Results) != 1 || page.Results[0].ID != id {
		t.Fatalf("SearchUsers = %+v, %v", page, err)
	}

	err = e.c.UpdateUser(ctx, id, upstream.UserUpdate{
		DisplayName: ptr("H. Granger"), IsActive: ptr(false), GroupIDsToRemove: []string{grp.ID},
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	stored, _ := e.emu.User(id)
	if stored.IsActive || stored.DisplayName == nil || *stored.DisplayName != "H. Granger" ||
		*stored.Name != "Hermione" || slices.Contains(stored.GroupIDs, grp.ID) {
		t.Errorf("after update: %+v", stored)
	}

	if err := e.c.DeleteUser(ctx, id); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, ok := e.emu.User(id); ok {
		t.Error("user still exists after DeleteUser")
	}
	_, err = e.c.GetUser(ctx, id)
	if !errors.Is(err, upstream.ErrNotFound) {
		t.Fatalf("GetUser after delete: %v, want ErrNotFound", err)
	}
	if ue := asError(t, err); ue.StatusCode != http.StatusNotFound || ue.Retryable || ue.Detail != "The entity was not found." {
		t.Errorf("404 error = %+v", ue)
	}
	if err := e.c.DeleteUser(ctx, id); !errors.Is(err, upstream.ErrNotFound) {
		t.Errorf("second DeleteUser: %v, want ErrNotFound", err)
	}
}

func TestCreateUserIdentityErrors(t *testing.T) {
	e := newEnv(t, envOption{})
	e.seedUser("taken@example.com", "taken@example.com")
	tests := []struct {
		name      string
		user      upstream.NewUser
		wantCodes []string
	}{
		{name: "duplicate userName", user: upstream.NewUser{UserName: "TAKEN@example.com"},
			wantCodes: []string{upstream.CodeDuplicateUserName}},
		{name: "duplicate both", user: upstream.NewUser{UserName: "taken@example.com", Email: "taken@example.com"},
			wantCodes: []string{upstream.CodeDuplicateUserName, upstream.CodeDuplicateEmail}},
		{name: "duplicate email", user: upstream.NewUser{UserName: "fresh", Email: "Taken@Example.com"},
			wantCodes: []string{upstream.CodeDuplicateEmail}},
		{name: "invalid userName", user: upstream.NewUser{UserName: "no spaces allowed"},
			wantCodes: []string{upstream.CodeInvalidUserName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.user.ID = newGUID()
			_, err := e.c.CreateUser(t.Context(), tt.user, nil)
			ue := asError(t, err)
			if !slices.Equal(ue.Codes, tt.wantCodes) {
				t.Errorf("Codes = %q, want %q", ue.Codes, tt.wantCodes)
			}
			for _, c := range tt.wantCodes {
				if !ue.HasCode(c) {
					t.Errorf("HasCode(%s) = false", c)
				}
			}
			if ue.Retryable || ue.StatusCode != http.StatusBadRequest || ue.Op != "create user" || ue.Detail == "" {
				t.Errorf("error = %+v", ue)
			}
			if _, ok := e.emu.User(tt.user.ID); ok {
				t.Error("a failed create stored the user")
			}
		})
	}
}

func TestCreateUserRequiresID(t *testing.T) {
	e := newEnv(t, envOption{})
	if _, err := e.c.CreateUser(t.Context(), upstream.NewUser{UserName: "x"}, nil); err == nil {
		t.Fatal("CreateUser without an id succeeded")
	}
	if _, err := e.c.GetUser(t.Context(), ""); err == nil {
		t.Fatal("GetUser with an empty id succeeded")
	}
	if n := len(e.emu.Requests()); n != 0 {
		t.Errorf("invalid calls reached the server (%d requests)", n)
	}
}

func TestUpdateUserIdentityFailure(t *testing.T) {
	e := newEnv(t, envOption{})
	e.seedUser("a@example.com", "a@example.com")
	b := e.seedUser("b@example.com", "b@example.com")
	err := e.c.UpdateUser(t.Context(), b.ID, upstream.UserUpdate{Email: ptr("A@example.com")})
	ue := asError(t, err)
	if !ue.HasCode(upstream.CodeDuplicateEmail) || ue.StatusCode != http.StatusOK || ue.Retryable {
		t.Errorf("error = %+v", ue)
	}
}

func TestUpdateValidationFields(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("a@example.com", "a@example.com")
	err := e.c.UpdateUser(t.Context(), u.ID, upstream.UserUpdate{GroupIDsToAdd: []string{"not-a-guid"}})
	ue := asError(t, err)
	if ue.StatusCode != http.StatusBadRequest || len(ue.Fields) != 1 || !strings.Contains(ue.Fields[0], "groupIDsToAdd") {
		t.Errorf("error = %+v", ue)
	}
	if !strings.Contains(ue.Detail, "One or more validation errors occurred.") {
		t.Errorf("Detail = %q", ue.Detail)
	}
}

func TestFindUser(t *testing.T) {
	e := newEnv(t, envOption{pageSize: 2})
	// Substring matches of the search term come first; the exact match is
	// on the third page.
	for _, n := range []string{"ajo@example.com", "jo@example.com.au", "jo@example.community", "jo@example.company"} {
		e.seedUser(n, n)
	}
	want := e.seedUser("Jo@Example.com", "jo.doe@mail.example.com")
	e.seedUser("unrelated@example.org", "jo.doe@mail.example.com.au")

	got, err := e.c.FindUserByUserName(t.Context(), "jo@example.COM")
	if err != nil || got.ID != want.ID {
		t.Fatalf("FindUserByUserName = %+v, %v; want %s", got, err, want.ID)
	}
	if n := e.calls(http.MethodGet, "/User/users/"); n != 3 {
		t.Errorf("%d search pages read, want 3", n)
	}
	got, err = e.c.FindUserByEmail(t.Context(), "JO.DOE@mail.example.com")
	if err != nil || got.ID != want.ID {
		t.Fatalf("FindUserByEmail = %+v, %v; want %s", got, err, want.ID)
	}
	if _, err := e.c.FindUserByUserName(t.Context(), "jo@example"); !errors.Is(err, upstream.ErrNotFound) {
		t.Errorf("FindUserByUserName(prefix only) = %v, want ErrNotFound", err)
	}
	if _, err := e.c.FindUserByEmail(t.Context(), "nobody@example.com"); !errors.Is(err, upstream.ErrNotFound) {
		t.Errorf("FindUserByEmail(nobody) = %v, want ErrNotFound", err)
	}
}

func TestGroupCRUDAndMembership(t *testing.T) {
	e := newEnv(t, envOption{})
	ctx := t.Context()
	a, b, c := e.createUser("a@example.com"), e.createUser("b@example.com"), e.createUser("c@example.com")

	gid := newGUID()
	g, err := e.c.CreateGroup(ctx, gid, "Gryffindors", []string{a.ID, b.ID})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if g.ID != gid || g.Name != "Gryffindors" || g.Type != upstream.GroupTypeCustom {
		t.Errorf("created = %+v", g)
	}
	if _, err := e.c.CreateGroup(ctx, newGUID(), "gryffindors", nil); !hasCode(err, upstream.CodeDuplicateGroupName) {
		t.Errorf("duplicate name: %v, want %s", err, upstream.CodeDuplicateGroupName)
	}

	groups, err := e.c.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if !slices.Contains(names, "Gryffindors") || !slices.Contains(names, "Everyone") {
		t.Errorf("ListGroups names = %q", names)
	}
	if got, err := e.c.GetGroup(ctx, gid); err != nil || got.Name != "Gryffindors" {
		t.Fatalf("GetGroup = %+v, %v", got, err)
	}
	assertMembers(t, e, gid, a.ID, b.ID)

	// Group side: rename, add c, remove a.
	g, err = e.c.UpdateGroup(ctx, gid, "Lions", []string{c.ID}, []string{a.ID})
	if err != nil || g.Name != "Lions" {
		t.Fatalf("UpdateGroup = %+v, %v", g, err)
	}
	assertMembers(t, e, gid, b.ID, c.ID)
	if u, _ := e.c.GetUser(ctx, c.ID); !slices.Contains(u.GroupIDs, gid) {
		t.Errorf("user c groupIDs = %v, want %s", u.GroupIDs, gid)
	}
	// User side: a joins again, b leaves.
	if err := e.c.UpdateUser(ctx, a.ID, upstream.UserUpdate{GroupIDsToAdd: []string{gid}}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.UpdateUser(ctx, b.ID, upstream.UserUpdate{GroupIDsToRemove: []string{gid}}); err != nil {
		t.Fatal(err)
	}
	assertMembers(t, e, gid, a.ID, c.ID)
	// Membership-only edit with the current name; repeating a delta is harmless.
	for range 2 {
		if _, err := e.c.UpdateGroup(ctx, gid, "Lions", nil, []string{c.ID}); err != nil {
			t.Fatal(err)
		}
	}
	assertMembers(t, e, gid, a.ID)

	if err := e.c.DeleteGroup(ctx, gid); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if _, err := e.c.GetGroup(ctx, gid); !errors.Is(err, upstream.ErrNotFound) {
		t.Errorf("GetGroup after delete: %v, want ErrNotFound", err)
	}
	if _, err := e.c.GroupMembers(ctx, gid); !errors.Is(err, upstream.ErrNotFound) {
		t.Errorf("GroupMembers after delete: %v, want ErrNotFound", err)
	}
	if u, _ := e.c.GetUser(ctx, a.ID); slices.Contains(u.GroupIDs, gid) {
		t.Errorf("deleted group still in user groupIDs %v", u.GroupIDs)
	}
}

func hasCode(err error, code string) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.HasCode(code)
}

func assertMembers(t *testing.T, e *env, gid string, want ...string) {
	t.Helper()
	refs, err := e.c.GroupMembers(t.Context(), gid)
	if err != nil {
		t.Fatalf("GroupMembers: %v", err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.ID)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
}

func TestGroupMembersPaging(t *testing.T) {
	e := newEnv(t, envOption{pageSize: 2})
	var ids []string
	for i := range 5 {
		ids = append(ids, e.createUser(string(rune('a'+i))+"@example.com").ID)
	}
	g := e.emu.SeedGroup("Paged")
	if _, err := e.c.UpdateGroup(t.Context(), g.ID, g.Name, ids, nil); err != nil {
		t.Fatal(err)
	}
	assertMembers(t, e, g.ID, ids...)
	if n := e.calls(http.MethodGet, "/Members"); n != 3 {
		t.Errorf("%d member pages read for 5 members at 2 per page, want 3", n)
	}
	empty := e.emu.SeedGroup("Empty")
	refs, err := e.c.GroupMembers(t.Context(), empty.ID)
	if err != nil || len(refs) != 0 {
		t.Errorf("GroupMembers(empty) = %v, %v", refs, err)
	}
}
