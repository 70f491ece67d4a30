package scimdoc

import (
	"errors"
	"testing"
)

// TestOrderingNeedsAnOrderedType checks RFC 7644 §3.4.2.2: gt, ge, lt and
// le on a boolean (or binary) attribute are invalidFilter, in a filter and
// in a value path alike, while eq and ne stay valid.
func TestOrderingNeedsAnOrderedType(t *testing.T) {
	tests := []struct {
		name    string
		kind    Kind
		filter  string
		wantErr bool
	}{
		{"active gt", KindUser, `active gt true`, true},
		{"active GE, any case", KindUser, `Active GE false`, true},
		{"active lt inside and", KindUser, `userName eq "a" and active lt true`, true},
		{"primary le in a value path", KindUser, `emails[primary le true]`, true},
		{"binary gt", KindUser, `x509Certificates.value gt "AAAA"`, true},
		{"active eq", KindUser, `active eq true`, false},
		{"active ne", KindUser, `active ne false`, false},
		{"string gt", KindUser, `userName gt "m"`, false},
		{"dateTime gt", KindGroup, `meta.lastModified gt "2025-01-01T00:00:00Z"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileFilter(tt.kind, tt.filter)
			var e *Error
			switch {
			case tt.wantErr && (!errors.As(err, &e) || e.ScimType != ScimTypeInvalidFilter):
				t.Fatalf("CompileFilter(%q) = %v, want invalidFilter", tt.filter, err)
			case !tt.wantErr && err != nil:
				t.Fatalf("CompileFilter(%q) = %v, want no error", tt.filter, err)
			}
		})
	}
	ops, err := ParsePatch([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[primary gt false]"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ApplyPatch(map[string]any{"userName": "u"}, ops, KindUser)
	var e *Error
	if !errors.As(err, &e) || e.ScimType != ScimTypeInvalidPath {
		t.Fatalf("PATCH with emails[primary gt false] = %v, want invalidPath", err)
	}
}
