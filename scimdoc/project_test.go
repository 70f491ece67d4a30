package scimdoc

import (
	"reflect"
	"testing"
)

const coreUserURN = "urn:ietf:params:scim:schemas:core:2.0:User"

// fullUser is a rendered user as the list and get handlers build it.
func fullUser() map[string]any {
	return map[string]any{
		"id":          "2819c223",
		"schemas":     []any{coreUserURN, EnterpriseUserSchemaURN},
		"externalId":  "00u1",
		"userName":    "bjensen@example.com",
		"displayName": "Babs Jensen",
		"active":      true,
		"name":        map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails":      []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		"meta":        map[string]any{"resourceType": "User", "version": `W/"3"`},
		EnterpriseUserSchemaURN: map[string]any{
			"department":     "R&D",
			"employeeNumber": "701984",
			"manager":        map[string]any{"value": "26118915", "displayName": "John Smith"},
		},
	}
}

func TestProjectionApply(t *testing.T) {
	full := fullUser()
	ent := EnterpriseUserSchemaURN
	keep := func(attrs ...string) map[string]any { // id, schemas and attrs of full
		out := map[string]any{"id": full["id"], "schemas": full["schemas"]}
		for _, a := range attrs {
			out[a] = full[a]
		}
		return out
	}
	drop := func(attrs ...string) map[string]any {
		out := fullUser()
		for _, a := range attrs {
			delete(out, a)
		}
		return out
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	tests := []struct {
		name             string
		include, exclude []string
		want             map[string]any
	}{
		{name: "no projection", want: fullUser()},
		{name: "one attribute", include: []string{"userName"}, want: keep("userName")},
		{name: "several attributes", include: []string{"userName", "active", "emails"}, want: keep("userName", "active", "emails")},
		{name: "names are case-insensitive", include: []string{"USERNAME", "DisplayName"}, want: keep("userName", "displayName")},
		{name: "unknown attribute", include: []string{"nickName"}, want: keep()},
		{name: "id and schemas asked for", include: []string{"id", "schemas"}, want: keep()},
		{name: "sub-attribute", include: []string{"name.givenName"},
			want: with(keep(), "name", map[string]any{"givenName": "Barbara"})},
		{name: "two sub-attributes of one attribute", include: []string{"name.givenName", "name.familyName"},
			want: with(keep(), "name", map[string]any{"givenName": "Barbara", "familyName": "Jensen"})},
		{name: "sub-attribute name is case-insensitive", include: []string{"Name.GivenName"},
			want: with(keep(), "name", map[string]any{"givenName": "Barbara"})},
		{name: "core URN prefix", include: []string{coreUserURN + ":userName"}, want: keep("userName")},
		{name: "core URN prefix with sub-attribute", include: []string{coreUserURN + ":name.familyName"},
			want: with(keep(), "name", map[string]any{"familyName": "Jensen"})},
		{name: "enterprise attribute", include: []string{ent + ":department"},
			want: with(keep(), ent, map[string]any{"department": "R&D"})},
		{name: "enterprise attributes, URN in another case", include: []string{ent + ":department", "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeeNumber"},
			want: with(keep(), ent, map[string]any{"department": "R&D", "employeeNumber": "701984"})},
		{name: "enterprise complex attribute", include: []string{ent + ":manager"},
			want: with(keep(), ent, map[string]any{"manager": full[ent].(map[string]any)["manager"]})},

		{name: "sub-attribute of a multi-valued attribute", include: []string{"emails.value"},
			want: with(keep(), "emails", subOf(full["emails"], "value"))},
		{name: "two sub-attributes of a multi-valued attribute", include: []string{"emails.value", "emails.type"},
			want: with(keep(), "emails", subOf(full["emails"], "value", "type"))},
		{name: "enterprise sub-attribute", include: []string{ent + ":manager.value"},
			want: with(keep(), ent, map[string]any{"manager": map[string]any{"value": full[ent].(map[string]any)["manager"].(map[string]any)["value"]}})},
		{name: "whole enterprise extension", include: []string{ent}, want: keep(ent)},
		{name: "exclude a sub-attribute of every entry", exclude: []string{"emails.primary"},
			want: with(drop(), "emails", subOf(full["emails"], "value", "type", "display"))},
		{name: "exclude the whole extension", exclude: []string{ent}, want: drop(ent)},
		{name: "exclude attributes", exclude: []string{"emails", "meta"}, want: drop("emails", "meta")},
		{name: "exclude is case-insensitive", exclude: []string{"EMAILS"}, want: drop("emails")},
		{name: "id and schemas cannot be excluded", exclude: []string{"id", "schemas", "active"}, want: drop("active")},
		{name: "exclude sub-attribute", exclude: []string{"name.familyName"},
			want: with(drop(), "name", map[string]any{"givenName": "Barbara"})},
		{name: "exclude enterprise attribute", exclude: []string{ent + ":employeeNumber", ent + ":manager"},
			want: with(drop(), ent, map[string]any{"department": "R&D"})},
		{name: "exclude with core URN prefix", exclude: []string{coreUserURN + ":displayName"}, want: drop("displayName")},
		{name: "exclude unknown attribute", exclude: []string{"nickName"}, want: fullUser()},

		{name: "attributes win over excludedAttributes", include: []string{"userName"}, exclude: []string{"userName"}, want: keep("userName")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fullUser()
			got := NewProjection(KindUser, tt.include, tt.exclude).Apply(in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("apply =\n%v\nwant\n%v", got, tt.want)
			}
			if !reflect.DeepEqual(in, fullUser()) {
				t.Errorf("apply changed its input: %v", in)
			}
		})
	}
}

