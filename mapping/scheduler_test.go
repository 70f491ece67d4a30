package mapping_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"

	"github.com/scim-bridge/scim-bridge/internal/clocktest"
)

// queuedCfg is the service's configuration: queued writes, auto strategy,
// and a scheduler that sends as soon as a call is ripe.
func queuedCfg() mapping.Config {
	return mapping.Config{MembershipWrites: mapping.WritesQueued, Strategy: mapping.StrategyAuto, Quiet: time.Millisecond}
}

// patchMembers adds (op "add") or removes members of a group.
func (e *env) patchMembers(groupID, op string, ids ...string) {
	e.t.Helper()
	vals := make([]string, len(ids))
	for i, id := range ids {
		vals[i] = fmt.Sprintf(`{"value":%q}`, id)
	}
	body := patchBody(fmt.Sprintf(`[{"op":%q,"path":"members","value":[%s]}]`, op, strings.Join(vals, ",")))
	if _, err := e.groups.Patch(e.t.Context(), groupID, ops(e.t, body), ""); err != nil {
		e.t.Fatalf("PATCH group %s %s %d members: %v", groupID, op, len(ids), err)
	}
}

func (e *env) drain() {
	e.t.Helper()
	if err := e.prov.Drain(e.t.Context()); err != nil {
		e.t.Fatalf("Drain: %v", err)
	}
}

func (e *env) pending() []cache.Pending {
	e.t.Helper()
	p, err := e.store.PendingChanges(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) upMembers(groupID string) []string {
	ids := e.emu.GroupMemberIDs(groupID)
	for i := range ids {
		ids[i] = strings.ToLower(ids[i])
	}
	slices.Sort(ids)
	return ids
}

func lower(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strings.ToLower(id)
	}
	slices.Sort(out)
	return out
}

// TestQueuedMembershipIsAcknowledgedOnceStored: a queued PATCH answers
// before UiPath is called, the store (and so GET) shows the desired
// members, and one call carries every PATCH the IdP sent for the group.
func TestQueuedMembershipIsAcknowledgedOnceStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: queuedCfg()})
		ids := e.mustUsers(6)
		g := e.mustGroup("Engineers")
		e.resetCalls()
		e.patchMembers(g.ID, "add", ids[0:2]...)
		e.patchMembers(g.ID, "add", ids[2:4]...)
		e.patchMembers(g.ID, "add", ids[4:6]...)
		e.patchMembers(g.ID, "remove", ids[5])
		if n := e.writes(); n != 0 {
			t.Fatalf("queued PATCHes made %d UiPath writes before the scheduler ran", n)
		}
		rec, _ := e.record(cache.KindGroup, g.ID)
		if want := sorted(ids[:5]...); !slices.Equal(rec.Members, want) {
			t.Fatalf("store members = %v, want the desired %v", rec.Members, want)
		}
		if n := len(e.pending()); n != 5 {
			t.Fatalf("pending = %d, want 5 (the add and remove of one user cancel)", n)
		}
		e.drain()
		if got, want := e.upMembers(g.ID), lower(ids[:5]); !slices.Equal(got, want) {
			t.Fatalf("UiPath members = %v, want %v", got, want)
		}
		if n := e.writes(); n != 1 {
			t.Fatalf("UiPath writes = %d, want 1: one PUT /Group carries all four PATCHes", n)
		}
		if n := len(e.pending()); n != 0 {
			t.Fatalf("pending after drain = %d", n)
		}
	})
}

