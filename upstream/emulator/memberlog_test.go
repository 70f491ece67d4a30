package emulator

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// TestMembershipLog: every endpoint that changes membership logs the
// changes it was asked for, an add of a member already there included,
// under the number of its call; refused calls log nothing, and a call
// applied before a faulty answer logs its changes.
func TestMembershipLog(t *testing.T) {
	h := newHarness(t, Config{DisableRateLimits: true})
	pid := h.srv.PartitionID()
	a := h.srv.SeedUser(upstream.User{UserName: "a"})
	b := h.srv.SeedUser(upstream.User{UserName: "b"})
	if got := h.srv.MembershipLog(); len(got) != 0 {
		t.Fatalf("seeding logged %v", got)
	}

	// lastCall is the number of the latest call the emulator logged.
	lastCall := func() int {
		reqs := h.srv.Requests()
		return reqs[len(reqs)-1].Call
	}
	var want []MembershipOp
	check := func(step string) {
		t.Helper()
		if got := h.srv.MembershipLog(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: log\n%+v\nwant\n%+v", step, got, want)
		}
	}

	// POST /Group: initial members.
	gid := uuid.NewString()
	h.call(http.MethodPost, "/api/Group", upstream.NewGroup{PartitionGlobalID: pid, ID: gid, Name: "G", DirectoryUserMemberIDs: []string{a.ID}}, 201)
	want = append(want, MembershipOp{Group: gid, User: a.ID, Add: true, Call: lastCall()})
	check("POST /Group")

	// PUT /Group: adds, then removes; a is already a member, and the
	// add is logged all the same.
	h.call(http.MethodPut, "/api/Group/"+gid, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "G",
		DirectoryUserIDsToAdd: []string{a.ID, b.ID}, DirectoryUserIDsToRemove: []string{a.ID}}, 200)
	c := lastCall()
	want = append(want, MembershipOp{gid, a.ID, true, c}, MembershipOp{gid, b.ID, true, c}, MembershipOp{gid, a.ID, false, c})
	check("PUT /Group")

	// PUT /User: groupIDsToAdd and groupIDsToRemove, ids in canonical form.
	h.call(http.MethodPut, "/api/User/"+a.ID, upstream.UserUpdate{GroupIDsToAdd: []string{strings.ToUpper(gid)}}, 200)
	want = append(want, MembershipOp{gid, a.ID, true, lastCall()})
	h.call(http.MethodPut, "/api/User/"+b.ID, upstream.UserUpdate{GroupIDsToRemove: []string{gid}}, 200)
	want = append(want, MembershipOp{gid, b.ID, false, lastCall()})
	check("PUT /User")

	// BulkCreate with groupIDs: each new user joins each group.
	g2 := h.srv.SeedGroup("G2").ID
	created := decode[upstream.BulkCreateResponse](t, h.call(http.MethodPost, "/api/User/BulkCreate", map[string]any{
		"partitionGlobalId": pid, "groupIDs": []string{gid, g2},
		"users": []map[string]any{{"userName": "c"}, {"userName": "d"}},
	}, 200))
	c = lastCall()
	for _, u := range created.Users {
		want = append(want, MembershipOp{gid, u.ID, true, c}, MembershipOp{g2, u.ID, true, c})
	}
	check("BulkCreate")

	// Refused calls log nothing: an unknown member, an unknown group, a
	// fault answered before the call is applied.
	h.call(http.MethodPut, "/api/Group/"+gid, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "G", DirectoryUserIDsToAdd: []string{uuid.NewString()}}, 400)
	h.call(http.MethodPut, "/api/User/"+a.ID, upstream.UserUpdate{GroupIDsToAdd: []string{uuid.NewString()}}, 400)
	h.srv.Inject(Fault{Method: http.MethodPut, Status: http.StatusServiceUnavailable})
	h.call(http.MethodPut, "/api/Group/"+gid, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "G", DirectoryUserIDsToRemove: []string{a.ID}}, 503)
	check("refused calls")

	// Applied, then answered with a fault: logged under its call, which
	// the call log shows with the fault's status.
	h.srv.Inject(Fault{Method: http.MethodPut, Status: http.StatusBadGateway, Delay: time.Millisecond, AfterApply: true})
	h.call(http.MethodPut, "/api/Group/"+gid, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "G", DirectoryUserIDsToRemove: []string{a.ID}}, 502)
	want = append(want, MembershipOp{gid, a.ID, false, lastCall()})
	check("AfterApply fault")
	reqs := h.srv.Requests()
	if last := reqs[len(reqs)-1]; last.Status != http.StatusBadGateway || last.Call != want[len(want)-1].Call {
		t.Errorf("call log ends with %+v, want the 502 of call %d", last, want[len(want)-1].Call)
	}

	// Calls are numbered in arrival order, token calls included.
	for i := 1; i < len(reqs); i++ {
		if reqs[i].Call <= reqs[i-1].Call {
			t.Fatalf("call numbers not increasing: %+v then %+v", reqs[i-1], reqs[i])
		}
	}
	if reqs[0].Call != 1 || reqs[0].Path != "/connect/token" {
		t.Errorf("first call %+v, want the harness's token call numbered 1", reqs[0])
	}
}

// TestMembershipLogCap: Config.MaxRequestLog bounds the membership log too,
// dropping the oldest entries.
func TestMembershipLogCap(t *testing.T) {
	h := newHarness(t, Config{DisableRateLimits: true, MaxRequestLog: 8})
	pid := h.srv.PartitionID()
	gid := h.srv.SeedGroup("G").ID
	var ids []string
	for i := range 20 {
		ids = append(ids, h.srv.SeedUser(upstream.User{UserName: "u" + string(rune('a'+i))}).ID)
	}
	for _, id := range ids {
		h.call(http.MethodPut, "/api/Group/"+gid, upstream.GroupUpdate{PartitionGlobalID: pid, Name: "G", DirectoryUserIDsToAdd: []string{id}}, 200)
	}
	got := h.srv.MembershipLog()
	if len(got) == 0 || len(got) > 8 || got[len(got)-1].User != ids[len(ids)-1] {
		t.Fatalf("capped log %+v: want at most 8 entries ending with the newest", got)
	}
}
