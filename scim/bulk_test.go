package scim_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/scim"
)

const bulkRequestURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

func bulkBody(failOnErrors int, ops ...map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{bulkRequestURN}, "Operations": ops}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

// bulkResult is one entry of a BulkResponse.
type bulkResult struct {
	Location, Method, BulkID, Version, Status string
	Response                                  map[string]any
}

func bulkResults(tb testing.TB, r response) []bulkResult {
	tb.Helper()
	var out struct {
		Schemas    []string
		Operations []bulkResult
	}
	if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
		tb.Fatalf("BulkResponse: %v: %s", err, short(r.raw))
	}
	if !slices.Equal(out.Schemas, []string{"urn:ietf:params:scim:api:messages:2.0:BulkResponse"}) {
		tb.Errorf("schemas = %v", out.Schemas)
	}
	return out.Operations
}

func statuses(res []bulkResult) string {
	var s []string
	for _, r := range res {
		s = append(s, r.Status)
	}
	return strings.Join(s, " ")
}

// TestBulkRequestRefused: a request that is not a well-formed
// BulkRequest, or is too big, fails as a whole (RFC 7644 §3.7.3, §3.7.4)
// and runs nothing.
func TestBulkRequestRefused(t *testing.T) {
	b := newBridge(t, bridgeOptions{cfg: scim.Config{MaxBulkOperations: 2, MaxBodyBytes: 4096}})
	post := func(bulkID string) map[string]any {
		return map[string]any{"method": "POST", "path": "/Users", "bulkId": bulkID, "data": userBody(bulkID + "@corp.example")}
	}
	tests := []struct {
		name         string
		body         any
		wantStatus   int
		wantScimType string
	}{
		{name: "not JSON", body: "{", wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "no schemas", body: map[string]any{"Operations": []any{post("a")}}, wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "no operations", body: bulkBody(0), wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "too many operations", body: bulkBody(0, post("a"), post("b"), post("c")), wantStatus: 413, wantScimType: "tooMany"},
		{name: "too large", body: bulkBody(0, map[string]any{"method": "POST", "path": "/Users", "bulkId": "a", "data": map[string]any{"userName": strings.Repeat("x", 5000)}}), wantStatus: 413},
		{name: "failOnErrors zero", body: map[string]any{"schemas": []string{bulkRequestURN}, "failOnErrors": 0, "Operations": []any{post("a")}}, wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "GET operation", body: bulkBody(0, map[string]any{"method": "GET", "path": "/Users"}), wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "POST without bulkId", body: bulkBody(0, map[string]any{"method": "POST", "path": "/Users", "data": userBody("a@corp.example")}), wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "duplicate bulkId", body: bulkBody(0, post("a"), post("a")), wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "PUT without data", body: bulkBody(0, map[string]any{"method": "PUT", "path": "/Users/x"}), wantStatus: 400, wantScimType: "invalidSyntax"},
		{name: "relative path", body: bulkBody(0, map[string]any{"method": "DELETE", "path": "Users/x"}), wantStatus: 400, wantScimType: "invalidSyntax"},
		// The second operation is malformed: the first does not run either.
		{name: "malformed after a good one", body: bulkBody(0, post("a"), map[string]any{"method": "PATCH", "path": "/Users/x"}), wantStatus: 400, wantScimType: "invalidSyntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(b.emu.Requests())
			wantSCIMError(t, b.api(t, http.MethodPost, "/Bulk", tt.body), tt.wantStatus, tt.wantScimType)
			if n := len(b.emu.Requests()) - before; n != 0 {
				t.Errorf("a refused request made %d UiPath calls", n)
			}
		})
	}
}