// TestSchedulerPlansAcrossRequests: many single-member PATCHes over many
// groups go out as the minimum vertex cover of all of them, not one plan
// per request; a change undone before it was sent never reaches UiPath.
func TestSchedulerPlansAcrossRequests(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: queuedCfg()})
		users, groups := e.mustUsers(8), e.mustGroups(5)
		e.resetCalls()
		var changes []mapping.Change
		want := map[string][]string{}
		for gi, g := range groups {
			for ui, u := range users {
				if (gi+ui)%3 == 0 || (gi == 0 && ui < 6) {
					e.patchMembers(g, "add", u)
					changes = append(changes, mapping.Change{User: u, Group: g, Add: true})
					want[g] = append(want[g], u)
				}
			}
		}
		// Undone before the scheduler ran: never sent.
		e.patchMembers(groups[4], "add", users[7])
		e.patchMembers(groups[4], "remove", users[7])
		sent := 0
		for range 100 {
			rep := e.round()
			sent += rep.Sent
			if rep.Pending == 0 {
				break
			}
			time.Sleep(rep.Wait)
		}
		minimum := len(mapping.PlanMembership(mapping.StrategyAuto, changes))
		if n := e.calls(http.MethodPut, "/"); n != minimum || sent != n {
			t.Fatalf("PUTs = %d, rounds reported %d sent; want both the global minimum %d (%d changes, %d requests)", n, sent, minimum, len(changes), len(changes)+2)
		}
		for _, g := range groups {
			if got, want := e.upMembers(g), lower(want[g]); !slices.Equal(got, want) {
				t.Fatalf("group %s in UiPath = %v, want %v", g, got, want)
			}
		}
	})
}

// TestDeactivationCarriesPendingChanges: a leaver's deactivation is one
// PUT /User that also carries the user's queued group changes.
func TestDeactivationCarriesPendingChanges(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: queuedCfg()})
		u := e.mustUser("leaver")
		g1, g2 := e.mustGroup("A"), e.mustGroup("B", u.ID)
		e.patchMembers(g1.ID, "add", u.ID)
		e.patchMembers(g2.ID, "remove", u.ID)
		e.resetCalls()
		if _, err := e.users.Patch(t.Context(), u.ID, ops(t, patchBody(`[{"op":"replace","path":"active","value":false}]`)), ""); err != nil {
			t.Fatal(err)
		}
		puts := e.wire.sent(http.MethodPut, "/User/")
		if len(puts) != 1 {
			t.Fatalf("PUT /User calls = %d, want 1", len(puts))
		}
		b := puts[0].Body
		if b["isActive"] != false || !slices.Equal(stringsOf(b["groupIDsToAdd"]), []string{g1.ID}) || !slices.Equal(stringsOf(b["groupIDsToRemove"]), []string{g2.ID}) {
			t.Fatalf("deactivation body = %v, want isActive false carrying +%s -%s", b, g1.ID, g2.ID)
		}
		if n := len(e.pending()); n != 0 {
			t.Fatalf("pending after the deactivation = %d, want 0", n)
		}
		if e.upUser(u.ID).IsActive {
			t.Fatal("UiPath account still active")
		}
		if got := e.upMembers(g1.ID); !slices.Equal(got, lower([]string{u.ID})) {
			t.Fatalf("group A in UiPath = %v", got)
		}
		if got := e.upMembers(g2.ID); len(got) != 0 {
			t.Fatalf("group B in UiPath = %v, want empty", got)
		}
	})
}

// TestRefusedChangeIsRecordedAndTheRestLands: an account deleted directly
// in UiPath makes UiPath refuse the whole PUT /Group; the scheduler finds
// the change at fault and lets the others land. The account cannot come
// back (another account has taken its userName since), so the change is
// recorded with its reason, and nothing is retried forever.
func TestRefusedChangeIsRecordedAndTheRestLands(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: queuedCfg()})
		var ids []string
		for i := range 30 {
			ids = append(ids, e.mustUser(fmt.Sprintf("u%02d", i)).ID)
		}
		g := e.mustGroup("Sales")
		e.patchMembers(g.ID, "add", ids...)
		if err := e.up.DeleteUser(t.Context(), ids[17]); err != nil {
			t.Fatal(err)
		}
		e.emu.SeedUser(upstream.User{UserName: "u17@corp.example", Email: "u17@corp.example", IsActive: true})
		e.drain()
		want := lower(slices.Delete(slices.Clone(ids), 17, 18))
		if got := e.upMembers(g.ID); !slices.Equal(got, want) {
			t.Fatalf("UiPath members = %d, want the 29 accounts that exist", len(got))
		}
		fails, err := e.store.Failures(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(fails) != 1 || fails[0].User != ids[17] || fails[0].Group != g.ID || !fails[0].Add || !strings.Contains(fails[0].Reason, "no longer exists") {
			t.Fatalf("failures = %+v, want the one add of the deleted account", fails)
		}
		if n := len(e.pending()); n != 0 {
			t.Fatalf("pending after drain = %d, want 0 (nothing retried forever)", n)
		}
		if n := e.calls(http.MethodPut, "/Group"); n > 12 {
			t.Fatalf("PUT /Group calls = %d: finding one bad change should take a few halvings", n)
		}
	})
}

