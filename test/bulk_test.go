package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
)

const (
	bulkRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

func bulkRequest(failOnErrors int, ops []map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{bulkRequestSchema}, "Operations": ops}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

// bulkOps returns the per-operation results of a BulkResponse.
func bulkOps(t *testing.T, r response) []map[string]any {
	t.Helper()
	if s, _ := r.body["schemas"].([]any); len(s) != 1 || s[0] != bulkResponseSchema {
		t.Fatalf("not a BulkResponse: %.300s", r.raw)
	}
	raw, _ := r.body["Operations"].([]any)
	out := make([]map[string]any, len(raw))
	for i, o := range raw {
		out[i], _ = o.(map[string]any)
	}
	return out
}

// apiCalls counts the UiPath API calls by "METHOD path", the user and
// group ids in paths left as they are.
func (e *env) apiCalls() map[string]int {
	out := map[string]int{}
	for _, r := range e.emu.Requests() {
		if strings.HasPrefix(r.Path, "/api/") {
			out[r.Method+" "+r.Path]++
		}
	}
	return out
}

func sumCalls(calls map[string]int, method string) int {
	n := 0
	for k, v := range calls {
		if strings.HasPrefix(k, method+" ") {
			n += v
		}
	}
	return n
}

// TestBulkCreatesCostThePlannersMinimum: a Bulk request creating 100 users
// and 5 groups whose members name the users by bulkId costs exactly the
// UiPath calls of the planner's minimum for those changes: one
// BulkCreate per user (creates stay one per user) and one POST /Group per
// group, which carries the group's members, so that no membership call is
// left for the planner (it would need PlanMembership's calls if the groups
// existed already). So in either membership write mode, on either store.
func TestBulkCreatesCostThePlannersMinimum(t *testing.T) {
	const users, groups = 100, 5
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprintf("queued=%v", queued), func(t *testing.T) {
			forEachStore(t, func(t *testing.T, store envtest.Store) {
				e := newEnv(t, store, envOptions{queued: queued, quiet: 20 * time.Millisecond, strategy: mapping.StrategyAuto})
				var ops []map[string]any
				for i := range users {
					ops = append(ops, map[string]any{"method": "POST", "path": "/Users", "bulkId": fmt.Sprintf("u%d", i),
						"data": newUserBody(fmt.Sprintf("bulk%03d@corp.example", i))})
				}
				// Group g holds every (g+1)th user: memberships overlap.
				var changes []mapping.Change
				wantMembers := map[string][]string{} // group bulkId → user bulkIds
				for g := range groups {
					var members []any
					gid := fmt.Sprintf("g%d", g)
					for i := 0; i < users; i += g + 1 {
						uid := fmt.Sprintf("u%d", i)
						members = append(members, map[string]any{"value": "bulkId:" + uid})
						wantMembers[gid] = append(wantMembers[gid], uid)
						changes = append(changes, mapping.Change{User: uid, Group: gid, Add: true})
					}
					ops = append(ops, map[string]any{"method": "POST", "path": "/Groups", "bulkId": gid,
						"data": map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("Bulk team %d", g), "members": members}})
				}
				e.emu.ResetRequests()
				start := time.Now()
				res := bulkOps(t, e.must(200, "POST", "/Bulk", bulkRequest(0, ops)))
				took := time.Since(start)
				if len(res) != users+groups {
					t.Fatalf("%d results, want %d", len(res), users+groups)
				}
				ids := map[string]string{}
				for i, r := range res {
					if str(r, "status") != "201" || str(r, "bulkId") != ops[i]["bulkId"] || str(r, "location") == "" || str(r, "version") == "" {
						t.Fatalf("result %d = %v", i, r)
					}
					loc := str(r, "location")
					ids[str(r, "bulkId")] = loc[strings.LastIndexByte(loc, '/')+1:]
				}
				if queued {
					// Whatever the scheduler would send, it sends now.
					if err := e.prov.Drain(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				e.quiesce()

				calls := e.apiCalls()
				// With existing groups the planner would need these calls
				// for the memberships; a create carries them instead.
				existing := len(mapping.PlanMembership(mapping.StrategyAuto, changes))
				t.Logf("UiPath calls for %d users and %d groups in one Bulk request (%v): %v; the memberships alone, on existing groups, would be %d calls",
					users, groups, took.Round(time.Millisecond), calls, existing)
				if got := calls["POST /api/User/BulkCreate"]; got != users {
					t.Errorf("%d BulkCreate calls, want %d (one per user)", got, users)
				}
				if got := calls["POST /api/Group"]; got != groups {
					t.Errorf("%d POST /Group calls, want %d", got, groups)
				}
				if total := sumCalls(calls, "POST") + sumCalls(calls, "PUT") + sumCalls(calls, "GET") + sumCalls(calls, "DELETE"); total != users+groups {
					t.Errorf("%d UiPath calls in all, want exactly %d: %v", total, users+groups, calls)
				}
				// Every membership reached UiPath once, with its group's create.
				log := e.emu.MembershipLog()
				if len(log) != len(changes) {
					t.Errorf("UiPath applied %d membership changes, want %d", len(log), len(changes))
				}
				for gid, members := range wantMembers {
					g, ok := e.emu.Group(ids[gid])
					if !ok {
						t.Fatalf("group %s not in UiPath", gid)
					}
					var want []string
					for _, uid := range members {
						want = append(want, strings.ToLower(ids[uid]))
					}
					var got []string
					for _, m := range g.Members {
						got = append(got, strings.ToLower(m.Identifier))
					}
					slices.Sort(want)
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Errorf("group %s: UiPath has %d members, want %d", gid, len(got), len(want))
					}
					rec, err := e.store.Get(t.Context(), cache.KindGroup, ids[gid])
					if err != nil || len(rec.Members) != len(want) {
						t.Errorf("group %s: store has %d members (%v), want %d", gid, len(rec.Members), err, len(want))
					}
				}
			})
		})
	}
}

