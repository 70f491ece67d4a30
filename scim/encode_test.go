package scim

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// TestAppendResourceFastEqualsGeneral: the fast path of appendResource
// (stored document copied as is) writes the same resource as the general
// path (decode, render, encode), for users and groups alike.
func TestAppendResourceFastEqualsGeneral(t *testing.T) {
	s := &Server{cfg: Config{}.withDefaults()}
	created := time.Date(2026, 11, 30, 8, 0, 0, 123, time.UTC)
	tests := []struct {
		name     string
		item     mapping.Item
		wantFast bool // the fast path applies
	}{
		{name: "user with extension and named groups", wantFast: true, item: mapping.Item{
			Kind: scimdoc.KindUser, ID: "u1", ExternalID: "ext-1", Version: `W/"3"`, Created: created, Modified: created.Add(time.Hour),
			Doc:    json.RawMessage(`{"userName":"ada@corp.example","externalId":"ext-1","name":{"givenName":"Ada"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"}}`),
			Groups: []mapping.GroupRef{{ID: "g1", Display: "Finance"}, {ID: "g2"}},
		}},
		{name: "user with custom extensions", wantFast: true, item: mapping.Item{
			Kind: scimdoc.KindUser, ID: "u5", Version: `W/"2"`, Created: created, Modified: created,
			Doc: json.RawMessage(`{"urn:ietf:params:scim:schemas:extension:zeta:2.0:User":{"badge":"B-1"},"userName":"cust@corp.example",` +
				`"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"costCenter":"4711","level":3},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"}}`),
			Groups: []mapping.GroupRef{{ID: "g1"}},
		}},
		{name: "inactive user, odd characters, no groups", wantFast: true, item: mapping.Item{
			Kind: scimdoc.KindUser, ID: "u2", Version: `W/"1"`, Created: created, Modified: created,
			Doc: json.RawMessage(`{"userName":"odd@corp.example","active":false,"displayName":"Zoë \"Q\" <b>&amp; \\ \u2028","nickName":"tab\there"}`),
		}},
		{name: "user without a document", wantFast: true, item: mapping.Item{
			Kind: scimdoc.KindUser, ID: "u3", Version: `W/"1"`, Created: created, Modified: created,
		}},
		{name: "group with members", wantFast: true, item: mapping.Item{
			Kind: scimdoc.KindGroup, ID: "g1", ExternalID: "8aa1", Version: `W/"7"`, Created: created, Modified: created,
			Doc: json.RawMessage(`{"displayName":"Finance","externalId":"8aa1"}`), Members: []string{"u1", "u2"},
		}},
		{name: "empty group", wantFast: true, item: mapping.Item{
			Kind: scimdoc.KindGroup, ID: "g2", Version: `W/"1"`, Created: created, Modified: created,
			Doc: json.RawMessage(`{"displayName":"Empty"}`), Members: []string{},
		}},
		{name: "a stored server-owned attribute falls back", item: mapping.Item{
			Kind: scimdoc.KindUser, ID: "u4", Version: `W/"1"`, Created: created, Modified: created,
			Doc: json.RawMessage(`{"userName":"x","meta":{"resourceType":"Nope"}}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &resourceHandler{s: s, rt: tt.item.Kind.ResourceType()}
			fast, ok := h.appendStored(nil, tt.item)
			if ok != tt.wantFast {
				t.Fatalf("fast path taken = %v, want %v", ok, tt.wantFast)
			}
			attrs, err := tt.item.Attrs()
			if err != nil {
				t.Fatal(err)
			}
			general, err := json.Marshal(h.representation(tt.item, attrs))
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.appendResource(nil, tt.item, scimdoc.Projection{})
			if err != nil {
				t.Fatal(err)
			}
			var gotDoc, wantDoc map[string]any
			if err := json.Unmarshal(got, &gotDoc); err != nil {
				t.Fatalf("appendResource wrote invalid JSON: %v: %s", err, got)
			}
			if err := json.Unmarshal(general, &wantDoc); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotDoc, wantDoc) {
				t.Errorf("appendResource:\n%s\ngeneral path:\n%s", got, general)
			}
			if tt.wantFast && string(fast) != string(got) {
				t.Errorf("appendResource did not take the fast path:\n%s\n%s", fast, got)
			}
		})
	}
}

// TestRenderedReferencesAndSchemas: members and groups carry what /Schemas
// says they carry ($ref, type), and "schemas" lists every extension the
// document holds, custom ones included.
func TestRenderedReferencesAndSchemas(t *testing.T) {
	s := &Server{cfg: Config{BaseURL: "https://bridge.example/scim/v2"}.withDefaults()}
	group := mapping.Item{Kind: scimdoc.KindGroup, ID: "g1", Version: `W/"1"`, Doc: json.RawMessage(`{"displayName":"F"}`), Members: []string{"u1"}}
	user := mapping.Item{Kind: scimdoc.KindUser, ID: "u1", Version: `W/"1"`, Groups: []mapping.GroupRef{{ID: "g1", Display: "F"}},
		Doc: json.RawMessage(`{"userName":"a","urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"costCenter":"4711"}}`)}
	for _, tt := range []struct {
		item mapping.Item
		attr string
		want map[string]any
	}{
		{group, "members", map[string]any{"value": "u1", "type": "User", "$ref": "https://bridge.example/scim/v2/Users/u1"}},
		{user, "groups", map[string]any{"value": "g1", "type": "direct", "display": "F", "$ref": "https://bridge.example/scim/v2/Groups/g1"}},
	} {
		for _, proj := range []scimdoc.Projection{{}, scimdoc.NewProjection(tt.item.Kind, nil, []string{"displayName"})} {
			h := &resourceHandler{s: s, rt: tt.item.Kind.ResourceType()}
			b, err := h.appendResource(nil, tt.item, proj)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			list, _ := got[tt.attr].([]any)
			if len(list) != 1 || !reflect.DeepEqual(list[0], tt.want) {
				t.Errorf("%s %s = %v, want [%v]", tt.item.Kind, tt.attr, got[tt.attr], tt.want)
			}
			if tt.item.Kind == scimdoc.KindUser {
				want := []any{scimdoc.UserSchemaURN, "urn:ietf:params:scim:schemas:extension:acme:2.0:User"}
				if !reflect.DeepEqual(got["schemas"], want) {
					t.Errorf("schemas = %v, want %v", got["schemas"], want)
				}
			}
		}
	}
}
