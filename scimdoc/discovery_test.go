package scimdoc

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// renderedSchemas returns SchemaResources through a JSON round trip, as a
// client reads it, keyed by schema id.
func renderedSchemas(t *testing.T, baseURL string) map[string]map[string]any {
	t.Helper()
	b, err := json.Marshal(SchemaResources(baseURL))
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, s := range list {
		out[s["id"].(string)] = s
	}
	return out
}

// renderedAttr finds an attribute (and a sub-attribute, if sub is not
// empty) in a rendered schema.
func renderedAttr(schema map[string]any, name, sub string) map[string]any {
	find := func(list any, name string) map[string]any {
		l, _ := list.([]any)
		for _, e := range l {
			if m, _ := e.(map[string]any); m["name"] == name {
				return m
			}
		}
		return nil
	}
	a := find(schema["attributes"], name)
	if a == nil || sub == "" {
		return a
	}
	return find(a["subAttributes"], sub)
}

func TestSchemaResources(t *testing.T) {
	schemas := renderedSchemas(t, "https://scim.example/scim/v2/")
	if len(schemas) != 3 {
		t.Fatalf("got %d schemas, want User, EnterpriseUser and Group", len(schemas))
	}
	user, group, ent := schemas[UserSchemaURN], schemas[GroupSchemaURN], schemas[EnterpriseUserSchemaURN]
	for _, tc := range []struct {
		name   string
		schema map[string]any
		attr   string
		sub    string
		want   map[string]any // the keys to check
	}{
		{name: "userName", schema: user, attr: "userName", want: map[string]any{
			"type": "string", "multiValued": false, "required": true, "caseExact": false,
			"mutability": "readWrite", "returned": "default", "uniqueness": "server",
		}},
		{name: "password", schema: user, attr: "password", want: map[string]any{
			"type": "string", "required": false, "mutability": "writeOnly", "returned": "never",
		}},
		{name: "id", schema: user, attr: "id", want: map[string]any{
			"caseExact": true, "mutability": "readOnly", "returned": "always", "uniqueness": "server",
		}},
		{name: "externalId", schema: user, attr: "externalId", want: map[string]any{"caseExact": true, "mutability": "readWrite"}},
		{name: "groups", schema: user, attr: "groups", want: map[string]any{
			"type": "complex", "multiValued": true, "mutability": "readOnly", "returned": "default",
		}},
		{name: "groups.$ref", schema: user, attr: "groups", sub: "$ref", want: map[string]any{
			"type": "reference", "mutability": "readOnly", "referenceTypes": []any{"User", "Group"},
		}},
		{name: "emails.type", schema: user, attr: "emails", sub: "type", want: map[string]any{
			"canonicalValues": []any{"work", "home", "other"}, "mutability": "readWrite",
		}},
		{name: "active", schema: user, attr: "active", want: map[string]any{"type": "boolean", "mutability": "readWrite"}},
		{name: "x509Certificates.value", schema: user, attr: "x509Certificates", sub: "value", want: map[string]any{"type": "binary"}},
		{name: "meta.created", schema: user, attr: "meta", sub: "created", want: map[string]any{"type": "dateTime", "mutability": "readOnly"}},
		{name: "manager.displayName", schema: ent, attr: "manager", sub: "displayName", want: map[string]any{"mutability": "readOnly"}},
		{name: "manager.$ref", schema: ent, attr: "manager", sub: "$ref", want: map[string]any{"referenceTypes": []any{"User"}}},
		{name: "group displayName", schema: group, attr: "displayName", want: map[string]any{
			"required": true, "mutability": "readWrite", "uniqueness": "server",
		}},
		{name: "members", schema: group, attr: "members", want: map[string]any{
			"type": "complex", "multiValued": true, "required": false, "mutability": "readWrite",
		}},
		{name: "members.value", schema: group, attr: "members", sub: "value", want: map[string]any{
			"type": "string", "caseExact": true, "mutability": "immutable",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderedAttr(tc.schema, tc.attr, tc.sub)
			if got == nil {
				t.Fatalf("%s.%s not rendered", tc.attr, tc.sub)
			}
			for k, want := range tc.want {
				if !reflect.DeepEqual(got[k], want) {
					t.Errorf("%s = %v; want %v", k, got[k], want)
				}
			}
			if got["description"] == "" || got["description"] == nil {
				t.Errorf("no description")
			}
		})
	}
	if _, ok := renderedAttr(user, "name", "")["caseExact"]; ok {
		t.Errorf("complex attribute name renders caseExact")
	}
	if _, ok := renderedAttr(user, "active", "")["uniqueness"]; ok {
		t.Errorf("boolean attribute active renders uniqueness")
	}
	wantMeta := map[string]any{"resourceType": "Schema", "location": "https://scim.example/scim/v2/Schemas/" + UserSchemaURN}
	if !reflect.DeepEqual(user["meta"], wantMeta) || user["name"] != "User" || ent["name"] != "EnterpriseUser" {
		t.Errorf("user schema header = %v %v, enterprise name %v", user["name"], user["meta"], ent["name"])
	}
}