// TestBulkMembershipPatchesPlannedTogether: with membership writes queued
// (the default), the membership changes of a whole Bulk request reach the
// scheduler within one lull and are planned together: 100 PATCHes, each
// adding one of 20 users to one of 5 existing groups, cost the planner's
// minimum for the 100 changes (5 calls), where sent one by one in sync
// mode they cost 100. In sync mode a Bulk request costs what the same
// requests cost one by one.
func TestBulkMembershipPatchesPlannedTogether(t *testing.T) {
	const users, groups = 20, 5
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprintf("queued=%v", queued), func(t *testing.T) {
			forEachStore(t, func(t *testing.T, store envtest.Store) {
				// A lull well beyond the request's length, so that the
				// test does not depend on the machine's speed.
				e := newEnv(t, store, envOptions{queued: queued, quiet: 2 * time.Second, strategy: mapping.StrategyAuto})
				var uids, gids []string
				for i := range users {
					uids = append(uids, str(e.must(201, "POST", "/Users", newUserBody(fmt.Sprintf("p%02d@corp.example", i))).body, "id"))
				}
				for g := range groups {
					gids = append(gids, str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("Patch team %d", g)}).body, "id"))
				}
				var ops []map[string]any
				var changes []mapping.Change
				for _, u := range uids {
					for _, g := range gids {
						ops = append(ops, map[string]any{"method": "PATCH", "path": "/Groups/" + g, "data": patchBody(
							map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u}}})})
						changes = append(changes, mapping.Change{User: u, Group: g, Add: true})
					}
				}
				e.emu.ResetRequests()
				res := bulkOps(t, e.must(200, "POST", "/Bulk", bulkRequest(0, ops)))
				for i, r := range res {
					if str(r, "status") != "204" {
						t.Fatalf("result %d = %v", i, r)
					}
				}
				if err := e.prov.Drain(t.Context()); err != nil {
					t.Fatal(err)
				}
				e.quiesce()
				calls := e.apiCalls()
				membership := sumCalls(calls, "PUT")
				minimum := len(mapping.PlanMembership(mapping.StrategyAuto, changes))
				t.Logf("queued=%v: %d membership changes in one Bulk request cost %d UiPath calls (planner's minimum %d; one by one in sync mode %d): %v",
					queued, len(changes), membership, minimum, len(changes), calls)
				want := minimum
				if !queued {
					want = len(changes)
				}
				all := 0
				for _, n := range calls {
					all += n
				}
				if membership != want || all != membership {
					t.Errorf("%d PUT calls of %d calls in all, want %d and nothing else", membership, all, want)
				}
				for _, g := range gids {
					if grp, _ := e.emu.Group(g); len(grp.Members) != users {
						t.Errorf("group %s has %d members in UiPath, want %d", g, len(grp.Members), users)
					}
				}
			})
		})
	}
}

