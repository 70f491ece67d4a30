package scimdoc

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestRepeatedEntriesKeptOnce checks RFC 7643 §2.4: two entries with the
// same type and value are stored once, from a POST/PUT body and from a
// PATCH replace; the same value with another type is another entry.
func TestRepeatedEntriesKeptOnce(t *testing.T) {
	emails := `[{"type":"work","value":"ada@corp.example"},
		{"type":"Work","value":"ADA@corp.example","primary":true},
		{"type":"home","value":"ada@corp.example"}]`
	want := []any{
		map[string]any{"type": "work", "value": "ada@corp.example", "primary": true},
		map[string]any{"type": "home", "value": "ada@corp.example"},
	}
	var list []any
	if err := json.Unmarshal([]byte(emails), &list); err != nil {
		t.Fatal(err)
	}
	got, err := Validate(KindUser, map[string]any{"schemas": []any{UserSchemaURN}, "userName": "ada", "emails": list})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["emails"], want) {
		t.Errorf("Validate emails = %v, want %v", got["emails"], want)
	}

	ops, err := ParsePatch([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails","value":` + emails + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]any{"userName": "ada"}
	if _, err := ApplyPatch(res, ops, KindUser); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res["emails"], want) {
		t.Errorf("PATCH replace emails = %v, want %v", res["emails"], want)
	}
}