func TestResourceTypeResources(t *testing.T) {
	b, err := json.Marshal(ResourceTypeResources("https://scim.example/scim/v2"))
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var want []any
	if err := json.Unmarshal([]byte(`[
	{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],"id":"User","name":"User","endpoint":"/Users",
	 "description":"User Account","schema":"urn:ietf:params:scim:schemas:core:2.0:User",
	 "schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","required":false}],
	 "meta":{"resourceType":"ResourceType","location":"https://scim.example/scim/v2/ResourceTypes/User"}},
	{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],"id":"Group","name":"Group","endpoint":"/Groups",
	 "description":"Group","schema":"urn:ietf:params:scim:schemas:core:2.0:Group","schemaExtensions":[],
	 "meta":{"resourceType":"ResourceType","location":"https://scim.example/scim/v2/ResourceTypes/Group"}}]`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ResourceTypeResources =\n%s", b)
	}
	if rt := Kind(0).ResourceType(); rt.Schema != nil || rt.Name != "" {
		t.Errorf("Kind(0).ResourceType() = %+v", rt)
	}
}

// TestSchemasMatchEngine checks that every attribute PATCH and filters can
// address is on /Schemas with the same type and mutability, and that every
// attribute /Schemas lists can be addressed: the two cannot drift.
func TestSchemasMatchEngine(t *testing.T) {
	schemas := renderedSchemas(t, "")
	for _, rt := range ResourceTypes() {
		for _, s := range append([]*Schema{rt.Schema}, rt.Extensions...) {
			rendered := schemas[s.URN]
			if got := len(rendered["attributes"].([]any)); got != len(s.Attrs) {
				t.Errorf("%s: /Schemas lists %d attributes, the table %d", s.URN, got, len(s.Attrs))
			}
			for _, a := range s.Attrs {
				for _, sub := range append([]*Attr{nil}, a.SubAttrs...) {
					path, leaf, subName := a.Name, a, ""
					if sub != nil {
						path, leaf, subName = a.Name+"."+sub.Name, sub, sub.Name
					}
					if s.Extension {
						path = s.URN + ":" + path
					}
					t.Run(rt.Name+"/"+path, func(t *testing.T) {
						if _, ok := CanonicalAttr(rt.Kind, path); !ok {
							t.Errorf("CanonicalAttr does not know %s", path)
						}
						// A filter compares simple values (RFC 7644 §3.4.2.2).
						if _, err := CompileFilter(rt.Kind, path+" pr"); err != nil && leaf.Type != AttrComplex {
							t.Errorf("filter %s pr: %v", path, err)
						}
						p, err := ParsePath(path)
						if err != nil {
							t.Fatalf("ParsePath: %v", err)
						}
						_, err = ApplyPatch(map[string]any{}, []PatchOp{{Op: "remove", Path: p}}, rt.Kind)
						var e *Error
						switch {
						case a.Mutability == MutabilityReadOnly:
							if !errors.As(err, &e) || e.ScimType != ScimTypeMutability {
								t.Errorf("PATCH remove of read-only %s: %v", path, err)
							}
						case errors.As(err, &e) && e.ScimType == ScimTypeInvalidPath:
							t.Errorf("PATCH cannot address %s: %v", path, err)
						}
						r := renderedAttr(rendered, a.Name, subName)
						if r == nil {
							t.Fatalf("%s is not on /Schemas", path)
						}
						if r["mutability"] != leaf.Mutability.String() || r["type"] != leaf.Type.String() ||
							r["multiValued"] != leaf.MultiValued || r["required"] != leaf.Required {
							t.Errorf("/Schemas has %v; the table %+v", r, *leaf)
						}
					})
				}
			}
		}
	}
}

// TestDeclaredExtensionsAreListed: an extension declared by configuration
// appears in /Schemas with its attributes and in the schemaExtensions of
// the resource type it extends, and only there.
func TestDeclaredExtensionsAreListed(t *testing.T) {
	user := Extension{URN: "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
		Attrs: []ExtensionAttr{{Name: "costCenter", Type: AttrString}, {Name: "contractor", Type: AttrBoolean}}}
	group := Extension{URN: "urn:ietf:params:scim:schemas:extension:acme:2.0:Group"}
	for _, e := range []Extension{user, group} {
		if err := e.Check(); err != nil {
			t.Fatal(err)
		}
	}
	if err := (Extension{URN: UserSchemaURN}).Check(); err == nil {
		t.Error("the core User schema was accepted as a custom extension")
	}
	schemas := SchemaResources("https://b.example", user, group)
	var found map[string]any
	for _, s := range schemas {
		if s["id"] == user.URN {
			found = s
		}
	}
	if found == nil || len(schemas) != 5 {
		t.Fatalf("/Schemas holds %d schemas, and %s is %v", len(schemas), user.URN, found)
	}
	attrs := found["attributes"].([]any)
	if len(attrs) != 2 || attrs[1].(map[string]any)["type"] != "boolean" {
		t.Errorf("declared attributes rendered as %v", attrs)
	}
	want := map[string][]any{
		"User": {
			map[string]any{"schema": EnterpriseUserSchemaURN, "required": false},
			map[string]any{"schema": user.URN, "required": false},
		},
		"Group": {map[string]any{"schema": group.URN, "required": false}},
	}
	for _, rt := range ResourceTypeResources("https://b.example", user, group) {
		if got := rt["schemaExtensions"]; !reflect.DeepEqual(got, want[rt["id"].(string)]) {
			t.Errorf("%s schemaExtensions = %v, want %v", rt["id"], got, want[rt["id"].(string)])
		}
	}
	if n := len(SchemaResources("https://b.example")); n != 3 {
		t.Errorf("without declarations /Schemas holds %d schemas, want 3", n)
	}
}
