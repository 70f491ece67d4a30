package scimdoc

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

// TestMemberOnlyPatchMatchesApplyPatch: on random member-only PATCHes in
// every IdP form, the fast path gives exactly the member set ApplyPatch
// gives.
func TestMemberOnlyPatchMatchesApplyPatch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ids := func(n int) []any {
		out := []any{}
		for range n {
			m := map[string]any{"value": fmt.Sprintf("u%d", r.IntN(12))}
			if r.IntN(3) == 0 {
				m["$ref"] = nil
			}
			if r.IntN(3) == 0 {
				m["display"] = "x"
			}
			out = append(out, m)
		}
		return out
	}
	for i := range 2000 {
		var current []string
		for j := range 12 {
			if r.IntN(2) == 0 {
				current = append(current, fmt.Sprintf("u%d", j))
			}
		}
		var raw []map[string]any
		for range 1 + r.IntN(4) {
			switch r.IntN(6) {
			case 0:
				raw = append(raw, map[string]any{"op": "add", "path": "members", "value": ids(1 + r.IntN(4))})
			case 1:
				raw = append(raw, map[string]any{"op": "Add", "path": "members", "value": ids(1)[0]})
			case 2:
				raw = append(raw, map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "u%d"]`, r.IntN(12))})
			case 3:
				raw = append(raw, map[string]any{"op": "Remove", "path": "members", "value": ids(1 + r.IntN(3))})
			case 4:
				raw = append(raw, map[string]any{"op": "replace", "path": "members", "value": ids(r.IntN(4))})
			default:
				if r.IntN(4) == 0 {
					raw = append(raw, map[string]any{"op": "remove", "path": "members"})
				} else {
					raw = append(raw, map[string]any{"op": "add", "path": "members", "value": ids(2)})
				}
			}
		}
		var ops []PatchOp
		for _, o := range raw {
			b, _ := json.Marshal(o)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			p, err := ParsePath(m["path"].(string))
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, PatchOp{Op: m["op"].(string), Path: p, Value: m["value"]})
		}
		fast, ok := memberOnlyPatch(current, ops)
		if !ok {
			t.Fatalf("case %d: fast path refused %v", i, raw)
		}
		res := map[string]any{"displayName": "g", "members": MemberList(current)}
		if _, err := ApplyPatch(res, ops, KindGroup); err != nil {
			t.Fatalf("case %d: ApplyPatch: %v", i, err)
		}
		slow, err := MemberIDs(res["members"])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fast, slow) && !(len(fast) == 0 && len(slow) == 0) {
			t.Fatalf("case %d: ops %v on %v: fast %v, ApplyPatch %v", i, raw, current, fast, slow)
		}
	}
	for _, raw := range []string{"displayName", `members[value eq "a"].display`, `members[display eq "a"]`} {
		p, _ := ParsePath(raw)
		if _, ok := memberOnlyPatch(nil, []PatchOp{{Op: "remove", Path: p}}); ok {
			t.Errorf("%s: fast path taken", raw)
		}
	}
	if _, ok := memberOnlyPatch(nil, []PatchOp{{Op: "add", Path: mustPath(t, "members"), Value: []any{"bare-string"}}}); ok {
		t.Error("malformed member taken by the fast path")
	}
}

func mustPath(t *testing.T, raw string) *filter.Path {
	t.Helper()
	p, err := ParsePath(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSimplePathMatchesParser: the fast path parser builds what the general
// one builds for every filter-less path IdPs send.
func TestSimplePathMatchesParser(t *testing.T) {
	for _, raw := range []string{
		"active", "name.givenName", "displayName", "members", "emails",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		"urn:ietf:params:scim:schemas:core:2.0:User:userName",
	} {
		fast, ok := parseSimplePath(raw)
		if !ok {
			t.Errorf("%s: fast path not taken", raw)
			continue
		}
		slow, err := filter.ParsePath([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if fast.String() != slow.String() || fast.AttributePath.URI() != slow.AttributePath.URI() ||
			fast.AttributePath.SubAttributeName() != slow.AttributePath.SubAttributeName() {
			t.Errorf("%s: fast %v (uri %q sub %q), parser %v (uri %q sub %q)", raw, fast, fast.AttributePath.URI(), fast.AttributePath.SubAttributeName(),
				slow, slow.AttributePath.URI(), slow.AttributePath.SubAttributeName())
		}
	}
	for _, raw := range []string{`emails[type eq "work"].value`, "1abc", "a.b.c", "", "urn:x:", "name..x"} {
		if _, ok := parseSimplePath(raw); ok {
			t.Errorf("%q: fast path taken", raw)
		}
	}
}