// TestBulkReferences: bulkId references resolve in member values, PATCH
// values and paths, and operation paths (RFC 7644 §3.7.2); a reference
// that cannot be resolved, circular ones included, gives its operation
// 409 (§3.7.1) and the others go on.
func TestBulkReferences(t *testing.T) {
	b := newBridge(t, bridgeOptions{cfg: scim.Config{BaseURL: "https://bridge.example/scim/v2"}})
	ops := []map[string]any{
		{"method": "POST", "path": "/Users", "bulkId": "ada", "data": userBody("ada@corp.example")},
		{"method": "POST", "path": "/Users", "bulkId": "bob", "data": userBody("bob@corp.example")},
		{"method": "POST", "path": "/Groups", "bulkId": "fin", "data": map[string]any{
			"schemas": []string{groupURN}, "displayName": "Finance", "members": []any{map[string]any{"value": "bulkId:ada"}}}},
		{"method": "PATCH", "path": "/Groups/bulkId:fin", "data": map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "bulkId:bob"}}}}}},
		{"method": "PATCH", "path": "/Groups/bulkId:fin", "data": map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "bulkId:ada"]`}}}},
		{"method": "PUT", "path": "/Users/bulkId:bob", "data": func() map[string]any { u := userBody("bob@corp.example"); u["title"] = "Clerk"; return u }()},
		// Unknown, and a group whose POST fails (no displayName) referenced later.
		{"method": "POST", "path": "/Groups", "bulkId": "bad", "data": map[string]any{"schemas": []string{groupURN}}},
		{"method": "PATCH", "path": "/Groups/bulkId:bad", "data": map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "x"}}}},
		{"method": "POST", "path": "/Groups", "bulkId": "ops", "data": map[string]any{
			"schemas": []string{groupURN}, "displayName": "Ops", "members": []any{map[string]any{"value": "bulkId:nobody"}}}},
		// Two groups naming each other.
		{"method": "POST", "path": "/Groups", "bulkId": "g1", "data": map[string]any{
			"schemas": []string{groupURN}, "displayName": "G1", "members": []any{map[string]any{"value": "bulkId:g2"}}}},
		{"method": "POST", "path": "/Groups", "bulkId": "g2", "data": map[string]any{
			"schemas": []string{groupURN}, "displayName": "G2", "members": []any{map[string]any{"value": "bulkId:g1"}}}},
		{"method": "DELETE", "path": "/Users/bulkId:ada"},
	}
	res := bulkResults(t, b.must(t, http.StatusOK, http.MethodPost, "/Bulk", bulkBody(0, ops...)))
	if got, want := statuses(res), "201 201 201 204 204 200 400 409 409 409 409 204"; got != want {
		t.Fatalf("statuses %q, want %q: %+v", got, want, res)
	}
	ids := map[string]string{}
	for i, r := range res[:3] {
		if r.Method != "POST" || r.BulkID != ops[i]["bulkId"] || r.Version == "" || !strings.HasPrefix(r.Location, "https://bridge.example/scim/v2/") {
			t.Errorf("result %d = %+v", i, r)
		}
		ids[r.BulkID] = r.Location[strings.LastIndexByte(r.Location, '/')+1:]
		if r.Response != nil {
			t.Errorf("result %d carries a response: %v", i, r.Response)
		}
	}
	if want := "https://bridge.example/scim/v2/Groups/" + ids["fin"]; res[3].Location != want {
		t.Errorf("PATCH location %q, want %q", res[3].Location, want)
	}
	if res[6].Location != "" || res[6].Response["scimType"] != "invalidValue" || res[6].Response["status"] != "400" {
		t.Errorf("failed POST = %+v; want no location and the SCIM error", res[6])
	}
	for i, want := range map[int]string{7: `"bad"`, 8: `"nobody"`, 9: "circular", 10: "circular"} {
		schemas, _ := res[i].Response["schemas"].([]any)
		if d, _ := res[i].Response["detail"].(string); !strings.Contains(d, want) || len(schemas) != 1 || schemas[0] != errorURN || res[i].Response["status"] != "409" {
			t.Errorf("result %d response = %v; want a SCIM 409 whose detail says %s", i, res[i].Response, want)
		}
	}

	g := b.must(t, http.StatusOK, http.MethodGet, "/Groups/"+ids["fin"], nil)
	members, _ := g.body["members"].([]any)
	if len(members) != 1 || members[0].(map[string]any)["value"] != ids["bob"] {
		t.Errorf("Finance members %v, want only bob (%s)", members, ids["bob"])
	}
	if u := b.must(t, http.StatusOK, http.MethodGet, "/Users/"+ids["bob"], nil); u.body["title"] != "Clerk" {
		t.Errorf("bob's title %v after the PUT", u.body["title"])
	}
	b.must(t, http.StatusNotFound, http.MethodGet, "/Users/"+ids["ada"], nil)
	for _, name := range []string{"Ops", "G1", "G2"} {
		r := b.must(t, http.StatusOK, http.MethodGet, `/Groups?filter=displayName%20eq%20%22`+name+`%22`, nil)
		if r.body["totalResults"] != float64(0) {
			t.Errorf("group %s was created: %s", name, short(r.raw))
		}
	}
}