func TestIndexHint(t *testing.T) {
	tests := []struct {
		name                string
		kind                Kind
		filter              string
		wantAttr, wantValue string
		wantInvalid         bool // CompileFilter refuses it, so no hint is needed
	}{
		{name: "userName eq", kind: KindUser, filter: `userName eq "bjensen@example.com"`, wantAttr: "userName", wantValue: "bjensen@example.com"},
		{name: "attribute name in another case", kind: KindUser, filter: `USERNAME eq "b"`, wantAttr: "USERNAME", wantValue: "b"},
		{name: "externalId eq", kind: KindUser, filter: `externalId eq "00u1"`, wantAttr: "externalId", wantValue: "00u1"},
		{name: "id eq", kind: KindUser, filter: `id eq "2819c223"`, wantAttr: "id", wantValue: "2819c223"},
		{name: "group displayName eq", kind: KindGroup, filter: `displayName eq "Admins"`, wantAttr: "displayName", wantValue: "Admins"},
		{name: "group externalId eq", kind: KindGroup, filter: `externalId eq "00g1"`, wantAttr: "externalId", wantValue: "00g1"},
		{name: "core URN prefix", kind: KindUser, filter: `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "b"`, wantAttr: "userName", wantValue: "b"},
		{name: "and with indexed left side", kind: KindUser, filter: `userName eq "b" and active eq true`, wantAttr: "userName", wantValue: "b"},
		{name: "and with indexed right side", kind: KindUser, filter: `active eq true and externalId eq "00u1"`, wantAttr: "externalId", wantValue: "00u1"},
		{name: "nested and", kind: KindUser, filter: `active eq true and (title pr and id eq "x")`, wantAttr: "id", wantValue: "x"},

		{name: "or", kind: KindUser, filter: `userName eq "a" or userName eq "b"`},
		{name: "and containing an or", kind: KindUser, filter: `active eq true and (userName eq "a" or title pr)`},
		{name: "ne", kind: KindUser, filter: `userName ne "a"`},
		{name: "co", kind: KindUser, filter: `userName co "a"`},
		{name: "sw", kind: KindUser, filter: `userName sw "a"`},
		{name: "pr", kind: KindUser, filter: `userName pr`},
		{name: "not", kind: KindUser, filter: `not (userName eq "a")`},
		{name: "sub-attribute", kind: KindUser, filter: `name.givenName eq "Barbara"`},
		{name: "value path", kind: KindUser, filter: `emails[value eq "a@example.com"]`},
		{name: "unindexed attribute", kind: KindUser, filter: `displayName eq "Babs"`},
		{name: "userName is not a group attribute", kind: KindGroup, filter: `userName eq "a"`, wantInvalid: true},
		{name: "non-string value", kind: KindUser, filter: `id eq 42`},
		{name: "enterprise attribute", kind: KindUser, filter: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`},
		{name: "another schema's URN", kind: KindGroup, filter: `urn:ietf:params:scim:schemas:core:2.0:User:id eq "x"`, wantInvalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := CompileFilter(tt.kind, tt.filter)
			switch {
			case tt.wantInvalid && err == nil:
				t.Errorf("CompileFilter(%q) accepted it", tt.filter)
			case !tt.wantInvalid && err != nil:
				t.Fatalf("CompileFilter(%q): %v", tt.filter, err)
			case err == nil:
				if attr, value := f.IndexHint(); attr != tt.wantAttr || value != tt.wantValue {
					t.Errorf("CompileFilter(%s).IndexHint() = %q, %q; want %q, %q", tt.filter, attr, value, tt.wantAttr, tt.wantValue)
				}
			}
		})
	}
}

// subOf keeps only the named sub-attributes of each entry of a
// multi-valued attribute.
func subOf(v any, subs ...string) []any {
	var out []any
	for _, e := range v.([]any) {
		entry := map[string]any{}
		for _, s := range subs {
			if sv, ok := e.(map[string]any)[s]; ok {
				entry[s] = sv
			}
		}
		out = append(out, entry)
	}
	return out
}
