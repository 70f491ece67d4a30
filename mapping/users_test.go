package mapping_test

import (
	"errors"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// upView is what UiPath keeps of a user's profile.
type upView struct {
	UserName, Email, Name, Surname, DisplayName string
	IsActive                                    bool
}

func viewOf(u upstream.User) upView {
	return upView{UserName: u.UserName, Email: u.Email, Name: deref(u.Name), Surname: deref(u.Surname),
		DisplayName: deref(u.DisplayName), IsActive: u.IsActive}
}

func TestUserCreate(t *testing.T) {
	ada := userJSON("ada@corp.example", "Ada", "Lovelace", "okta-ada")
	adaUp := upView{UserName: "ada@corp.example", Email: "ada@corp.example", Name: "Ada", Surname: "Lovelace",
		DisplayName: "Ada Lovelace", IsActive: true}
	inactive := merge(ada, `{"active":false}`)
	tests := []struct {
		name string
		cfg  mapping.Config
		doc  string
		// fault, when set, is injected before the create.
		fault *emulator.Fault
		// want is the UiPath account; nil means none must exist.
		want *upView
		// wantPUT is the body of the one PUT /User expected after the
		// BulkCreate; nil means none.
		wantPUT map[string]any
	}{
		{name: "active user", doc: ada, want: &adaUp},
		{name: "displayName wins over name", doc: merge(ada, `{"displayName":"The Countess"}`),
			want: &upView{UserName: adaUp.UserName, Email: adaUp.Email, Name: "Ada", Surname: "Lovelace", DisplayName: "The Countess", IsActive: true}},
		{name: "work email when none is primary",
			doc:  merge(ada, `{"emails":[{"value":"ada@home.example","type":"home"},{"value":"lovelace@corp.example","type":"work"}]}`),
			want: &upView{UserName: adaUp.UserName, Email: "lovelace@corp.example", Name: "Ada", Surname: "Lovelace", DisplayName: "Ada Lovelace", IsActive: true}},
		{name: "inactive user is created then disabled", doc: inactive,
			want:    &upView{UserName: adaUp.UserName, Email: adaUp.Email, Name: "Ada", Surname: "Lovelace", DisplayName: "Ada Lovelace"},
			wantPUT: map[string]any{"isActive": false}},
		{name: "inactive user under the delete policy has no account", cfg: mapping.Config{Deprovision: mapping.DeprovisionDelete},
			doc: inactive},
		{name: "BulkCreate answer lost after the account was made", doc: inactive,
			fault:   &emulator.Fault{Method: http.MethodPost, PathContains: "BulkCreate", Status: 502, AfterApply: true},
			want:    &upView{UserName: adaUp.UserName, Email: adaUp.Email, Name: "Ada", Surname: "Lovelace", DisplayName: "Ada Lovelace"},
			wantPUT: map[string]any{"isActive": false}},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: tt.cfg})
				if tt.fault != nil {
					e.emu.Inject(*tt.fault)
				}
				it, err := e.users.Create(t.Context(), doc(t, tt.doc))
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if it.Kind != scimdoc.KindUser || it.ID == "" || it.ExternalID != "okta-ada" || it.Version != scimdoc.ETag(1) {
					t.Errorf("item kind %v id %q externalId %q version %q", it.Kind, it.ID, it.ExternalID, it.Version)
				}
				wantAttrs := doc(t, tt.doc)
				delete(wantAttrs, "schemas")
				if got := attrsOf(t, it); !reflect.DeepEqual(got, wantAttrs) {
					t.Errorf("item attrs\n got %v\nwant %v", got, wantAttrs)
				}

				rec, ok := e.record(cache.KindUser, it.ID)
				if !ok || rec.Name != "ada@corp.example" || rec.ExternalID != "okta-ada" || rec.Deprovisioned != (tt.want == nil) {
					t.Errorf("store record %+v (found %v)", rec, ok)
				}

				u, exists := e.emu.User(it.ID)
				switch {
				case tt.want == nil && exists:
					t.Errorf("UiPath has an account %+v, want none", u)
				case tt.want == nil:
					if n := e.writes(); n != 0 {
						t.Errorf("%d UiPath writes, want none", n)
					}
				case !exists:
					t.Fatalf("UiPath has no account with the SCIM id %s", it.ID)
				default:
					if got := viewOf(u); got != *tt.want {
						t.Errorf("UiPath account\n got %+v\nwant %+v", got, *tt.want)
					}
					bulk := e.wire.sent(http.MethodPost, "/User/BulkCreate")
					if len(bulk) != 1 {
						t.Fatalf("%d BulkCreate calls, want 1", len(bulk))
					}
					entries, _ := bulk[0].Body["users"].([]any)
					if len(entries) != 1 || entries[0].(map[string]any)["id"] != it.ID {
						t.Errorf("BulkCreate did not carry the client-generated id %s: %v", it.ID, bulk[0].Body)
					}
					puts := e.wire.sent(http.MethodPut, "/User/")
					switch {
					case tt.wantPUT == nil && len(puts) != 0:
						t.Errorf("unexpected PUT /User calls %v", puts)
					case tt.wantPUT != nil && (len(puts) != 1 || !reflect.DeepEqual(puts[0].Body, tt.wantPUT)):
						t.Errorf("PUT /User calls %v, want one with %v", puts, tt.wantPUT)
					}
				}
			})
		}
	})
}

