package scimdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	oktaUserCreate = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@corp.example",` +
		`"name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"primary":true,"value":"ada@corp.example","type":"work"}],` +
		`"displayName":"Ada Lovelace","locale":"en-US","externalId":"00u1abcdEFGH","groups":[],"password":"x9Kq2mz1","active":true}`
	entraUserCreate = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		`"externalId":"ada","userName":"ada@corp.example","active":true,"displayName":"Ada Lovelace",` +
		`"emails":[{"primary":true,"type":"work","value":"ada@corp.example"}],"meta":{"resourceType":"User"},` +
		`"name":{"formatted":"Ada Lovelace","familyName":"Lovelace","givenName":"Ada"},"roles":[],"phoneNumbers":null,"title":null,"manager":null,` +
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1001","department":"R&D"}}`
	entraGroupCreate = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1","displayName":"Finance","meta":{"resourceType":"Group"}}`
	oktaGroupCreate  = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Finance","members":[]}`

	userSchemas  = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	groupSchemas = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]`
	entKey       = `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
)

// decodeBody decodes a JSON object as the HTTP layer does (UseNumber).
func decodeBody(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		kind       Kind
		body       string
		want       string // JSON of the result
		wantErr    string // scimType
		wantDetail string // a substring of the detail
	}{
		{
			name: "Okta user create", kind: KindUser, body: oktaUserCreate,
			want: `{"userName":"ada@corp.example","name":{"givenName":"Ada","familyName":"Lovelace"},` +
				`"emails":[{"primary":true,"value":"ada@corp.example","type":"work"}],"displayName":"Ada Lovelace",` +
				`"locale":"en-US","externalId":"00u1abcdEFGH","password":"x9Kq2mz1","active":true}`,
		},
		{
			name: "Entra user create", kind: KindUser, body: entraUserCreate,
			want: `{"externalId":"ada","userName":"ada@corp.example","active":true,"displayName":"Ada Lovelace",` +
				`"emails":[{"primary":true,"type":"work","value":"ada@corp.example"}],` +
				`"name":{"formatted":"Ada Lovelace","familyName":"Lovelace","givenName":"Ada"},` +
				entKey + `:{"employeeNumber":"1001","department":"R&D"}}`,
		},
		{
			name: "Entra string booleans", kind: KindUser,
			body: `{` + userSchemas + `,"userName":"a","active":"True","emails":[{"value":"a@x","primary":"False"}]}`,
			want: `{"userName":"a","active":true,"emails":[{"value":"a@x","primary":false}]}`,
		},
		{
			name: "Entra manager as a bare string", kind: KindUser,
			body: `{` + userSchemas + `,"userName":"a",` + entKey + `:{"manager":"m1"}}`,
			want: `{"userName":"a",` + entKey + `:{"manager":{"value":"m1"}}}`,
		},
		{name: "Entra group create", kind: KindGroup, body: entraGroupCreate, want: `{"externalId":"8aa1","displayName":"Finance"}`},
		{name: "Okta group create", kind: KindGroup, body: oktaGroupCreate, want: `{"displayName":"Finance"}`},
		{
			name: "group members", kind: KindGroup,
			body: `{` + groupSchemas + `,"displayName":"F","members":[{"value":"u1","display":"Ada","type":"User","$ref":"https://x/Users/u1"}]}`,
			want: `{"displayName":"F","members":[{"value":"u1","display":"Ada","type":"User","$ref":"https://x/Users/u1"}]}`,
		},

		// Names are case-insensitive and come back canonical.
		{
			name: "case-insensitive names", kind: KindUser,
			body: `{"SCHEMAS":["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],"USERNAME":"a","Name":{"GIVENNAME":"Ada"},` +
				`"emails":[{"VALUE":"a@x","Primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"DEPARTMENT":"R&D"}}`,
			want: `{"userName":"a","name":{"givenName":"Ada"},"emails":[{"value":"a@x","primary":true}],` + entKey + `:{"department":"R&D"}}`,
		},
		{name: "two spellings of one attribute", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","UserName":"b"}`, wantErr: ScimTypeInvalidSyntax, wantDetail: `"userName"`},
		{name: "two spellings of a sub-attribute", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","name":{"givenName":"a","GivenName":"b"}}`, wantErr: ScimTypeInvalidSyntax, wantDetail: `"name.givenName"`},
		{name: "two spellings of the extension", kind: KindUser, body: `{` + userSchemas + `,"userName":"a",` + entKey + `:{},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{}}`, wantErr: ScimTypeInvalidSyntax},

		// schemas.
		{name: "no schemas", kind: KindUser, body: `{"userName":"a"}`, wantErr: ScimTypeInvalidSyntax, wantDetail: "schemas"},
		{name: "schemas not an array", kind: KindUser, body: `{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"a"}`, wantErr: ScimTypeInvalidSyntax},
		{name: "group schema on a user", kind: KindUser, body: `{` + groupSchemas + `,"userName":"a"}`, wantErr: ScimTypeInvalidSyntax},
		{name: "extension URN only", kind: KindUser, body: `{"schemas":[` + entKey + `],"userName":"a"}`, wantErr: ScimTypeInvalidSyntax},

		// Required attributes.
		{name: "user without userName", kind: KindUser, body: `{` + userSchemas + `,"displayName":"A"}`, wantErr: ScimTypeInvalidValue, wantDetail: `"userName" is required`},
		{name: "null userName", kind: KindUser, body: `{` + userSchemas + `,"userName":null}`, wantErr: ScimTypeInvalidValue, wantDetail: `"userName" is required`},
		{name: "group without displayName", kind: KindGroup, body: `{` + groupSchemas + `,"members":[]}`, wantErr: ScimTypeInvalidValue, wantDetail: `"displayName" is required`},

		// Types.
		{name: "number for a boolean", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","active":1}`, wantErr: ScimTypeInvalidValue, wantDetail: `"active" must be a boolean`},
		{name: "word for a boolean", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","active":"yes"}`, wantErr: ScimTypeInvalidValue, wantDetail: `"active"`},
		{name: "number for a string", kind: KindUser, body: `{` + userSchemas + `,"userName":5}`, wantErr: ScimTypeInvalidValue, wantDetail: `"userName" must be a string`},
		{name: "string for complex", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","name":"Ada"}`, wantErr: ScimTypeInvalidValue, wantDetail: `"name" must be an object`},
		{name: "string for multi-valued", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","emails":"a@x"}`, wantErr: ScimTypeInvalidValue, wantDetail: `"emails" must be an array`},
		{name: "null inside multi-valued", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","emails":[null]}`, wantErr: ScimTypeInvalidValue, wantDetail: `"emails"`},
		{name: "bad sub-attribute", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","emails":[{"value":"a@x","primary":2}]}`, wantErr: ScimTypeInvalidValue, wantDetail: `"emails.primary"`},
		{name: "number for a reference", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","profileUrl":5}`, wantErr: ScimTypeInvalidValue, wantDetail: `"profileUrl"`},
		{name: "binary not base64", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","x509Certificates":[{"value":"QUJ"}]}`, wantErr: ScimTypeInvalidValue, wantDetail: `"x509Certificates.value" must be base64`},
		{name: "binary", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","x509Certificates":[{"value":"QUJD"}]}`, want: `{"userName":"a","x509Certificates":[{"value":"QUJD"}]}`},
		{name: "number for a member value", kind: KindGroup, body: `{` + groupSchemas + `,"displayName":"F","members":[{"value":5}]}`, wantErr: ScimTypeInvalidValue, wantDetail: `"members.value"`},
		{name: "one object for multi-valued", kind: KindUser, body: `{` + userSchemas + `,"userName":"a","emails":{"value":"a@x"}}`, want: `{"userName":"a","emails":[{"value":"a@x"}]}`},

		// The extension.
		{name: "extension type error", kind: KindUser, body: `{` + userSchemas + `,"userName":"a",` + entKey + `:{"department":5}}`, wantErr: ScimTypeInvalidValue, wantDetail: `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"`},
		{name: "extension not an object", kind: KindUser, body: `{` + userSchemas + `,"userName":"a",` + entKey + `:"R&D"}`, wantErr: ScimTypeInvalidValue, wantDetail: "must be an object"},
		{name: "manager as an array", kind: KindUser, body: `{` + userSchemas + `,"userName":"a",` + entKey + `:{"manager":["m"]}}`, wantErr: ScimTypeInvalidValue, wantDetail: "manager"},
		{name: "empty extension", kind: KindUser, body: `{` + userSchemas + `,"userName":"a",` + entKey + `:{"department":null}}`, want: `{"userName":"a"}`},
		{name: "extension on a group is unknown", kind: KindGroup, body: `{` + groupSchemas + `,"displayName":"F",` + entKey + `:{"department":5}}`, want: `{"displayName":"F"}`},

		// Read-only attributes are ignored, whatever their value.
		{
			name: "read-only ignored", kind: KindUser,
			body: `{` + userSchemas + `,"userName":"a","id":7,"meta":"x","groups":[{"value":"g1"}],` + entKey + `:{"manager":{"value":"m","displayName":5}}}`,
			want: `{"userName":"a",` + entKey + `:{"manager":{"value":"m"}}}`,
		},
		{name: "group id ignored", kind: KindGroup, body: `{` + groupSchemas + `,"displayName":"F","id":"g1","meta":{"resourceType":"Group"}}`, want: `{"displayName":"F"}`},

		// null and [] mean unassigned; unknown attributes are dropped.
		{
			name: "nulls and empty arrays", kind: KindUser,
			body: `{` + userSchemas + `,"userName":"a","title":null,"emails":[],"name":{"givenName":null},"phoneNumbers":null,` + entKey + `:null}`,
			want: `{"userName":"a","name":{}}`,
		},
		{
			name: "unknown attributes dropped", kind: KindUser,
			body: `{` + userSchemas + `,"userName":"a","shoeSize":44,"manager":"m1","name":{"nick":"x"},"emails":[{"value":"a@x","label":"w"}],` +
				`"urn:okta:custom:1.0:User":{"x":1},` + entKey + `:{"badge":1}}`,
			want: `{"userName":"a","name":{},"emails":[{"value":"a@x"}]}`,
		},
		{name: "unknown kind", kind: 0, body: `{` + userSchemas + `,"userName":"a"}`, wantErr: ScimTypeInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := decodeBody(t, tc.body)
			before := decodeBody(t, tc.body)
			got, err := Validate(tc.kind, body)
			if !reflect.DeepEqual(body, before) {
				t.Errorf("Validate modified its input: %v", body)
			}
			if tc.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || e.ScimType != tc.wantErr || !strings.Contains(e.Detail, tc.wantDetail) {
					t.Fatalf("Validate = %v, %v; want %s error mentioning %s", got, err, tc.wantErr, tc.wantDetail)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				t.Errorf("Validate =\n%s\nwant\n%s", gj, tc.want)
			}
		})
	}
}

// TestValidateNilBody checks the one input no JSON object decodes to.
func TestValidateNilBody(t *testing.T) {
	_, err := Validate(KindUser, nil)
	var e *Error
	if !errors.As(err, &e) || e.ScimType != ScimTypeInvalidSyntax {
		t.Errorf("Validate(nil) = %v", err)
	}
}

// sampleValue returns a valid value for a, or for one element of a
// multi-valued a.
func sampleValue(a *Attr) any {
	switch a.Type {
	case AttrBoolean:
		return true
	case AttrDateTime:
		return "2008-01-23T04:56:22Z"
	case AttrBinary:
		return "QUJD"
	case AttrComplex:
		return map[string]any{a.SubAttrs[0].Name: sampleValue(a.SubAttrs[0])}
	}
	return "s"
}

func wrap(a *Attr, v any) any {
	if a.MultiValued {
		return []any{v}
	}
	return v
}

// TestValidateAcceptsTableAttributes checks that Validate keeps exactly the
// attributes and sub-attributes the tables list, less the read-only ones.
func TestValidateAcceptsTableAttributes(t *testing.T) {
	for _, rt := range ResourceTypes() {
		base := func() map[string]any {
			body := map[string]any{"schemas": []any{rt.Schema.URN}}
			for _, a := range rt.Schema.Attrs {
				if a.Required {
					body[a.Name] = sampleValue(a)
				}
			}
			return body
		}
		for _, s := range append([]*Schema{rt.Schema}, rt.Extensions...) {
			for _, a := range s.Attrs {
				for _, sub := range append([]*Attr{nil}, a.SubAttrs...) {
					name := a.Name
					v := sampleValue(a)
					if sub != nil {
						name += "." + sub.Name
						v = map[string]any{sub.Name: sampleValue(sub)}
					}
					t.Run(rt.Name+"/"+name, func(t *testing.T) {
						body, want := base(), base()
						delete(want, "schemas")
						set := func(m map[string]any, v any) {
							if s.Extension {
								m[s.URN] = map[string]any{a.Name: v}
							} else {
								m[a.Name] = v
							}
						}
						set(body, wrap(a, v))
						kept := a.Mutability != MutabilityReadOnly && (sub == nil || sub.Mutability != MutabilityReadOnly)
						switch {
						case kept:
							set(want, wrap(a, v))
						case a.Mutability != MutabilityReadOnly: // a read-only sub-attribute
							set(want, wrap(a, map[string]any{}))
						}
						got, err := Validate(rt.Kind, body)
						if err != nil {
							t.Fatalf("Validate: %v", err)
						}
						if !reflect.DeepEqual(got, want) {
							t.Errorf("Validate = %v; want %v", got, want)
						}
					})
				}
			}
		}
	}
}

// TestValidateResultIsPlainJSON checks that the result survives a JSON
// round trip unchanged: no json.Number, no typed slices.
func TestValidateResultIsPlainJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind Kind
		body string
	}{
		{name: "Okta", kind: KindUser, body: oktaUserCreate},
		{name: "Entra", kind: KindUser, body: entraUserCreate},
		{name: "group", kind: KindGroup, body: entraGroupCreate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Validate(tc.kind, decodeBody(t, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			var rt map[string]any
			if err := json.NewDecoder(bytes.NewReader(b)).Decode(&rt); err != nil || !reflect.DeepEqual(got, rt) {
				t.Errorf("result %v is not plain JSON (%v)", got, err)
			}
		})
	}
}
