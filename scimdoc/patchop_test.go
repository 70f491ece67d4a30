package scimdoc

import (
	"errors"
	"reflect"
	"testing"
)

// gotOp is a parsed operation in comparable form.
type gotOp struct {
	op, path string // path as re-rendered by the parser; "" when absent
	value    any
}

func TestParsePatch(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []gotOp
	}{
		{
			name: "Okta deactivation, path-less value map",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"replace","value":{"active":false}}]}`,
			want: []gotOp{{op: "replace", value: map[string]any{"active": false}}},
		},
		{
			name: "Okta group membership",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"remove","path":"members[value eq \"00u1\"]"},
				{"op":"add","path":"members","value":[{"value":"00u2","display":"b@example.com"}]}]}`,
			want: []gotOp{
				{op: "remove", path: `members[value eq "00u1"]`},
				{op: "add", path: "members", value: []any{map[string]any{"value": "00u2", "display": "b@example.com"}}},
			},
		},
		{
			name: "Entra capitalised members and ops",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[
				{"Op":"Replace","Path":"active","Value":"False"},
				{"op":"Add","path":"emails[type eq \"work\"].value","value":"b@example.com"},
				{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"26118915"},
				{"op":"Remove","path":"name.familyName"}]}`,
			want: []gotOp{
				{op: "replace", path: "active", value: "False"},
				{op: "add", path: `emails[type eq "work"].value`, value: "b@example.com"},
				{op: "replace", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", value: "26118915"},
				{op: "remove", path: "name.familyName"},
			},
		},
		{
			name: "Entra path-less add of several attributes",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"Add","value":{"displayName":"Babs","title":"CEO"}}]}`,
			want: []gotOp{{op: "add", value: map[string]any{"displayName": "Babs", "title": "CEO"}}},
		},
		{
			name: "member names and schema URN in any case, op padded",
			body: `{"SCHEMAS":["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
				"OPERATIONS":[{"OP":" REPLACE ","PATH":"displayName","VALUE":"x"}]}`,
			want: []gotOp{{op: "replace", path: "displayName", value: "x"}},
		},
		{
			name: "PatchOp schema among others",
			body: `{"schemas":["urn:example:other","urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"remove","path":"title"}]}`,
			want: []gotOp{{op: "remove", path: "title"}},
		},
		{
			name: "null value and blank path",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"replace","path":"  ","value":null}, {"op":"remove","path":null}]}`,
			want: []gotOp{{op: "replace"}, {op: "remove"}},
		},
		{
			name: "unknown operation members are ignored",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"remove","path":"title","x-okta":1}],"extra":true}`,
			want: []gotOp{{op: "remove", path: "title"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := ParsePatch([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParsePatch: %v", err)
			}
			got := make([]gotOp, 0, len(ops))
			for _, op := range ops {
				g := gotOp{op: op.Op, value: op.Value}
				if op.Path != nil {
					g.path = op.Path.String()
				}
				got = append(got, g)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePatch =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParsePatchErrors(t *testing.T) {
	const schemas = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	tests := []struct {
		name         string
		body         string
		wantScimType string
	}{
		{name: "not JSON", body: `op=replace`, wantScimType: ScimTypeInvalidSyntax},
		{name: "empty body", body: ``, wantScimType: ScimTypeInvalidSyntax},
		{name: "null", body: `null`, wantScimType: ScimTypeInvalidSyntax},
		{name: "array", body: `[{"op":"replace"}]`, wantScimType: ScimTypeInvalidSyntax},
		{name: "truncated", body: `{` + schemas + `,"Operations":[{"op":"add"`, wantScimType: ScimTypeInvalidSyntax},
		{name: "missing schemas", body: `{"Operations":[{"op":"remove","path":"title"}]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "wrong schemas", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"remove","path":"title"}]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "schemas not a list", body: `{"schemas":"urn:ietf:params:scim:api:messages:2.0:PatchOp","Operations":[{"op":"remove","path":"title"}]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "no Operations", body: `{` + schemas + `}`, wantScimType: ScimTypeInvalidValue},
		{name: "empty Operations", body: `{` + schemas + `,"Operations":[]}`, wantScimType: ScimTypeInvalidValue},
		{name: "Operations not a list", body: `{` + schemas + `,"Operations":{"op":"remove","path":"title"}}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "operation not an object", body: `{` + schemas + `,"Operations":["remove title"]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "operation null", body: `{` + schemas + `,"Operations":[null]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "op not a string", body: `{` + schemas + `,"Operations":[{"op":1,"path":"title"}]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "op missing", body: `{` + schemas + `,"Operations":[{"path":"title","value":"x"}]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "unknown op", body: `{` + schemas + `,"Operations":[{"op":"move","path":"title"}]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "unknown op after a good one", body: `{` + schemas + `,"Operations":[{"op":"remove","path":"title"},{"op":"copy","path":"title"}]}`, wantScimType: ScimTypeInvalidSyntax},
		{name: "path not a string", body: `{` + schemas + `,"Operations":[{"op":"remove","path":["title"]}]}`, wantScimType: ScimTypeInvalidPath},
		{name: "unclosed filter in path", body: `{` + schemas + `,"Operations":[{"op":"remove","path":"members[value eq \"x\""}]}`, wantScimType: ScimTypeInvalidPath},
		{name: "path with a bad operator", body: `{` + schemas + `,"Operations":[{"op":"remove","path":"emails[type is \"work\"]"}]}`, wantScimType: ScimTypeInvalidPath},
		{name: "path of punctuation", body: `{` + schemas + `,"Operations":[{"op":"remove","path":"..."}]}`, wantScimType: ScimTypeInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := ParsePatch([]byte(tt.body))
			var aerr *Error
			if !errors.As(err, &aerr) {
				t.Fatalf("ParsePatch(%s) = %v, %v; want an *Error", tt.body, ops, err)
			}
			if aerr.ScimType != tt.wantScimType {
				t.Errorf("error = %q (%s), want %q", aerr.ScimType, aerr.Detail, tt.wantScimType)
			}
			if aerr.Detail == "" {
				t.Errorf("error has no detail")
			}
		})
	}
}
