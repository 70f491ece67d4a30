package scimdoc

import (
	"errors"
	"strings"
	"testing"
)

func nest(n int, open, inner, closing string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(closing, n)
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name      string
		run       func() error
		wantError string // scimType; "" = accepted
	}{
		{"filter nested to the bound", func() error { _, err := CompileFilter(KindUser, nest(MaxNesting, "(", `userName pr`, ")")); return err }, ""},
		{"filter nested past the bound", func() error {
			_, err := CompileFilter(KindUser, nest(MaxNesting+1, "(", `userName pr`, ")"))
			return err
		}, ScimTypeInvalidFilter},
		{"100,000 parentheses", func() error { _, err := CompileFilter(KindUser, nest(100_000, "(", `userName pr`, ")")); return err }, ScimTypeInvalidFilter},
		{"parentheses inside a string do not count", func() error {
			_, err := CompileFilter(KindUser, `userName eq "`+strings.Repeat(`(\"[`, 100)+`"`)
			return err
		}, ""},
		{"filter at the length bound", func() error {
			raw := `userName eq "` + strings.Repeat("x", MaxFilterLength-len(`userName eq ""`)) + `"`
			_, err := CompileFilter(KindUser, raw)
			return err
		}, ""},
		{"filter past the length bound", func() error {
			_, err := CompileFilter(KindUser, `userName eq "`+strings.Repeat("x", MaxFilterLength)+`"`)
			return err
		}, ScimTypeInvalidFilter},
		{"path with nested value filter", func() error {
			_, err := ParsePath("emails[" + nest(MaxNesting, "(", `type eq "work"`, ")") + "]")
			return err
		}, ScimTypeInvalidPath},
		{"path past the length bound", func() error { _, err := ParsePath(strings.Repeat("a", MaxPathLength+1)); return err }, ScimTypeInvalidPath},
		{"sortBy past the length bound", func() error { _, err := CompileSort(KindUser, strings.Repeat("a", MaxPathLength+1), ""); return err }, ScimTypeInvalidValue},
		{"JSON at the depth bound", func() error { return CheckJSONDepth([]byte(nest(MaxJSONDepth, "[", "1", "]"))) }, ""},
		{"JSON past the depth bound", func() error { return CheckJSONDepth([]byte(nest(MaxJSONDepth+1, `{"a":`, "1", "}"))) }, ScimTypeInvalidSyntax},
		{"brackets inside JSON strings do not count", func() error {
			return CheckJSONDepth([]byte(`{"a":"` + strings.Repeat(`[{\"`, 100) + `"}`))
		}, ""},
		{"PATCH body past the depth bound", func() error {
			_, err := ParsePatch([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"title","value":` + nest(40, "[", "1", "]") + `}]}`))
			return err
		}, ScimTypeInvalidSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			var e *Error
			switch {
			case tt.wantError == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantError != "" && (!errors.As(err, &e) || e.ScimType != tt.wantError):
				t.Fatalf("error %v, want a %s *Error", err, tt.wantError)
			}
		})
	}
}

// FuzzParsePatch: the PatchOp parser never panics, whatever the body, and
// every refusal is an *Error.
func FuzzParsePatch(f *testing.F) {
	for _, seed := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members[value eq \"1\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails[` + nest(40, "(", `type eq \"work\"`, ")") + `]","value":"x"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"title","value":` + nest(5000, "[", "1", "]") + `}]}`,
		nest(100, "{", "", "}"),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := ParsePatch(body)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("ParsePatch error %T %v is not an *Error", err, err)
		}
		if err == nil && len(ops) == 0 {
			t.Fatal("ParsePatch accepted a body with no operation")
		}
	})
}