func TestUserCreateRefused(t *testing.T) {
	tests := []struct {
		name    string
		adopt   bool
		setup   func(e *env)
		doc     string
		wantErr string
		// wantScimType, when set, is the error's scimType.
		wantScimType string
	}{
		{name: "duplicate userName, another case", setup: func(e *env) { e.mustUser("ada") },
			doc: userJSON("ADA@corp.example", "Ada", "L", "other-ext"), wantErr: "conflict", wantScimType: scimdoc.ScimTypeUniqueness},
		{name: "no userName", doc: `{"name":{"givenName":"Ada"},"active":true}`, wantErr: "invalid", wantScimType: scimdoc.ScimTypeInvalidValue},
		{name: "active is not a boolean", doc: `{"userName":"ada@corp.example","active":"maybe"}`, wantErr: "invalid", wantScimType: scimdoc.ScimTypeInvalidValue},
		{name: "userName UiPath refuses", doc: userJSON("ada lovelace", "Ada", "L", "x"), wantErr: "invalid", wantScimType: scimdoc.ScimTypeInvalidValue},
		{name: "existing UiPath account, adoption off",
			setup: func(e *env) {
				e.emu.SeedUser(upstream.User{UserName: "ada@corp.example", Email: "ada@corp.example", IsActive: true})
			},
			doc: userJSON("ada@corp.example", "Ada", "L", "x"), wantErr: "conflict", wantScimType: scimdoc.ScimTypeUniqueness},
		{name: "email of an account another SCIM user owns", adopt: true, setup: func(e *env) { e.mustUser("ada") },
			doc:     `{"userName":"lovelace@corp.example","emails":[{"value":"ada@corp.example","primary":true}]}`,
			wantErr: "conflict", wantScimType: scimdoc.ScimTypeUniqueness},
		{name: "email of an unmanaged account under another login", adopt: true,
			setup: func(e *env) {
				// An administrator's own account, which happens to carry
				// the address: adopting it would merge two people.
				e.emu.SeedUser(upstream.User{UserName: "it-admin", Email: "ada@corp.example", IsActive: true})
			},
			doc: userJSON("ada@corp.example", "Ada", "L", "x"), wantErr: "conflict", wantScimType: scimdoc.ScimTypeUniqueness},
		{name: "UiPath unavailable",
			setup: func(e *env) {
				e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "BulkCreate", Status: 503})
			},
			doc:     userJSON("ada@corp.example", "Ada", "L", "x"),
			wantErr: "unavailable"},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{AdoptExisting: tt.adopt}})
				if tt.setup != nil {
					tt.setup(e)
				}
				usersBefore := e.emu.Users()
				storeBefore, err := e.users.List(t.Context(), mapping.ListRequest{Count: 100})
				if err != nil {
					t.Fatal(err)
				}

				it, err := e.users.Create(t.Context(), doc(t, tt.doc))
				if got := codeOf(err); got != tt.wantErr {
					t.Fatalf("Create: error %v (code %q), want code %q; item %+v", err, got, tt.wantErr, it)
				}
				if merr := asError(t, err); tt.wantScimType != "" && merr.ScimType != tt.wantScimType {
					t.Errorf("scimType %q, want %q", merr.ScimType, tt.wantScimType)
				}
				if !reflect.DeepEqual(e.emu.Users(), usersBefore) {
					t.Errorf("UiPath users changed:\n got %+v\nwant %+v", e.emu.Users(), usersBefore)
				}
				storeAfter, err := e.users.List(t.Context(), mapping.ListRequest{Count: 100})
				if err != nil {
					t.Fatal(err)
				}
				if storeAfter.Total != storeBefore.Total {
					t.Errorf("store holds %d users, want %d", storeAfter.Total, storeBefore.Total)
				}
			})
		}
	})
}

