package scimdoc

import (
	"reflect"
	"testing"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// TestCustomExtensionPatch covers what Entra ID sends for an attribute an
// admin mapped into an extension of their own: the attribute is kept as
// sent under its extension's URN, and never fails the request.
func TestCustomExtensionPatch(t *testing.T) {
	runPatchCases(t, []patchCase{
		{
			name: "Entra: add with the URN-prefixed attribute as path",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"Add","path":"` + acmeURN + `:costCenter","value":"4711"}]`,
			want: `{"userName":"ada","` + acmeURN + `":{"costCenter":"4711"}}`,
		},
		{
			name: "Entra: replace keeps the other attributes of the extension",
			res:  `{"userName":"ada","` + acmeURN + `":{"costCenter":"4711","badge":"B-1"}}`,
			body: `[{"op":"Replace","path":"` + acmeURN + `:costCenter","value":"4712"}]`,
			want: `{"userName":"ada","` + acmeURN + `":{"costCenter":"4712","badge":"B-1"}}`,
		},
		{
			name: "Entra: path-less replace with URN-prefixed keys next to core ones",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"Replace","value":{"displayName":"Ada","` + acmeURN + `:costCenter":"4711","` + acmeURN + `:contractor":"False"}}]`,
			want: `{"userName":"ada","displayName":"Ada","` + acmeURN + `":{"costCenter":"4711","contractor":"False"}}`,
		},
		{
			name: "the whole extension object by path",
			res:  `{"userName":"ada","` + acmeURN + `":{"badge":"B-1"}}`,
			body: `[{"op":"add","path":"` + acmeURN + `","value":{"costCenter":"4711","level":3}}]`,
			want: `{"userName":"ada","` + acmeURN + `":{"badge":"B-1","costCenter":"4711","level":3}}`,
		},
		{
			name: "the whole extension object in a path-less value",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"replace","value":{"` + acmeURN + `":{"tags":["a","b"],"office":{"floor":"3"}}}}]`,
			want: `{"userName":"ada","` + acmeURN + `":{"tags":["a","b"],"office":{"floor":"3"}}}`,
		},
		{
			name: "null unassigns (Clean drops the empty extension)",
			res:  `{"userName":"ada","` + acmeURN + `":{"costCenter":"4711"}}`,
			body: `[{"op":"Replace","path":"` + acmeURN + `:costCenter","value":null}]`,
			want: `{"userName":"ada","` + acmeURN + `":{}}`,
		},
		{
			name: "remove an attribute",
			res:  `{"userName":"ada","` + acmeURN + `":{"costCenter":"4711","badge":"B-1"}}`,
			body: `[{"op":"Remove","path":"` + acmeURN + `:costCenter"}]`,
			want: `{"userName":"ada","` + acmeURN + `":{"badge":"B-1"}}`,
		},
		{
			name: "remove the whole extension",
			res:  `{"userName":"ada","` + acmeURN + `":{"costCenter":"4711"}}`,
			body: `[{"op":"remove","path":"` + acmeURN + `"}]`,
			want: `{"userName":"ada"}`,
		},
		{
			name: "an extension URN that does not end in the type's name",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:2.0:CustomExtension:costCenter","value":"4711"}]`,
			want: `{"userName":"ada","urn:ietf:params:scim:schemas:extension:2.0:CustomExtension":{"costCenter":"4711"}}`,
		},
		{
			name: "a group's custom extension",
			kind: KindGroup,
			res:  `{"displayName":"F"}`,
			body: `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:acme:2.0:Group:region","value":"EMEA"}]`,
			want: `{"displayName":"F","urn:ietf:params:scim:schemas:extension:acme:2.0:Group":{"region":"EMEA"}}`,
		},
		{
			name:    "the core namespace is not an extension",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","path":"urn:ietf:params:scim:schemas:core:2.0:Group:displayName","value":"x"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "a custom attribute has no sub-attributes to filter",
			res:     `{"userName":"ada"}`,
			body:    `[{"op":"add","path":"` + acmeURN + `:tags[value eq \"a\"]","value":"x"}]`,
			wantErr: "invalidPath",
		},
	})
}

func TestCustomExtensionValidate(t *testing.T) {
	tests := []struct {
		name string
		body map[string]any
		want map[string]any
	}{
		{
			name: "declared in schemas: kept as sent",
			body: map[string]any{"schemas": []any{UserSchemaURN, acmeURN}, "userName": "ada",
				acmeURN: map[string]any{"costCenter": "4711", "level": 3.0, "gone": nil}},
			want: map[string]any{"userName": "ada", acmeURN: map[string]any{"costCenter": "4711", "level": 3.0}},
		},
		{
			name: "not declared: dropped as before",
			body: map[string]any{"schemas": []any{UserSchemaURN}, "userName": "ada",
				acmeURN: map[string]any{"costCenter": "4711"}},
			want: map[string]any{"userName": "ada"},
		},
		{
			name: "declared but absent",
			body: map[string]any{"schemas": []any{UserSchemaURN, acmeURN}, "userName": "ada"},
			want: map[string]any{"userName": "ada"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate(KindUser, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate = %v, want %v", got, tt.want)
			}
		})
	}
	_, err := Validate(KindUser, map[string]any{"schemas": []any{UserSchemaURN, acmeURN}, "userName": "ada", acmeURN: "4711"})
	if err == nil {
		t.Error("a declared extension that is not an object was accepted")
	}
}

func TestCustomExtensionFilter(t *testing.T) {
	res := map[string]any{"userName": "ada", acmeURN: map[string]any{"costCenter": "4711", "contractor": true}}
	tests := []struct {
		filter string
		want   bool
	}{
		{acmeURN + `:costCenter eq "4711"`, true},
		{acmeURN + `:COSTCENTER eq "4711"`, true},
		{acmeURN + `:costCenter eq "4712"`, false},
		{acmeURN + `:costCenter sw "47"`, true},
		{acmeURN + `:contractor eq true`, true},
		{acmeURN + `:badge pr`, false},
		{`userName eq "ada" and ` + acmeURN + `:costCenter eq "4711"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := CompileFilter(KindUser, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(res); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCustomExtensionProjection(t *testing.T) {
	res := map[string]any{"id": "1", "schemas": []any{UserSchemaURN, acmeURN}, "userName": "ada",
		acmeURN: map[string]any{"costCenter": "4711", "badge": "B-1"}}
	got := NewProjection(KindUser, []string{acmeURN + ":costCenter"}, nil).Apply(res)
	want := map[string]any{"id": "1", "schemas": []any{UserSchemaURN, acmeURN}, acmeURN: map[string]any{"costCenter": "4711"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes=…:costCenter gives %v, want %v", got, want)
	}
	got = NewProjection(KindUser, nil, []string{acmeURN}).Apply(res)
	if _, ok := got[acmeURN]; ok {
		t.Errorf("excludedAttributes=<extension> kept it: %v", got)
	}
}
