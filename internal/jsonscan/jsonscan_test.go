package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzEachMember: on any valid JSON document, EachMember agrees with
// encoding/json: it walks exactly the members of an object (the same keys,
// unescaped, with byte-identical raw values) and refuses anything else.
func FuzzEachMember(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `[]`, `"x"`, `12`, `null`,
		`{"userName":"a@b.c","active":false,"name":{"givenName":"A","x":[1,2,{"y":"}"}]}}`,
		`{"a\"b":"c\\","\u0069d":"x","emails":[{"value":"x","primary":true}],"n":-1.5e3}`,
		"{\"a\" :\t1 ,\n\"b\":[ ] , \"c\":{}}",
		`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D <x>"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return // the store hands EachMember only documents it validated
		}
		var want map[string]json.RawMessage
		isObject := json.Unmarshal(doc, &want) == nil && want != nil // null decodes to a nil map
		got := map[string][]byte{}
		n := 0
		ok := EachMember(doc, func(rawKey []byte, key string, val []byte) {
			n++
			var k string
			if err := json.Unmarshal(rawKey, &k); err != nil || k != key {
				t.Fatalf("raw key %s unescapes to %q, given %q", rawKey, k, key)
			}
			var sv string
			wantOK := json.Unmarshal(val, &sv) == nil && len(val) > 0 && val[0] == '"'
			if s, ok := String(val); ok != wantOK || s != sv {
				t.Fatalf("String(%s) = %q, %v; encoding/json %q, %v", val, s, ok, sv, wantOK)
			}
			got[key] = val
		})
		if ok != isObject {
			t.Fatalf("EachMember(%s) = %v, encoding/json says object: %v", doc, ok, isObject)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d members, encoding/json %d", doc, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("%s: member %q = %s, encoding/json %s", doc, k, got[k], v)
			}
		}
	})
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `W/"3"`, "R&D <b>", "é\u2028\x00\\", "\xff"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}