// TestTransientFailureIsRetried: a 503 leaves the changes queued, due
// later; they land on the next try.
func TestTransientFailureIsRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: queuedCfg()})
		u := e.mustUser("ada")
		g := e.mustGroup("Ops")
		e.patchMembers(g.ID, "add", u.ID)
		e.emu.Inject(emulator.Fault{Method: http.MethodPut, Status: http.StatusServiceUnavailable, Times: -1})
		// Past the 1 ms lull, so that the round sends the change (a round
		// within it would rightly hold it).
		time.Sleep(10 * time.Millisecond)
		rep, err := e.prov.Round(t.Context())
		if err != nil || rep.Retried != 1 || rep.Done != 0 {
			t.Fatalf("round = %+v, %v; want one change retried", rep, err)
		}
		p := e.pending()
		if len(p) != 1 || !p[0].Attempted || p[0].Tries != 1 || !p[0].Due.After(time.Now()) {
			t.Fatalf("pending after a 503 = %+v, want attempted, one try, due later", p)
		}
		e.emu.ClearFaults()
		e.drain()
		if got := e.upMembers(g.ID); !slices.Equal(got, lower([]string{u.ID})) {
			t.Fatalf("UiPath members = %v", got)
		}
	})
}

// TestSyncWritesStaySync: with membership writes sync, a PATCH reaches
// UiPath before it is answered and nothing is queued.
func TestSyncWritesStaySync(t *testing.T) {
	e := newEnv(t, envOptions{cfg: mapping.Config{MembershipWrites: mapping.WritesSync, Strategy: mapping.StrategyAuto}})
	u := e.mustUser("ada")
	g := e.mustGroup("Ops")
	e.patchMembers(g.ID, "add", u.ID)
	if got := e.upMembers(g.ID); !slices.Equal(got, lower([]string{u.ID})) {
		t.Fatalf("UiPath members = %v", got)
	}
	if n := len(e.pending()); n != 0 {
		t.Fatalf("pending = %d in sync mode", n)
	}
}

// TestReleaseStaleClaims: changes a stopped process had claimed are sent
// again at once after a restart on the embedded store, not when the
// claims run out; they stay attempted (the dead call may have landed).
func TestReleaseStaleClaims(t *testing.T) {
	e := newEnv(t, envOptions{cfg: queuedCfg()})
	u1, u2 := e.mustUser("ada"), e.mustUser("bob")
	g := e.mustGroup("Ops")
	e.patchMembers(g.ID, "add", u1.ID, u2.ID)
	now := time.Now()
	if _, err := e.store.ClaimPending(t.Context(), e.pending(), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.prov.Round(t.Context()); err != nil || rep.Sent != 0 {
		t.Fatalf("round over claimed changes = %+v, %v; want nothing sent", rep, err)
	}
	n, err := e.prov.ReleaseStaleClaims(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("ReleaseStaleClaims = %d, %v; want 2", n, err)
	}
	for _, p := range e.pending() {
		if p.Claimed.After(time.Now()) || !p.Attempted {
			t.Fatalf("released change %+v: want unclaimed and attempted", p)
		}
	}
	e.drain()
	if got := e.upMembers(g.ID); !slices.Equal(got, lower([]string{u1.ID, u2.ID})) {
		t.Fatalf("UiPath members = %v", got)
	}
}

// pushEnv is a provisioner with queued writes, Quiet 1s and MaxHold 20s on
// a hand-moved clock, ten groups and forty users.
func pushEnv(t *testing.T, store envtest.Store) (*env, *clocktest.Clock, []string, []string) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	cfg := queuedCfg()
	cfg.Quiet, cfg.MaxHold, cfg.Now = time.Second, 20*time.Second, clock.Now
	e := newEnv(t, envOptions{store: store, cfg: cfg})
	users, groups := e.mustUsers(40), e.mustGroups(10)
	e.resetCalls()
	return e, clock, users, groups
}

