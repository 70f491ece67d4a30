package scimdoc

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// benchUser is a user resource as the bridge stores it after Entra's create
// (idp-traffic.md §B.2).
const benchUser = `{"externalId":"ada","userName":"ada@corp.example","active":true,"displayName":"Ada Lovelace",
 "emails":[{"primary":true,"type":"work","value":"ada@corp.example"}],
 "name":{"formatted":"Ada Lovelace","familyName":"Lovelace","givenName":"Ada"},
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1001","department":"R&D"}}`

// benchMemberIDs returns n distinct GUID-shaped ids starting at from.
func benchMemberIDs(from, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-000000000000", from+i)
	}
	return ids
}

// memberValues is a PATCH value array of members, as Entra sends it.
func memberValues(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = `{"$ref":null,"value":"` + id + `"}`
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// BenchmarkApplyPatch measures PATCH application on the resources the
// bridge patches: Entra's user updates, and member Add/Remove on groups of
// growing size (PatchGroup patches the whole member list, so the cost grows
// with the group). Every iteration changes the resource.
func BenchmarkApplyPatch(b *testing.B) {
	type bench struct {
		name string
		kind Kind
		res  map[string]any
		body string
	}
	var benches []bench
	user := func() map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(benchUser), &m); err != nil {
			b.Fatal(err)
		}
		return m
	}
	benches = append(benches,
		bench{"user/entra-legacy-replace-4", KindUser, user(), `{"Operations":[
		 {"op":"Replace","path":"emails[type eq \"work\"].value","value":"ada.l@corp.example"},
		 {"op":"Replace","path":"name.familyName","value":"Byron"},
		 {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Retail"},
		 {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"1002"}]}`},
		bench{"user/entra-flag-replace-pathless", KindUser, user(), `{"Operations":[
		 {"op":"replace","value":{"displayName":"Ada Byron","name.givenName":"Ada","name.familyName":"Byron",
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1002"}}]}`},
		bench{"user/disable-legacy", KindUser, user(), `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`},
	)
	for _, size := range []int{100, 2_000, 20_000} {
		members := benchMemberIDs(0, size)
		group := func() map[string]any {
			return map[string]any{"displayName": "Finance", "externalId": "8aa1", "members": MemberList(members)}
		}
		benches = append(benches,
			bench{fmt.Sprintf("group/add-20/of-%d", size), KindGroup, group(),
				`{"Operations":[{"op":"Add","path":"members","value":` + memberValues(benchMemberIDs(size, 20)) + `}]}`},
			bench{fmt.Sprintf("group/remove-20-legacy/of-%d", size), KindGroup, group(),
				`{"Operations":[{"op":"Remove","path":"members","value":` + memberValues(members[size/2:size/2+20]) + `}]}`},
			bench{fmt.Sprintf("group/remove-1-filter/of-%d", size), KindGroup, group(),
				`{"Operations":[{"op":"remove","path":"members[value eq \"` + members[size/2] + `\"]"}]}`},
		)
	}
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			ops, err := decodePatchBody([]byte(bc.body))
			if err != nil {
				b.Fatal(err)
			}
			if changed, err := ApplyPatch(maps.Clone(bc.res), ops, bc.kind); err != nil || !changed {
				b.Fatalf("ApplyPatch: changed %v, err %v", changed, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				// ApplyPatch works on a deep copy and only swaps the
				// top-level keys of its argument, so a shallow clone
				// gives every iteration the original resource.
				if _, err := ApplyPatch(maps.Clone(bc.res), ops, bc.kind); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
