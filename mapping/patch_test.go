package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const entURN = EnterpriseUserSchemaURN

// decodePatchBody reads a PATCH body as it comes off the wire, either the
// full request {"Operations":[...]} or a bare array of operations, and
// parses each path with ParsePath.
func decodePatchBody(body []byte) ([]PatchOp, error) {
	type wireOp struct {
		Op    string  `json:"op"`
		Path  *string `json:"path"`
		Value any     `json:"value"`
	}
	var wire []wireOp
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &wire); err != nil {
			return nil, err
		}
	} else {
		var req struct {
			Operations []wireOp `json:"Operations"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, err
		}
		wire = req.Operations
	}
	ops := make([]PatchOp, 0, len(wire))
	for _, w := range wire {
		op := PatchOp{Op: w.Op, Value: w.Value}
		if w.Path != nil {
			p, err := ParsePath(*w.Path)
			if err != nil {
				return nil, err
			}
			op.Path = p
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return m
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

type patchCase struct {
	name    string
	kind    ResourceKind // KindUser when zero
	res     string       // resource JSON
	body    string       // ops JSON, or "@file" under testdata/patch
	want    string       // resource JSON after the patch; ignored with wantErr
	wantErr string       // ScimType
}

func runPatchCases(t *testing.T, cases []patchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind := tc.kind
			if kind == 0 {
				kind = KindUser
			}
			body := []byte(tc.body)
			if name, ok := strings.CutPrefix(tc.body, "@"); ok {
				var err error
				if body, err = os.ReadFile(filepath.Join("testdata", "patch", name)); err != nil {
					t.Fatal(err)
				}
			}
			ops, err := decodePatchBody(body)
			if err != nil {
				t.Fatalf("decode body: %v", err)
			}
			res := mustJSON(t, tc.res)
			orig := mustJSON(t, tc.res)
			changed, err := ApplyPatch(res, ops, kind)
			if tc.wantErr != "" {
				var pe *PatchError
				if !errors.As(err, &pe) || pe.ScimType != tc.wantErr {
					t.Fatalf("err = %v, want scimType %s", err, tc.wantErr)
				}
				if changed || !equalValues(res, orig) {
					t.Fatalf("failed patch modified the resource:\n%s", pretty(res))
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyPatch: %v", err)
			}
			want := mustJSON(t, tc.want)
			if !equalValues(res, want) {
				t.Errorf("resource mismatch\n got: %s\nwant: %s", pretty(res), pretty(want))
			}
			if wantChanged := !equalValues(orig, want); changed != wantChanged {
				t.Errorf("changed = %v, want %v", changed, wantChanged)
			}
		})
	}
}

// TestApplyPatchIdPFixtures replays every PATCH body of idp-traffic.md §1.
func TestApplyPatchIdPFixtures(t *testing.T) {
	const adaEntra = `{"id":"u1","externalId":"ada","userName":"ada@corp.example","active":true,
		"displayName":"Ada Lovelace",
		"emails":[{"primary":true,"type":"work","value":"ada@corp.example"},{"type":"home","value":"ada@home.example"}],
		"name":{"formatted":"Ada Lovelace","familyName":"Lovelace","givenName":"Ada"},
		"` + entURN + `":{"employeeNumber":"1001","department":"R&D"}}`
	runPatchCases(t, []patchCase{
		{
			name: "okta deactivate",
			res:  `{"id":"u1","userName":"ada@corp.example","active":true}`,
			body: "@okta-deactivate.json",
			want: `{"id":"u1","userName":"ada@corp.example","active":false}`,
		},
		{
			name: "okta reactivate",
			res:  `{"id":"u1","userName":"ada@corp.example","active":false}`,
			body: "@okta-reactivate.json",
			want: `{"id":"u1","userName":"ada@corp.example","active":true}`,
		},
		{
			name: "okta deactivate already inactive is no change",
			res:  `{"id":"u1","userName":"ada@corp.example","active":false}`,
			body: "@okta-deactivate.json",
			want: `{"id":"u1","userName":"ada@corp.example","active":false}`,
		},
		{
			name: "okta group membership push",
			kind: KindGroup,
			res:  `{"id":"g1","displayName":"Finance","members":[{"value":"9f1c…"},{"value":"5b5b"}]}`,
			body: "@okta-group-members.json",
			want: `{"id":"g1","displayName":"Finance","members":[{"value":"5b5b"},{"value":"23a3…","display":"ada@corp.example"}]}`,
		},
		{
			name: "okta group rename ignores id in value",
			kind: KindGroup,
			res:  `{"id":"g1","displayName":"Finance","members":[{"value":"5b5b"}]}`,
			body: "@okta-group-rename.json",
			want: `{"id":"g1","displayName":"Finance EMEA","members":[{"value":"5b5b"}]}`,
		},
		{
			name: "okta group rename to the same name is no change",
			kind: KindGroup,
			res:  `{"id":"g1","displayName":"Finance EMEA"}`,
			body: "@okta-group-rename.json",
			want: `{"id":"g1","displayName":"Finance EMEA"}`,
		},
		{
			name: "okta full membership push",
			kind: KindGroup,
			res:  `{"id":"g1","displayName":"Finance","members":[{"value":"5b5b"},{"value":"23a3…"}]}`,
			body: "@okta-group-full-push.json",
			want: `{"id":"g1","displayName":"Finance","members":[{"value":"23a3…"},{"value":"89bb…"}]}`,
		},
		{
			name: "entra legacy user update",
			res:  adaEntra,
			body: "@entra-user-update-legacy.json",
			want: `{"id":"u1","externalId":"ada","userName":"ada@corp.example","active":true,
				"displayName":"Ada Lovelace",
				"emails":[{"primary":true,"type":"work","value":"ada.l@corp.example"},{"type":"home","value":"ada@home.example"}],
				"name":{"formatted":"Ada Lovelace","familyName":"Byron","givenName":"Ada"},
				"` + entURN + `":{"employeeNumber":"1002","department":"Retail"}}`,
		},
		{
			name: "entra aadOptscim062020 user update",
			res:  adaEntra,
			body: "@entra-user-update-flag.json",
			want: `{"id":"u1","externalId":"ada","userName":"ada@corp.example","active":true,
				"displayName":"Ada Byron",
				"emails":[{"primary":true,"type":"work","value":"ada.l@corp.example"},{"type":"home","value":"ada@home.example"}],
				"name":{"formatted":"Ada Lovelace","familyName":"Byron","givenName":"Ada"},
				"` + entURN + `":{"employeeNumber":"1002","department":"R&D"}}`,
		},
		{
			name: "entra update creates the work email when absent",
			res:  `{"userName":"ada@corp.example","emails":[{"type":"home","value":"ada@home.example"}]}`,
			body: "@entra-user-update-legacy.json",
			want: `{"userName":"ada@corp.example",
				"emails":[{"type":"home","value":"ada@home.example"},{"type":"work","value":"ada.l@corp.example"}],
				"name":{"familyName":"Byron"},
				"` + entURN + `":{"employeeNumber":"1002","department":"Retail"}}`,
		},
		{
			name: "entra manager as bare id",
			res:  `{"userName":"ada@corp.example"}`,
			body: "@entra-manager.json",
			want: `{"userName":"ada@corp.example","` + entURN + `":{"manager":{"value":"7d1e…"}}}`,
		},
		{
			name: "entra manager replaces the old manager whole",
			res:  `{"userName":"ada@corp.example","` + entURN + `":{"department":"R&D","manager":{"value":"old","$ref":"…/Users/old","displayName":"Old Boss"}}}`,
			body: "@entra-manager.json",
			want: `{"userName":"ada@corp.example","` + entURN + `":{"department":"R&D","manager":{"value":"7d1e…"}}}`,
		},
		{
			name: "entra older manager path with array",
			res:  `{"userName":"ada@corp.example"}`,
			body: "@entra-manager-legacy.json",
			want: `{"userName":"ada@corp.example","` + entURN + `":{"manager":{"$ref":"…/Users/7d1e…","value":"7d1e…"}}}`,
		},
		{
			name: "entra legacy disable with string boolean",
			res:  `{"userName":"ada@corp.example","active":true}`,
			body: "@entra-disable-legacy.json",
			want: `{"userName":"ada@corp.example","active":false}`,
		},
		{
			name: "entra flag disable",
			res:  `{"userName":"ada@corp.example","active":true}`,
			body: "@entra-disable-flag.json",
			want: `{"userName":"ada@corp.example","active":false}`,
		},
		{
			name: "entra add member drops null $ref",
			kind: KindGroup,
			res:  `{"displayName":"Finance","members":[{"value":"5b5b"}]}`,
			body: "@entra-group-add-member.json",
			want: `{"displayName":"Finance","members":[{"value":"5b5b"},{"value":"48af…"}]}`,
		},
		{
			name: "entra add member to group created without members",
			kind: KindGroup,
			res:  `{"displayName":"Finance"}`,
			body: "@entra-group-add-member.json",
			want: `{"displayName":"Finance","members":[{"value":"48af…"}]}`,
		},
		{
			name: "entra add existing member is no change",
			kind: KindGroup,
			res:  `{"displayName":"Finance","members":[{"value":"48af…"}]}`,
			body: "@entra-group-add-member.json",
			want: `{"displayName":"Finance","members":[{"value":"48af…"}]}`,
		},
		{
			name: "entra legacy member removal removes only that member",
			kind: KindGroup,
			res:  `{"displayName":"Finance","members":[{"value":"5b5b"},{"value":"48af…"},{"value":"77aa"}]}`,
			body: "@entra-group-remove-member-legacy.json",
			want: `{"displayName":"Finance","members":[{"value":"5b5b"},{"value":"77aa"}]}`,
		},
		{
			name: "entra legacy removal of a non-member is no change",
			kind: KindGroup,
			res:  `{"displayName":"Finance","members":[{"value":"5b5b"}]}`,
			body: "@entra-group-remove-member-legacy.json",
			want: `{"displayName":"Finance","members":[{"value":"5b5b"}]}`,
		},
		{
			name: "entra flag member removal",
			kind: KindGroup,
			res:  `{"displayName":"Finance","members":[{"value":"5b5b"},{"value":"48af…"}]}`,
			body: "@entra-group-remove-member-flag.json",
			want: `{"displayName":"Finance","members":[{"value":"5b5b"}]}`,
		},
		{
			name: "entra group rename",
			kind: KindGroup,
			res:  `{"displayName":"Finance","members":[{"value":"5b5b"}]}`,
			body: "@entra-group-rename.json",
			want: `{"displayName":"Finance EMEA","members":[{"value":"5b5b"}]}`,
		},
	})
}

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
			name:    "unknown schema URN",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","path":"urn:example:custom:1.0:User:shoeSize","value":"9"}]`,
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

func TestApplyPatchMultiValued(t *testing.T) {
	const two = `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`
	runPatchCases(t, []patchCase{
		{
			name: "add single object appends",
			res:  two,
			body: `[{"op":"add","path":"emails","value":{"value":"o@x","type":"other"}}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"},{"value":"o@x","type":"other"}]}`,
		},
		{
			name: "add array skips present entries",
			res:  two,
			body: `[{"op":"add","path":"emails","value":[{"value":"H@X","type":"home"},{"value":"o@x"}]}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"},{"value":"o@x"}]}`,
		},
		{
			name: "replace whole list",
			res:  two,
			body: `[{"op":"replace","path":"emails","value":[{"value":"n@x","type":"work"}]}]`,
			want: `{"emails":[{"value":"n@x","type":"work"}]}`,
		},
		{
			name: "replace list with two primaries keeps the last",
			res:  `{}`,
			body: `[{"op":"replace","path":"phoneNumbers","value":[{"value":"1","primary":true},{"value":"2","primary":true}]}]`,
			want: `{"phoneNumbers":[{"value":"1","primary":false},{"value":"2","primary":true}]}`,
		},
		{
			name: "replace list with null removes it",
			res:  two,
			body: `[{"op":"replace","path":"emails","value":null}]`,
			want: `{}`,
		},
		{
			name: "value path replace touches only matching entries",
			res:  two,
			body: `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"w2@x"}]`,
			want: `{"emails":[{"value":"w2@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "value path add creates entry from and-of-eq",
			res:  two,
			body: `[{"op":"add","path":"phoneNumbers[type eq \"mobile\" and primary eq true].value","value":"+1"}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}],"phoneNumbers":[{"type":"mobile","primary":true,"value":"+1"}]}`,
		},
		{
			name:    "value path add with non-eq filter and no match",
			res:     two,
			body:    `[{"op":"add","path":"emails[value co \"zzz\"].value","value":"z@x"}]`,
			wantErr: "noTarget",
		},
		{
			name:    "value path add with or filter and no match",
			res:     two,
			body:    `[{"op":"add","path":"emails[type eq \"a\" or type eq \"b\"].value","value":"z@x"}]`,
			wantErr: "noTarget",
		},
		{
			name: "value path replace with object replaces the entry, keeping the filter's type",
			res:  two,
			body: `[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w2@x","display":"W"}}]`,
			want: `{"emails":[{"value":"w2@x","type":"work","display":"W"},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "value path add with object merges",
			res:  two,
			body: `[{"op":"add","path":"emails[type eq \"work\"]","value":{"display":"W"}}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true,"display":"W"},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "value path add object setting primary moves primary",
			res:  two,
			body: `[{"op":"add","path":"emails[type eq \"home\"]","value":{"primary":true}}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":false},{"value":"h@x","type":"home","primary":true}]}`,
		},
		{
			name: "remove value path removes entries",
			res:  two,
			body: `[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			want: `{"emails":[{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "remove value path sub-attribute",
			res:  two,
			body: `[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`,
			want: `{"emails":[{"value":"w@x","type":"work"},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "remove sub-attribute of every entry",
			res:  two,
			body: `[{"op":"remove","path":"emails.type"}]`,
			want: `{"emails":[{"value":"w@x","primary":true},{"value":"h@x"}]}`,
		},
		{
			name:    "add sub-attribute of every entry needs a filter",
			res:     two,
			body:    `[{"op":"add","path":"emails.type","value":"work"}]`,
			wantErr: "invalidPath",
		},
		{
			name: "filter names and strings are case-insensitive",
			res:  two,
			body: `[{"op":"remove","path":"emails[TYPE eq \"WORK\"]"}]`,
			want: `{"emails":[{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "filter operators",
			res:  `{"addresses":[{"type":"work","locality":"Paris"},{"type":"home","locality":"Lyon"},{"type":"other"}]}`,
			body: `[
				{"op":"add","path":"addresses[locality sw \"pa\"].region","value":"A"},
				{"op":"add","path":"addresses[locality ew \"ON\"].region","value":"B"},
				{"op":"add","path":"addresses[not (locality pr)].region","value":"C"},
				{"op":"add","path":"addresses[locality co \"ar\" or type ne \"work\"].country","value":"FR"},
				{"op":"add","path":"addresses[locality gt \"M\" and locality le \"Paris\"].postalCode","value":"75"},
				{"op":"add","path":"addresses[type ge \"w\" and type lt \"x\"].postalCode","value":"75"}]`,
			want: `{"addresses":[
				{"type":"work","locality":"Paris","region":"A","country":"FR","postalCode":"75"},
				{"type":"home","locality":"Lyon","region":"B","country":"FR"},
				{"type":"other","region":"C","country":"FR"}]}`,
		},
		{
			name: "filter on boolean and null",
			res:  `{"emails":[{"value":"a","primary":true},{"value":"b","primary":false},{"value":"c"}]}`,
			body: `[{"op":"add","path":"emails[primary eq false].type","value":"x"},{"op":"add","path":"emails[primary eq null].type","value":"y"}]`,
			want: `{"emails":[{"value":"a","primary":true},{"value":"b","primary":false,"type":"x"},{"value":"c","type":"y"}]}`,
		},
		{
			name:    "filter on unknown sub-attribute",
			res:     two,
			body:    `[{"op":"remove","path":"emails[colour eq \"red\"]"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "value path with object value of wrong type",
			res:     two,
			body:    `[{"op":"replace","path":"emails[type eq \"work\"]","value":"w@x"}]`,
			wantErr: "invalidValue",
		},
	})
}

func TestApplyPatchMembers(t *testing.T) {
	const grp = `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def"}]}`
	runPatchCases(t, []patchCase{
		{
			name: "member value compares case-exactly",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"remove","path":"members[value eq \"ABC\"]"}]`,
			want: grp,
		},
		{
			name: "add member differing only in case is a new member",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"add","path":"members","value":[{"value":"DEF"}]}]`,
			want: `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def"},{"value":"DEF"}]}`,
		},
		{
			name: "remove members without value clears all",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"remove","path":"members"}]`,
			want: `{"displayName":"F"}`,
		},
		{
			name: "remove members with an empty value array removes nothing",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"remove","path":"members","value":[]}]`,
			want: grp,
		},
		{
			name: "remove members with several values",
			kind: KindGroup,
			res:  `{"displayName":"F","members":[{"value":"a"},{"value":"b"},{"value":"c"}]}`,
			body: `[{"op":"Remove","path":"members","value":[{"value":"a"},{"value":"c","display":"whatever"}]}]`,
			want: `{"displayName":"F","members":[{"value":"b"}]}`,
		},
		{
			name: "replace members with empty array",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"replace","path":"members","value":[]}]`,
			want: `{"displayName":"F","members":[]}`,
		},
		{
			name: "replace members dedupes and normalises",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"replace","path":"members","value":[{"value":"x","$ref":null,"Display":"X"},{"value":"x"},{"value":"y","type":"User"}]}]`,
			want: `{"displayName":"F","members":[{"value":"x","display":"X"},{"value":"y","type":"User"}]}`,
		},
		{
			name:    "member without value",
			kind:    KindGroup,
			res:     grp,
			body:    `[{"op":"add","path":"members","value":[{"display":"nobody"}]}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "member with numeric value",
			kind:    KindGroup,
			res:     grp,
			body:    `[{"op":"add","path":"members","value":[{"value":42}]}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "legacy remove with a value-less entry",
			kind:    KindGroup,
			res:     grp,
			body:    `[{"op":"remove","path":"members","value":[{"$ref":null}]}]`,
			wantErr: "invalidValue",
		},
		{
			name: "add member through value path creates it",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"add","path":"members[value eq \"ghi\"]","value":{"display":"G"}}]`,
			want: `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def"},{"value":"ghi","display":"G"}]}`,
		},
		{
			name: "update member display through value path",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"replace","path":"members[value eq \"def\"].display","value":"D"}]`,
			want: `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def","display":"D"}]}`,
		},
	})
}

func TestApplyPatchManager(t *testing.T) {
	const withMgr = `{"userName":"ada","` + entURN + `":{"department":"R&D","manager":{"value":"m1","$ref":"../Users/m1"}}}`
	runPatchCases(t, []patchCase{
		{
			name: "manager object",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"replace","path":"` + entURN + `:manager","value":{"value":"m2","$ref":"../Users/m2"}}]`,
			want: `{"userName":"ada","` + entURN + `":{"manager":{"value":"m2","$ref":"../Users/m2"}}}`,
		},
		{
			name: "manager sub-attribute",
			res:  withMgr,
			body: `[{"op":"replace","path":"` + entURN + `:manager.displayName","value":"Boss"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D","manager":{"value":"m1","$ref":"../Users/m1","displayName":"Boss"}}}`,
		},
		{
			name: "remove manager",
			res:  withMgr,
			body: `[{"op":"remove","path":"` + entURN + `:manager"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name: "remove manager by unprefixed name",
			res:  withMgr,
			body: `[{"op":"Remove","path":"manager"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name: "empty manager id unassigns",
			res:  withMgr,
			body: `[{"op":"Replace","path":"manager","value":""}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name: "manager null in path-less value",
			res:  withMgr,
			body: `[{"op":"replace","value":{"` + entURN + `:manager":null}}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name:    "manager empty array",
			res:     withMgr,
			body:    `[{"op":"add","path":"manager","value":[]}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "manager number",
			res:     withMgr,
			body:    `[{"op":"add","path":"manager","value":7}]`,
			wantErr: "invalidValue",
		},
	})
}

func TestApplyPatchWrongTypes(t *testing.T) {
	runPatchCases(t, []patchCase{
		{name: "number for string", res: `{}`, body: `[{"op":"add","path":"userName","value":5}]`, wantErr: "invalidValue"},
		{name: "object for string", res: `{}`, body: `[{"op":"add","path":"title","value":{"a":1}}]`, wantErr: "invalidValue"},
		{name: "string for complex", res: `{}`, body: `[{"op":"add","path":"name","value":"Ada"}]`, wantErr: "invalidValue"},
		{name: "string for multi-valued", res: `{}`, body: `[{"op":"add","path":"emails","value":"a@x"}]`, wantErr: "invalidValue"},
		{name: "nested arrays", res: `{}`, body: `[{"op":"add","path":"emails","value":[[{"value":"a@x"}]]}]`, wantErr: "invalidValue"},
		{name: "number in sub-attribute", res: `{}`, body: `[{"op":"add","path":"name.givenName","value":1.5}]`, wantErr: "invalidValue"},
		{name: "array for extension", res: `{}`, body: `[{"op":"add","path":"` + entURN + `","value":[1]}]`, wantErr: "invalidValue"},
		{name: "number in extension object", res: `{}`, body: `[{"op":"add","value":{"` + entURN + `":{"employeeNumber":1002}}}]`, wantErr: "invalidValue"},
		{
			name: "garbage stored value is replaced",
			res:  `{"emails":"junk","name":7}`,
			body: `[{"op":"add","path":"emails","value":{"value":"a@x"}},{"op":"add","path":"name.givenName","value":"Ada"}]`,
			want: `{"emails":[{"value":"a@x"}],"name":{"givenName":"Ada"}}`,
		},
	})
}

// TestApplyPatchGoTypes feeds values no JSON decoder produces.
func TestApplyPatchGoTypes(t *testing.T) {
	path := func(s string) PatchOp {
		p, err := ParsePath(s)
		if err != nil {
			t.Fatal(err)
		}
		return PatchOp{Op: "add", Path: p}
	}
	with := func(op PatchOp, v any) PatchOp { op.Value = v; return op }
	ops := [][]PatchOp{
		{with(path("active"), 1)},
		{with(path("userName"), []string{"a"})},
		{with(path("emails"), []string{"a@x"})},
		{with(path("emails"), [][]any{{map[string]any{"value": "a"}}})},
		{with(path("emails"), []any{nil})},
		{with(path("name"), map[string]string{"givenName": "x"})},
		{with(path("name"), struct{}{})},
		{with(path("manager"), []any{nil})},
		{with(path(`emails[type eq "work"].value`), 3)},
		{{Op: "add", Value: map[string]any{"name": []any{1}}}},
		{{Op: "replace", Value: []any{}}},
		{{Op: "add", Path: nil, Value: nil}},
	}
	for i, o := range ops {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			res := map[string]any{"userName": "ada", "emails": []map[string]any{{"value": "w@x", "type": "work"}}}
			_, err := ApplyPatch(res, o, KindUser)
			var pe *PatchError
			if !errors.As(err, &pe) || pe.ScimType != "invalidValue" {
				t.Fatalf("err = %v, want invalidValue", err)
			}
		})
	}

	t.Run("typed slices in the stored resource", func(t *testing.T) {
		res := map[string]any{"emails": []map[string]any{{"value": "w@x", "type": "work"}}}
		changed, err := ApplyPatch(res, []PatchOp{with(path("emails"), map[string]any{"value": "W@X"})}, KindUser)
		if err != nil || changed {
			t.Fatalf("changed=%v err=%v, want no change", changed, err)
		}
		changed, err = ApplyPatch(res, []PatchOp{with(path(`emails[type eq "work"].display`), "W")}, KindUser)
		if err != nil || !changed {
			t.Fatalf("changed=%v err=%v, want change", changed, err)
		}
		want := map[string]any{"emails": []any{map[string]any{"value": "w@x", "type": "work", "display": "W"}}}
		if !equalValues(res, want) {
			t.Fatalf("got %v", res)
		}
	})

	t.Run("nil resource", func(t *testing.T) {
		_, err := ApplyPatch(nil, []PatchOp{with(path("title"), "x")}, KindUser)
		var pe *PatchError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("unknown kind", func(t *testing.T) {
		if _, err := ApplyPatch(map[string]any{}, nil, ResourceKind(9)); err == nil {
			t.Fatal("no error for unknown kind")
		}
	})
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		wantErr bool
	}{
		{raw: `userName`},
		{raw: `emails[type eq "work"].value`},
		{raw: entURN + `:manager`},
		{raw: ``, wantErr: true},
		{raw: `emails[type eq`, wantErr: true},
		{raw: `a.b.c`, wantErr: true},
		{raw: `userName eq "x"`, wantErr: true},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			p, err := ParsePath(tc.raw)
			if tc.wantErr {
				var pe *PatchError
				if !errors.As(err, &pe) || pe.ScimType != "invalidPath" {
					t.Fatalf("err = %v, want invalidPath", err)
				}
				return
			}
			if err != nil || p == nil {
				t.Fatalf("ParsePath(%q) = %v, %v", tc.raw, p, err)
			}
		})
	}
}

func TestPatchErrorMessage(t *testing.T) {
	err := error(&PatchError{ScimType: "noTarget", Detail: "remove needs a path"})
	if got, want := err.Error(), "patch: noTarget: remove needs a path"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
