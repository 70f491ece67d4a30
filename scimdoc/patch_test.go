package scimdoc

import (
	"bytes"
	"encoding/json"
	"errors"
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
	kind    Kind   // KindUser when zero
	res     string // resource JSON
	body    string // ops JSON, or "@file" under testdata/patch
	want    string // resource JSON after the patch; ignored with wantErr
	wantErr string // ScimType
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
				var pe *Error
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