func TestUserAdopt(t *testing.T) {
	ada := userJSON("ada@corp.example", "Ada", "Lovelace", "okta-ada")
	adaUp := upView{UserName: "ada@corp.example", Email: "ada@corp.example", Name: "Ada", Surname: "Lovelace", DisplayName: "Ada Lovelace", IsActive: true}
	tests := []struct {
		name    string
		doc     string // the SCIM create; "" is ada's
		seed    upstream.User
		want    upView
		wantPUT map[string]any // nil: the account needed no update
	}{
		{name: "same userName, stale profile",
			seed:    upstream.User{UserName: "ada@corp.example", Email: "ada@corp.example", Name: ptr("Old"), Surname: ptr("Lovelace"), DisplayName: ptr("Old Lovelace")},
			want:    adaUp,
			wantPUT: map[string]any{"name": "Ada", "displayName": "Ada Lovelace", "isActive": true}},
		{name: "same email, which is also the account's userName",
			doc:     `{"userName":"alovelace","externalId":"okta-ada","name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"value":"ada@corp.example","primary":true}],"active":true}`,
			seed:    upstream.User{UserName: "ADA@corp.example", Email: "ada@corp.example", Name: ptr("Ada"), Surname: ptr("Lovelace"), DisplayName: ptr("Ada Lovelace"), IsActive: true},
			want:    upView{UserName: "ADA@corp.example", Email: "ada@corp.example", Name: "Ada", Surname: "Lovelace", DisplayName: "Ada Lovelace", IsActive: true},
			wantPUT: nil},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{AdoptExisting: true}})
				seeded := e.emu.SeedUser(tt.seed)
				create := ada
				if tt.doc != "" {
					create = tt.doc
				}
				it, err := e.users.Create(t.Context(), doc(t, create))
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if it.ID != seeded.ID {
					t.Errorf("item id %s, want the existing account's id %s", it.ID, seeded.ID)
				}
				if n := len(e.emu.Users()); n != 1 {
					t.Errorf("UiPath has %d users, want the one adopted", n)
				}
				if got := viewOf(e.upUser(seeded.ID)); got != tt.want {
					t.Errorf("UiPath account\n got %+v\nwant %+v", got, tt.want)
				}
				puts := e.wire.sent(http.MethodPut, "/User/")
				switch {
				case tt.wantPUT == nil && len(puts) != 0:
					t.Errorf("unexpected PUT /User calls %v", puts)
				case tt.wantPUT != nil && (len(puts) != 1 || !reflect.DeepEqual(puts[0].Body, tt.wantPUT)):
					t.Errorf("PUT /User calls %v, want one with %v", puts, tt.wantPUT)
				}
				if rec, ok := e.record(cache.KindUser, seeded.ID); !ok || (rec.Name != "ada@corp.example" && rec.Name != "alovelace") {
					t.Errorf("store record %+v (found %v)", rec, ok)
				}
				// A second SCIM user cannot take the same account.
				_, err = e.users.Create(t.Context(), doc(t, `{"userName":"ada.second@corp.example","emails":[{"value":"ada@corp.example"}]}`))
				if got := codeOf(err); got != "conflict" {
					t.Errorf("second adoption of the account: error %v, want conflict", err)
				}
			})
		}
	})
}