// mustUsers creates users u0…u(n-1) and returns their ids.
func (e *env) mustUsers(n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = e.mustUser(fmt.Sprintf("u%d", i)).ID
	}
	return ids
}

// mustGroups creates empty groups G0…G(n-1) and returns their ids.
func (e *env) mustGroups(n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = e.mustGroup(fmt.Sprintf("G%d", i)).ID
	}
	return ids
}

// round runs one scheduler round and returns it.
func (e *env) round() mapping.RoundReport {
	e.t.Helper()
	rep, err := e.prov.Round(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

// TestSchedulerHoldsAnInterleavedPush: an IdP that works through all its
// groups at once, coming back to each every second or two, gets one PUT
// per group, sent once the push pauses, instead of a PUT at every lull
// and another when the push comes back. The rule's other sides: MaxHold
// still bounds the wait, and a push that sends one group after another
// (Okta, Entra) is not held: each group goes out once its burst has
// settled, while the push goes on.
func TestSchedulerHoldsAnInterleavedPush(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e, clock, users, groups := pushEnv(t, store)
		want := map[string][]string{}
		// Every 200ms the push sends a member to one group, going round
		// the ten groups: each group hears from it every 2s, for 8s
		// (forty PATCHes).
		held := false
		for step := range 40 {
			g := groups[step%10]
			e.patchMembers(g, "add", users[step])
			want[g] = append(want[g], users[step])
			clock.Advance(200 * time.Millisecond)
			rep := e.round()
			if rep.Sent != 0 {
				t.Fatalf("step %d (%v into the push): the round sent %d calls while the push was still coming back to its groups", step, time.Duration(step+1)*200*time.Millisecond, rep.Sent)
			}
			held = held || rep.HoldingPush
		}
		if !held {
			t.Fatal("no round reported holding the interleaved push")
		}
		// The push pauses: after Quiet every group goes out, once.
		clock.Advance(time.Second)
		if rep := e.round(); rep.Sent != 10 || rep.HoldingPush {
			t.Fatalf("after the pause: sent %d calls (holding %v), want 10, one per group", rep.Sent, rep.HoldingPush)
		}
		if n := e.calls(http.MethodPut, "/"); n != 10 {
			t.Fatalf("PUTs = %d, want 10: one per group", n)
		}
		for _, g := range groups {
			if got, want := e.upMembers(g), lower(want[g]); !slices.Equal(got, want) {
				t.Fatalf("group %s in UiPath = %v, want %v", g, got, want)
			}
		}
	})
}

// TestSchedulerMaxHoldBoundsAPush: a push that never pauses is held at most
// MaxHold from a call's first change.
func TestSchedulerMaxHoldBoundsAPush(t *testing.T) {
	e, clock, users, groups := pushEnv(t, envtest.Bolt)
	// Two groups, revisited every 500ms, for 30s: longer than MaxHold.
	sentAt := time.Duration(0)
	for step := range 60 {
		e.patchMembers(groups[step%2], "add", users[step%40])
		clock.Advance(500 * time.Millisecond)
		if rep := e.round(); rep.Sent > 0 && sentAt == 0 {
			sentAt = time.Duration(step+1) * 500 * time.Millisecond
		}
	}
	if sentAt == 0 || sentAt > 20*time.Second+500*time.Millisecond {
		t.Fatalf("first call sent %v into a push that never paused, want by MaxHold (20s)", sentAt)
	}
}

