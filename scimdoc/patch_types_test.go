package scimdoc

import (
	"errors"
	"fmt"
	"testing"
)

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
			var pe *Error
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
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("unknown kind", func(t *testing.T) {
		if _, err := ApplyPatch(map[string]any{}, nil, Kind(9)); err == nil {
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
				var pe *Error
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
	err := error(&Error{ScimType: "noTarget", Detail: "remove needs a path"})
	if got, want := err.Error(), "scimdoc: noTarget: remove needs a path"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
