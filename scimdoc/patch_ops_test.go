package scimdoc

import "testing"

func TestApplyPatchOps(t *testing.T) {
	runPatchCases(t, []patchCase{
		{
			name: "op is case-insensitive",
			res:  `{"title":"a"}`,
			body: `[{"op":"REPLACE","path":"title","value":"b"}]`,
			want: `{"title":"b"}`,
		},
		{
			name:    "unknown op",
			res:     `{"title":"a"}`,
			body:    `[{"op":"update","path":"title","value":"b"}]`,
			wantErr: "invalidSyntax",
		},
		{
			name:    "missing op",
			res:     `{"title":"a"}`,
			body:    `[{"path":"title","value":"b"}]`,
			wantErr: "invalidSyntax",
		},
		{
			name:    "remove without path",
			res:     `{"title":"a"}`,
			body:    `[{"op":"remove"}]`,
			wantErr: "noTarget",
		},
		{
			name:    "failing later op leaves the resource untouched",
			res:     `{"title":"a"}`,
			body:    `[{"op":"replace","path":"title","value":"b"},{"op":"replace","path":"nope","value":"c"}]`,
			wantErr: "invalidPath",
		},
		{
			name: "add single-valued sets it",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"add","path":"title","value":"Engineer"}]`,
			want: `{"userName":"ada","title":"Engineer"}`,
		},
		{
			name: "replace with null removes",
			res:  `{"userName":"ada","title":"Engineer"}`,
			body: `[{"op":"replace","path":"title","value":null}]`,
			want: `{"userName":"ada"}`,
		},
		{
			name: "path-less null removes keys",
			res:  `{"userName":"ada","title":"Engineer","name":{"givenName":"Ada","familyName":"L"}}`,
			body: `[{"op":"replace","value":{"title":null,"name.familyName":null}}]`,
			want: `{"userName":"ada","name":{"givenName":"Ada"}}`,
		},
		{
			name: "remove single-valued",
			res:  `{"userName":"ada","title":"Engineer"}`,
			body: `[{"op":"remove","path":"title"}]`,
			want: `{"userName":"ada"}`,
		},
		{
			name: "remove absent attribute is no change",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"remove","path":"title"},{"op":"remove","path":"emails[type eq \"work\"]"},{"op":"remove","path":"name.givenName"},{"op":"remove","path":"` + entURN + `:manager"}]`,
			want: `{"userName":"ada"}`,
		},
		{
			name: "attribute names are case-insensitive and written canonically",
			res:  `{"username":"ada","displayname":"A"}`,
			body: `[{"op":"replace","path":"USERNAME","value":"ada2"},{"op":"replace","value":{"DisplayName":"B","NAME.GIVENNAME":"Ada"}}]`,
			want: `{"userName":"ada2","displayName":"B","name":{"givenName":"Ada"}}`,
		},
		{
			name: "core URN prefix",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:userName","value":"ada2"},
				{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName":"L"}}]`,
			want: `{"userName":"ada2","name":{"familyName":"L"}}`,
		},
		{
			name: "URN prefix is case-insensitive",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"add","path":"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department","value":"Ops"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"Ops"}}`,
		},
		{
			name: "path-less extension object merges",
			res:  `{"userName":"ada","` + entURN + `":{"department":"R&D","costCenter":"9"}}`,
			body: `[{"op":"add","value":{"` + entURN + `":{"department":"Ops","manager":"m1","division":null}}}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"Ops","costCenter":"9","manager":{"value":"m1"}}}`,
		},
		{
			name: "path-less core URN object",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"title":"X"}}}]`,
			want: `{"userName":"ada","title":"X"}`,
		},
		{
			name: "extension URN as path",
			res:  `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
			body: `[{"op":"replace","path":"` + entURN + `","value":{"employeeNumber":"7"}}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D","employeeNumber":"7"}}`,
		},
		{
			name: "remove whole extension",
			res:  `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
			body: `[{"op":"remove","path":"` + entURN + `"}]`,
			want: `{"userName":"ada"}`,
		},
		{
			name: "pre-2019 Entra dotted extension attribute",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"add","path":"` + entURN + `.department","value":"Ops"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"Ops"}}`,
		},
		{
			name: "sub-attribute creates parent",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"replace","path":"name.familyName","value":"Byron"}]`,
			want: `{"userName":"ada","name":{"familyName":"Byron"}}`,
		},
		{
			name: "complex replace merges sub-attributes (RFC 7644 §3.5.2.3)",
			res:  `{"name":{"givenName":"Ada","familyName":"Lovelace"}}`,
			body: `[{"op":"replace","path":"name","value":{"familyName":"Byron"}}]`,
			want: `{"name":{"givenName":"Ada","familyName":"Byron"}}`,
		},
		{
			name:    "unknown attribute in path",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","path":"favouriteColour","value":"blue"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "unknown attribute in path-less value",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","value":{"favouriteColour":"blue"}}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "unknown sub-attribute",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","path":"name.nick","value":"x"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "unknown sub-attribute in value",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","path":"emails","value":[{"value":"a@b","colour":"x"}]}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "core schema URN with an unknown attribute",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","path":"urn:ietf:params:scim:schemas:core:2.0:User:shoeSize","value":"9"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "enterprise extension on a group",
			kind:    KindGroup,
			res:     `{"displayName":"F"}`,
			body:    `[{"op":"add","path":"` + entURN + `:department","value":"Ops"}]`,
			wantErr: "invalidPath",
		},
		{
			name: "path-less id, meta and schemas are ignored",
			res:  `{"id":"u1","userName":"ada","meta":{"resourceType":"User"}}`,
			body: `[{"op":"replace","value":{"id":"other","meta":{"version":"W/\"1\""},"schemas":["x"],"userName":"ada2"}}]`,
			want: `{"id":"u1","userName":"ada2","meta":{"resourceType":"User"}}`,
		},
		{
			name:    "path to id",
			res:     `{"id":"u1"}`,
			body:    `[{"op":"replace","path":"id","value":"u2"}]`,
			wantErr: "mutability",
		},
		{
			name:    "path to meta sub-attribute",
			res:     `{"id":"u1"}`,
			body:    `[{"op":"replace","path":"meta.lastModified","value":"2026-01-01T00:00:00Z"}]`,
			wantErr: "mutability",
		},
		{
			name:    "remove id",
			res:     `{"id":"u1"}`,
			body:    `[{"op":"remove","path":"id"}]`,
			wantErr: "mutability",
		},
		{
			name:    "user groups are read-only",
			res:     `{"id":"u1"}`,
			body:    `[{"op":"add","path":"groups","value":[{"value":"g1"}]}]`,
			wantErr: "mutability",
		},
		{
			name:    "user groups are read-only in path-less value",
			res:     `{"id":"u1"}`,
			body:    `[{"op":"replace","value":{"groups":[]}}]`,
			wantErr: "mutability",
		},
		{
			name:    "path-less value must be an object",
			res:     `{"id":"u1"}`,
			body:    `[{"op":"replace","value":"x"}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "path-less null value",
			res:     `{"id":"u1"}`,
			body:    `[{"op":"add"}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "value filter on a single-valued attribute",
			res:     `{"name":{"givenName":"Ada"}}`,
			body:    `[{"op":"replace","path":"name[givenName eq \"Ada\"].familyName","value":"x"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "value filter on a simple attribute",
			res:     `{"title":"x"}`,
			body:    `[{"op":"remove","path":"title[value eq \"x\"]"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "sub-attribute of a simple attribute",
			res:     `{"title":"x"}`,
			body:    `[{"op":"add","path":"title.value","value":"x"}]`,
			wantErr: "invalidPath",
		},
		{
			name: "no change when values already match",
			res:  `{"userName":"ada","name":{"givenName":"Ada"},"emails":[{"value":"a@x","type":"work"}]}`,
			body: `[{"op":"replace","value":{"userName":"ada","name.givenName":"Ada"}},{"op":"add","path":"emails","value":[{"value":"A@X","type":"work"}]}]`,
			want: `{"userName":"ada","name":{"givenName":"Ada"},"emails":[{"value":"a@x","type":"work"}]}`,
		},
	})
}

func TestApplyPatchBooleans(t *testing.T) {
	runPatchCases(t, []patchCase{
		{
			name: "string true on path",
			res:  `{"active":false}`,
			body: `[{"op":"Replace","path":"active","value":"True"}]`,
			want: `{"active":true}`,
		},
		{
			name: "string boolean in path-less value",
			res:  `{"active":true}`,
			body: `[{"op":"Replace","value":{"active":"False"}}]`,
			want: `{"active":false}`,
		},
		{
			name: "string boolean inside multi-valued entries",
			res:  `{"emails":[{"value":"a@x","primary":true}]}`,
			body: `[{"op":"add","path":"emails","value":[{"value":"b@x","primary":"true"}]}]`,
			want: `{"emails":[{"value":"a@x","primary":false},{"value":"b@x","primary":true}]}`,
		},
		{
			name: "string boolean on value-path sub-attribute",
			res:  `{"emails":[{"value":"a@x","type":"work","primary":true},{"value":"b@x","type":"home"}]}`,
			body: `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":"TRUE"}]`,
			want: `{"emails":[{"value":"a@x","type":"work","primary":false},{"value":"b@x","type":"home","primary":true}]}`,
		},
		{
			name:    "non-boolean string",
			res:     `{"active":true}`,
			body:    `[{"op":"replace","path":"active","value":"yes"}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "number for boolean",
			res:     `{"active":true}`,
			body:    `[{"op":"replace","path":"active","value":0}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "non-boolean primary in entry",
			res:     `{}`,
			body:    `[{"op":"add","path":"emails","value":{"value":"a@x","primary":"maybe"}}]`,
			wantErr: "invalidValue",
		},
	})
}