// TestUserReactivateByCreate: Okta re-assigns a deactivated user by POSTing
// it again with the same externalId; that reactivates the same resource.
func TestUserReactivateByCreate(t *testing.T) {
	tests := []struct {
		name        string
		deprovision string
		wantCreates int // BulkCreate calls in all
	}{
		{name: "disable policy", deprovision: mapping.DeprovisionDisable, wantCreates: 1},
		{name: "delete policy recreates the account", deprovision: mapping.DeprovisionDelete, wantCreates: 2},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{Deprovision: tt.deprovision}})
				ada := e.mustUser("ada")
				g := e.mustGroup("Engineers", ada.ID)
				if _, err := e.users.Patch(t.Context(), ada.ID, ops(t, patchBody(`[{"op":"replace","value":{"active":false}}]`)), ""); err != nil {
					t.Fatalf("deactivate: %v", err)
				}
				again, err := e.users.Create(t.Context(), doc(t, userJSON("ada@corp.example", "Ada", "Test", "ext-ada")))
				if err != nil {
					t.Fatalf("re-POST: %v", err)
				}
				if again.ID != ada.ID || again.Version != scimdoc.ETag(3) {
					t.Errorf("re-POST answered id %s version %s, want the same resource %s at version 3", again.ID, again.Version, ada.ID)
				}
				if a := attrsOf(t, again); a["active"] != true {
					t.Errorf("re-POST item active = %v", a["active"])
				}
				if len(again.Groups) != 1 || again.Groups[0] != (mapping.GroupRef{ID: g.ID, Display: "Engineers"}) {
					t.Errorf("re-POST item groups %+v, want Engineers", again.Groups)
				}
				if u := e.upUser(ada.ID); !u.IsActive {
					t.Error("UiPath account is still inactive")
				}
				if got := e.emu.GroupMemberIDs(g.ID); !reflect.DeepEqual(got, []string{ada.ID}) {
					t.Errorf("UiPath group members %v, want %v", got, []string{ada.ID})
				}
				if n := e.calls(http.MethodPost, "/User/BulkCreate"); n != tt.wantCreates {
					t.Errorf("%d BulkCreate calls, want %d", n, tt.wantCreates)
				}
				if rec, _ := e.record(cache.KindUser, ada.ID); rec.Deprovisioned {
					t.Error("store still marks the user deprovisioned")
				}
				page, err := e.users.List(t.Context(), mapping.ListRequest{Count: 10})
				if err != nil || page.Total != 1 {
					t.Errorf("store holds %d users (%v), want 1", page.Total, err)
				}
			})
		}
	})
}

// TestNewRejectsUnknownPolicies: a misspelt strategy or deprovisioning
// policy stops the bridge at start rather than acting as the default.
func TestNewRejectsUnknownPolicies(t *testing.T) {
	tests := []struct {
		name    string
		cfg     mapping.Config
		wantErr bool
	}{
		{name: "defaults", cfg: mapping.Config{}},
		{name: "every known value", cfg: mapping.Config{Strategy: mapping.StrategyAuto, Deprovision: mapping.DeprovisionDelete}},
		{name: "unknown strategy", cfg: mapping.Config{Strategy: "users"}, wantErr: true},
		{name: "unknown deprovision policy", cfg: mapping.Config{Deprovision: "suspend"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mapping.New(tt.cfg, nil, envtest.New(t, envtest.Config{Quiet: true}).Store, nil)
			if (err != nil) != tt.wantErr || (p == nil) != tt.wantErr {
				t.Errorf("New = %v, %v; want error %v", p, err, tt.wantErr)
			}
			if p != nil && (p.Users().Kind() != scimdoc.KindUser || p.Groups().Kind() != scimdoc.KindGroup) {
				t.Error("Users and Groups serve the wrong kinds")
			}
		})
	}
}

