package mapping_test

import (
	"reflect"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// TestSharedExternalID: externalId is the client's identifier, not a
// uniqueness key (RFC 7643 §3.1): users and groups may share one, by
// create or by replace, and a filter on it returns every match, in
// creation order.
func TestSharedExternalID(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		t.Parallel()
		e := newEnv(t, envOptions{store: store})
		ctx := t.Context()
		a, err := e.users.Create(ctx, doc(t, userJSON("ajones@corp.example", "Ann", "Jones", "ajones")))
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.users.Create(ctx, doc(t, userJSON("ajones@branch.example", "Alan", "Jones", "ajones")))
		if err != nil {
			t.Fatalf("second user with the same externalId: %v", err)
		}
		c := e.mustUser("carol")
		if _, err := e.users.Replace(ctx, c.ID, doc(t, userJSON("carol@corp.example", "Carol", "Test", "ajones")), ""); err != nil {
			t.Fatalf("replace onto a shared externalId: %v", err)
		}
		list := func(r mapping.Resource, kind scimdoc.Kind, filter string) []string {
			t.Helper()
			f, err := scimdoc.CompileFilter(kind, filter)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.List(ctx, mapping.ListRequest{Filter: f, Count: 100})
			if err != nil {
				t.Fatalf("List %s: %v", filter, err)
			}
			if res.Total != len(res.Items) {
				t.Errorf("List %s: total %d, %d items", filter, res.Total, len(res.Items))
			}
			return idsOfItems(res.Items)
		}
		if got, want := list(e.users, scimdoc.KindUser, `externalId eq "ajones"`), []string{a.ID, b.ID, c.ID}; !reflect.DeepEqual(got, want) {
			t.Errorf("users by externalId = %v, want %v", got, want)
		}
		if got, want := list(e.users, scimdoc.KindUser, `externalId eq "ajones" and name.givenName eq "Alan"`), []string{b.ID}; !reflect.DeepEqual(got, want) {
			t.Errorf("users by externalId and name = %v, want %v", got, want)
		}
		// Groups follow the same rule.
		g1, err := e.groups.Create(ctx, doc(t, `{"displayName":"Engineers","externalId":"eng"}`))
		if err != nil {
			t.Fatal(err)
		}
		g2, err := e.groups.Create(ctx, doc(t, `{"displayName":"Engineers (EU)","externalId":"eng"}`))
		if err != nil {
			t.Fatalf("second group with the same externalId: %v", err)
		}
		if got, want := list(e.groups, scimdoc.KindGroup, `externalId eq "eng"`), []string{g1.ID, g2.ID}; !reflect.DeepEqual(got, want) {
			t.Errorf("groups by externalId = %v, want %v", got, want)
		}
		// userName and displayName stay unique.
		if _, err := e.users.Create(ctx, doc(t, userJSON("AJONES@corp.example", "Ann", "Jones", "other"))); codeOf(err) != "conflict" {
			t.Errorf("duplicate userName: %v, want conflict", err)
		}
		if _, err := e.groups.Create(ctx, doc(t, `{"displayName":"engineers","externalId":"x"}`)); codeOf(err) != "conflict" {
			t.Errorf("duplicate displayName: %v, want conflict", err)
		}
	})
}

// TestReactivationNeedsUserName: a create carrying a deactivated user's
// externalId under another userName is a new user; the deactivated one
// stays as it was. The same userName reactivates it.
func TestReactivationNeedsUserName(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		t.Parallel()
		e := newEnv(t, envOptions{store: store})
		ctx := t.Context()
		ada := e.mustUser("ada")
		if _, err := e.users.Patch(ctx, ada.ID, ops(t, patchBody(`[{"op":"replace","value":{"active":false}}]`)), ""); err != nil {
			t.Fatalf("deactivate: %v", err)
		}
		other, err := e.users.Create(ctx, doc(t, userJSON("ada.new@corp.example", "Ada", "New", "ext-ada")))
		if err != nil {
			t.Fatalf("create with the deactivated user's externalId: %v", err)
		}
		if other.ID == ada.ID {
			t.Fatal("the create took over the deactivated user")
		}
		if u := e.upUser(other.ID); !u.IsActive || u.UserName != "ada.new@corp.example" {
			t.Errorf("new UiPath account = %+v", u)
		}
		if u := e.upUser(ada.ID); u.IsActive {
			t.Error("the deactivated user's account was reactivated")
		}
		again, err := e.users.Create(ctx, doc(t, userJSON("ada@corp.example", "Ada", "Test", "ext-ada")))
		if err != nil || again.ID != ada.ID {
			t.Fatalf("re-POST with the same userName = %s, %v; want reactivation of %s", again.ID, err, ada.ID)
		}
		if u := e.upUser(ada.ID); !u.IsActive {
			t.Error("reactivation left the account inactive")
		}
	})
}
