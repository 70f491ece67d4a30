package scimdoc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzValidate checks that no body panics Validate, that every failure is
// an *Error, that the input is never modified, and that a result is plain
// JSON which validates again to itself.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		oktaUserCreate,
		entraUserCreate,
		entraGroupCreate,
		oktaGroupCreate,
		`{` + userSchemas + `,"userName":"a","active":"True",` + entKey + `:{"manager":"m1"},"emails":{"value":"a@x","primary":"False"}}`,
		`{"SCHEMAS":["urn:ietf:params:scim:schemas:core:2.0:user"],"USERNAME":"a","Name":{"givenName":null},"x509Certificates":[{"value":"QUJD"}]}`,
		`{` + groupSchemas + `,"displayName":"F","members":[{"value":"u1"},null,{"value":5}]}`,
		`{"schemas":[7],"userName":[],"emails":[[]],"meta":{"created":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, useNumber := range []bool{false, true} {
			for _, kind := range []Kind{KindUser, KindGroup} {
				body, ok := decodeFuzz(data, useNumber)
				if !ok {
					return
				}
				before, _ := decodeFuzz(data, useNumber)
				got, err := Validate(kind, body)
				if !reflect.DeepEqual(body, before) {
					t.Fatalf("Validate modified its input %s", data)
				}
				if err != nil {
					if _, ok := err.(*Error); !ok {
						t.Fatalf("Validate(%s) error %T %v is not an *Error", data, err, err)
					}
					continue
				}
				b, err := json.Marshal(got)
				if err != nil {
					t.Fatalf("result %v does not marshal: %v", got, err)
				}
				var plain map[string]any
				if err := json.Unmarshal(b, &plain); err != nil || !reflect.DeepEqual(plain, got) {
					t.Fatalf("result %v is not plain JSON", got)
				}
				plain["schemas"] = []any{kind.ResourceType().Schema.URN}
				again, err := Validate(kind, plain)
				if err != nil || !reflect.DeepEqual(again, got) {
					t.Fatalf("result of %s validates to %v, %v; want %v", data, again, err, got)
				}
			}
		}
	})
}

func decodeFuzz(data []byte, useNumber bool) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	if useNumber {
		d.UseNumber()
	}
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return nil, false
	}
	return m, true
}
