package scimdoc

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

var fuzzResources = []string{
	`{"id":"u1","externalId":"ada","userName":"ada@corp.example","active":true,"displayName":"Ada Lovelace",
	  "emails":[{"primary":true,"type":"work","value":"ada@corp.example"},{"type":"home","value":"ada@home.example"}],
	  "name":{"formatted":"Ada Lovelace","familyName":"Lovelace","givenName":"Ada"},
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1001","department":"R&D","manager":{"value":"m1"}}}`,
	`{"id":"g1","displayName":"Finance","members":[{"value":"9f1c…"},{"value":"48af…","display":"x"}]}`,
	`{"emails":"junk","name":7,"members":[1,[2],null]}`,
	`{}`,
}

var fuzzBodies = []string{
	`[{"op":"add","path":"emails[type eq \"work\" and primary eq true].value","value":"x"}]`,
	`[{"op":"replace","path":"emails[not (type pr)]","value":{"primary":"True"}}]`,
	`[{"op":"remove","path":"emails.type"},{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"manager":["m"]}}]`,
	`[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"title":null},"name":{"givenName":1}}}]`,
	`[{"op":"add","path":"members[value eq 5]","value":{}}]`,
}

// FuzzApplyPatch checks that no PATCH body panics, that every failure is a
// *Error leaving the resource untouched, and that changed is accurate.
func FuzzApplyPatch(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "patch", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	bodies := append([]string(nil), fuzzBodies...)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	for i, body := range bodies {
		for j, res := range fuzzResources {
			f.Add([]byte(res), []byte(body), (i+j)%2 == 0)
		}
	}
	f.Fuzz(func(t *testing.T, resJSON, body []byte, group bool) {
		var res map[string]any
		if json.Unmarshal(resJSON, &res) != nil || res == nil {
			return
		}
		ops, err := decodePatchBody(body)
		if err != nil {
			var pe *Error
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if !errors.As(err, &pe) && !errors.As(err, &se) && !errors.As(err, &te) {
				t.Fatalf("decode: unexpected error type %T: %v", err, err)
			}
			return
		}
		kind := KindUser
		if group {
			kind = KindGroup
		}
		before := copyValue(res)
		changed, err := ApplyPatch(res, ops, kind)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			switch pe.ScimType {
			case "invalidPath", "noTarget", "invalidValue", "mutability", "invalidSyntax":
			default:
				t.Fatalf("unexpected scimType %q", pe.ScimType)
			}
			if changed || !equalValues(before, res) {
				t.Fatalf("failed patch changed the resource")
			}
			return
		}
		if changed == equalValues(before, res) {
			t.Fatalf("changed = %v but equal = %v", changed, equalValues(before, res))
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
	})
}