// TestSchedulerSendsAGroupedPushAsItGoes: a push that sends one group's
// PATCHes one after another (Okta's group push, Entra) is not held for the
// push: each group is sent once its burst is settleQuiet (3s) old, while
// the IdP is still sending the next groups, and once only.
func TestSchedulerSendsAGroupedPushAsItGoes(t *testing.T) {
	e, clock, users, groups := pushEnv(t, envtest.Bolt)
	sentBy := map[int]int{} // step → PUTs so far
	for step := range 40 {
		// Group step/4 gets four PATCHes in a row, 250ms apart.
		e.patchMembers(groups[step/4], "add", users[step])
		clock.Advance(250 * time.Millisecond)
		if rep := e.round(); rep.HoldingPush {
			t.Fatalf("step %d: a grouped push was held as interleaved", step)
		}
		sentBy[step] = e.calls(http.MethodPut, "/")
	}
	// Group 0's burst ended at 1s; 3s after its first change (step 11,
	// 3s in) it is due, while groups 2 and 3 are still being sent.
	if sentBy[12] < 1 {
		t.Fatalf("PUTs by 3.25s into the push = %d, want group 0 sent (its burst settled at 3s)", sentBy[12])
	}
	clock.Advance(4 * time.Second)
	e.round()
	if n := e.calls(http.MethodPut, "/"); n != 10 {
		t.Fatalf("PUTs = %d, want 10: one per group", n)
	}
}

// TestSchedulerHoldsAPushThatComesBackAfterASend: groups the scheduler sent
// a moment ago and the IdP changes again are revisits too (a single new
// burst each): the push that does so is held until it pauses, instead of
// a call per group at every settle.
func TestSchedulerHoldsAPushThatComesBackAfterASend(t *testing.T) {
	e, clock, users, groups := pushEnv(t, envtest.Bolt)
	// Two members each, so that the plan's calls are the groups'.
	e.patchMembers(groups[0], "add", users[0], users[1])
	e.patchMembers(groups[1], "add", users[2], users[3])
	clock.Advance(5 * time.Second)
	if rep := e.round(); rep.Sent != 2 {
		t.Fatalf("first round sent %d calls, want the two settled groups", rep.Sent)
	}
	// Ten seconds later the push comes back to both, and goes on to the
	// other groups, a PATCH every 200ms for 4s.
	clock.Advance(10 * time.Second)
	e.patchMembers(groups[0], "add", users[4], users[5])
	e.patchMembers(groups[1], "add", users[6], users[7])
	for step := range 20 {
		e.patchMembers(groups[2+step%8], "add", users[8+step])
		clock.Advance(200 * time.Millisecond)
		if rep := e.round(); rep.Sent != 0 || !rep.HoldingPush {
			t.Fatalf("step %d: sent %d calls, holding %v; want none sent, the push held", step, rep.Sent, rep.HoldingPush)
		}
	}
	// The pause: the eight groups go out; the two sent before wait for
	// the repeat rule's longer lull (10 Quiets), then go out once.
	clock.Advance(time.Second)
	if rep := e.round(); rep.Sent != 8 {
		t.Fatalf("after the pause: sent %d calls, want 8", rep.Sent)
	}
	clock.Advance(10 * time.Second)
	if rep := e.round(); rep.Sent != 2 {
		t.Fatalf("after the repeat lull: sent %d calls, want 2", rep.Sent)
	}
	if n := e.calls(http.MethodPut, "/"); n != 12 {
		t.Fatalf("PUTs = %d, want 12: the first two, then one per group", n)
	}
}