// TestBulkFailOnErrors: with failOnErrors 1 and the second of four
// operations invalid, exactly two operations run and are reported; the
// third and fourth reach neither UiPath nor the store (RFC 7644 §3.7.3).
// Without failOnErrors every operation runs.
func TestBulkFailOnErrors(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		ops := []map[string]any{
			{"method": "POST", "path": "/Users", "bulkId": "a", "data": newUserBody("first@corp.example")},
			{"method": "POST", "path": "/Users", "bulkId": "b", "data": map[string]any{"schemas": []string{userSchema}}}, // no userName
			{"method": "POST", "path": "/Users", "bulkId": "c", "data": newUserBody("third@corp.example")},
			{"method": "POST", "path": "/Groups", "bulkId": "d", "data": map[string]any{"schemas": []string{groupSchema}, "displayName": "Fourth",
				"members": []any{map[string]any{"value": "bulkId:a"}}}},
		}
		e.emu.ResetRequests()
		res := bulkOps(t, e.must(200, "POST", "/Bulk", bulkRequest(1, ops)))
		if len(res) != 2 || str(res[0], "status") != "201" || str(res[1], "status") != "400" {
			t.Fatalf("results %v; want the first two: 201, 400", res)
		}
		resp, _ := res[1]["response"].(map[string]any)
		if str(res[1], "bulkId") != "b" || str(resp, "scimType") != "invalidValue" || str(resp, "status") != "400" || str(res[1], "location") != "" {
			t.Errorf("failed operation = %v", res[1])
		}
		if calls := e.apiCalls(); len(calls) != 1 || calls["POST /api/User/BulkCreate"] != 1 {
			t.Errorf("UiPath calls %v; want the first user's create only", calls)
		}
		if n := countUpstreamUsers(e, "third@corp.example"); n != 0 {
			t.Errorf("the third operation reached UiPath")
		}
		for _, g := range e.emu.Groups() {
			if g.Name == "Fourth" {
				t.Errorf("the fourth operation reached UiPath")
			}
		}
		snap := e.snapshot()
		if len(snap.Store) != 1 {
			t.Errorf("store holds %d records, want the first user only", len(snap.Store))
		}

		// failOnErrors 2: the same request (first user now taken) stops
		// after the second failure too; without it, all four run.
		ops[0]["data"] = newUserBody("first2@corp.example")
		ops[2]["data"] = newUserBody("first@corp.example") // taken: 409
		res = bulkOps(t, e.must(200, "POST", "/Bulk", bulkRequest(2, ops)))
		if got := len(res); got != 3 || str(res[2], "status") != "409" {
			t.Fatalf("failOnErrors 2: results %v; want three, the third 409", res)
		}
		ops[0]["data"] = newUserBody("first3@corp.example")
		res = bulkOps(t, e.must(200, "POST", "/Bulk", bulkRequest(0, ops)))
		var got []string
		for _, r := range res {
			got = append(got, str(r, "status"))
		}
		if strings.Join(got, " ") != "201 400 409 201" {
			t.Errorf("without failOnErrors: statuses %v, want 201 400 409 201", got)
		}
	})
}