// TestUnknownID: every verb on an id the store does not hold is "not
// found" and calls nobody.
func TestUnknownID(t *testing.T) {
	const id = "6f1c2a8e-0000-4000-8000-000000000000"
	verbs := []struct {
		name string
		call func(e *env, r mapping.Resource) error
	}{
		{"get", func(e *env, r mapping.Resource) error { _, err := r.Get(e.t.Context(), id); return err }},
		{"replace", func(e *env, r mapping.Resource) error {
			_, err := r.Replace(e.t.Context(), id, doc(e.t, `{"userName":"x@corp.example","displayName":"x"}`), "")
			return err
		}},
		{"patch", func(e *env, r mapping.Resource) error {
			_, err := r.Patch(e.t.Context(), id, ops(e.t, patchBody(`[{"op":"replace","path":"displayName","value":"y"}]`)), "")
			return err
		}},
		{"delete", func(e *env, r mapping.Resource) error { return r.Delete(e.t.Context(), id, "") }},
	}
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, kind := range []string{"users", "groups"} {
			for _, v := range verbs {
				t.Run(kind+"/"+v.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, envOptions{store: store})
					r := e.users
					if kind == "groups" {
						r = e.groups
					}
					err := v.call(e, r)
					if got := codeOf(err); got != "not found" {
						t.Fatalf("error %v, want not found", err)
					}
					if !errors.Is(err, mapping.ErrNotFound) {
						t.Errorf("error %v does not wrap mapping.ErrNotFound", err)
					}
					if n := e.writes(); n != 0 {
						t.Errorf("%d UiPath writes, want none", n)
					}
				})
			}
		}
	})
}

// TestEmailCollisionLinksAtMostOne: two SCIM users whose email collides
// with one existing UiPath account, created at once. When the account's
// userName is that email, exactly one of them is linked to it (the other
// gets 409), and the account is changed by that one only; when its
// userName is another login, neither is (two 409s, the account untouched).
func TestEmailCollisionLinksAtMostOne(t *testing.T) {
	for _, login := range []string{"shared@corp.example", "it-admin"} {
		t.Run(login, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, store envtest.Store) {
				e := newEnv(t, envOptions{store: store, cfg: mapping.Config{AdoptExisting: true}})
				seeded := e.emu.SeedUser(upstream.User{UserName: login, Email: "shared@corp.example", Name: ptr("Old"), IsActive: true})
				var wg sync.WaitGroup
				errs := make([]error, 2)
				ids := make([]string, 2)
				for i, name := range []string{"alice.w", "bob.w"} {
					wg.Go(func() {
						it, err := e.users.Create(t.Context(), doc(t, `{"userName":"`+name+`","name":{"givenName":"`+name+`"},"emails":[{"value":"shared@corp.example","primary":true}]}`))
						errs[i], ids[i] = err, it.ID
					})
				}
				wg.Wait()
				linked := 0
				for i, err := range errs {
					switch {
					case err == nil && ids[i] == seeded.ID:
						linked++
					case err == nil:
						t.Errorf("create %d made %s, neither the account nor a refusal", i, ids[i])
					case codeOf(err) != "conflict":
						t.Errorf("create %d: %v, want conflict", i, err)
					}
				}
				want := 1
				if login != "shared@corp.example" {
					want = 0
				}
				if linked != want {
					t.Fatalf("%d SCIM users linked to the account, want %d (errors %v)", linked, want, errs)
				}
				if n := len(e.emu.Users()); n != 1 {
					t.Errorf("UiPath has %d accounts, want the one", n)
				}
				got := deref(e.upUser(seeded.ID).Name)
				switch {
				case want == 0 && got != "Old":
					t.Errorf("account name %q, want it untouched", got)
				case want == 1 && got != "alice.w" && got != "bob.w":
					t.Errorf("account name %q, want the linked user's", got)
				}
				page, err := e.users.List(t.Context(), mapping.ListRequest{Count: 10})
				if err != nil || page.Total != want {
					t.Errorf("store holds %d users (%v), want %d", page.Total, err, want)
				}
			})
		})
	}
}
