package scimdoc

import (
	"errors"
	"reflect"
	"testing"
)

func TestActivationRule(t *testing.T) {
	patches := []struct {
		name string
		body string
	}{
		{"remove active", `{"op":"remove","path":"active"}`},
		{"Remove active, Entra's case", `{"op":"Remove","path":"active"}`},
		{"replace active null", `{"op":"replace","path":"active","value":null}`},
		{"add active null", `{"op":"add","path":"active","value":null}`},
		{"path-less active null", `{"op":"replace","value":{"active":null}}`},
		{"core-URN path", `{"op":"remove","path":"urn:ietf:params:scim:schemas:core:2.0:User:active"}`},
		{"core-URN object with active null", `{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"active":null}}}`},
		{"core-URN key with active null", `{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User:active":null}}`},
		{"remove active with a value", `{"op":"remove","path":"active","value":false}`},
	}
	for _, tt := range patches {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := ParsePatch([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + tt.body + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			res := map[string]any{"userName": "u", "active": false}
			_, err = ApplyPatch(res, ops, KindUser)
			var e *Error
			if !errors.As(err, &e) || e.ScimType != ScimTypeInvalidValue {
				t.Fatalf("ApplyPatch = %v, want invalidValue", err)
			}
			if res["active"] != false {
				t.Errorf("active changed to %v", res["active"])
			}
		})
	}
	for _, tt := range []struct {
		name      string
		next      map[string]any
		wasActive bool
		want      any
	}{
		{"absent keeps deactivated", map[string]any{"userName": "u"}, false, false},
		{"absent keeps active", map[string]any{"userName": "u"}, true, true},
		{"explicit true reactivates", map[string]any{"active": true}, false, true},
		{"explicit false deactivates", map[string]any{"Active": false}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			KeepActivation(tt.next, tt.wasActive)
			got, _ := foldLookup(tt.next, "active")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("active = %v, want %v", got, tt.want)
			}
		})
	}
}
