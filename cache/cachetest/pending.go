package cachetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

func queueMembers(t *testing.T, s cache.Store, id string, add, remove []string, now time.Time) {
	t.Helper()
	if _, err := s.QueueMembers(ctx(t), id, add, remove, now, nil); err != nil {
		t.Fatalf("QueueMembers(%s, +%q, -%q): %v", id, add, remove, err)
	}
}

// pendingString renders changes as "g1+u1" / "g1-u2" with the flags that
// differ from a fresh change: "!" attempted, "*" claimed at the time
// given, "@N" due N seconds after doubtBase, "#N" tries.
func pendingString(ps []cache.Pending, now time.Time) []string {
	out := []string{}
	for _, p := range ps {
		dir := "-"
		if p.Add {
			dir = "+"
		}
		s := p.Group + dir + p.User
		if p.Attempted {
			s += "!"
		}
		if p.Claimed.After(now) {
			s += "*"
		}
		if !p.Due.IsZero() {
			s += fmt.Sprintf("@%d", int(p.Due.Sub(doubtBase)/time.Second))
		}
		if p.Tries > 0 {
			s += fmt.Sprintf("#%d", p.Tries)
		}
		out = append(out, s)
	}
	return out
}

func wantPending(t *testing.T, s cache.Store, now time.Time, want ...string) {
	t.Helper()
	got, err := s.PendingChanges(ctx(t))
	if err != nil {
		t.Fatalf("PendingChanges: %v", err)
	}
	if want == nil {
		want = []string{}
	}
	if g := pendingString(got, now); !slices.Equal(g, want) {
		t.Fatalf("pending = %q, want %q", g, want)
	}
}

func claim(t *testing.T, s cache.Store, now, until time.Time, pairs ...[2]string) []cache.Pending {
	t.Helper()
	var ps []cache.Pending
	for _, p := range pairs {
		ps = append(ps, cache.Pending{Group: p[0], User: p[1]})
	}
	got, err := s.ClaimPending(ctx(t), ps, now, until)
	if err != nil {
		t.Fatalf("ClaimPending: %v", err)
	}
	return got
}

func settle(t *testing.T, s cache.Store, outcomes ...cache.Outcome) {
	t.Helper()
	if err := s.SettlePending(ctx(t), outcomes); err != nil {
		t.Fatalf("SettlePending: %v", err)
	}
}

// testQueueMembers: QueueMembers writes the desired members (Get shows
// them) and queues each pair, listed whole, per group and per user.
func testQueueMembers(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins", "u1"))
	mustCreate(t, s, group("g2", "Ops"))
	queueMembers(t, s, "g1", []string{"u2", "u3"}, []string{"u1"}, at(1))
	queueMembers(t, s, "g2", []string{"u2"}, nil, at(2))
	if got := mustGet(t, s, cache.KindGroup, "g1").Members; !slices.Equal(got, []string{"u2", "u3"}) {
		t.Fatalf("g1 members = %q, want desired [u2 u3]", got)
	}
	if got, _ := s.GroupsOf(ctx(t), "u2"); !slices.Equal(got, []string{"g1", "g2"}) {
		t.Fatalf("GroupsOf(u2) = %q", got)
	}
	wantPending(t, s, at(3), "g1-u1", "g1+u2", "g1+u3", "g2+u2")
	all, _ := s.PendingChanges(ctx(t))
	if !all[1].Since.Equal(at(1)) || !all[3].Since.Equal(at(2)) {
		t.Fatalf("Since = %v, %v; want %v, %v", all[1].Since, all[3].Since, at(1), at(2))
	}
	of, err := s.PendingOf(ctx(t), cache.KindUser, "u2")
	if err != nil || !slices.Equal(pendingString(of, at(3)), []string{"g1+u2", "g2+u2"}) {
		t.Fatalf("PendingOf(user u2) = %q, %v", pendingString(of, at(3)), err)
	}
	of, err = s.PendingOf(ctx(t), cache.KindGroup, "g1")
	if err != nil || !slices.Equal(pendingString(of, at(3)), []string{"g1-u1", "g1+u2", "g1+u3"}) {
		t.Fatalf("PendingOf(group g1) = %q, %v", pendingString(of, at(3)), err)
	}
	if of, _ := s.PendingOf(ctx(t), cache.KindUser, "u9"); len(of) != 0 {
		t.Fatalf("PendingOf(unknown) = %q", pendingString(of, at(3)))
	}
	// Queuing the same way again keeps the first Since.
	queueMembers(t, s, "g1", []string{"u2"}, nil, at(5))
	of, _ = s.PendingOf(ctx(t), cache.KindUser, "u2")
	if !of[0].Since.Equal(at(1)) {
		t.Fatalf("re-queued Since = %v, want %v", of[0].Since, at(1))
	}
	if _, err := s.QueueMembers(ctx(t), "g9", []string{"u1"}, nil, at(1), nil); err == nil {
		t.Fatal("QueueMembers on a missing group succeeded")
	}
	wantPending(t, s, at(3), "g1-u1", "g1+u2", "g1+u3", "g2+u2")
}

// testQueueCancels: an add then a remove of the same pair, never sent,
// cancel; so does a remove and an add in one delta.
func testQueueCancels(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins", "u1"))
	queueMembers(t, s, "g1", []string{"u2"}, nil, at(1))
	queueMembers(t, s, "g1", nil, []string{"u2"}, at(2))
	queueMembers(t, s, "g1", []string{"u1"}, []string{"u1"}, at(3))
	wantPending(t, s, at(3))
	if got := mustGet(t, s, cache.KindGroup, "g1").Members; !slices.Equal(got, []string{"u1"}) {
		t.Fatalf("members = %q, want [u1]", got)
	}
}

// testClaimPending: a claim takes only free, due pairs, marks them
// attempted, and returns them as they were; an expired claim is free.
func testClaimPending(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins"))
	queueMembers(t, s, "g1", []string{"u1", "u2", "u3"}, nil, at(1))
	got := claim(t, s, at(2), at(32), [2]string{"g1", "u1"}, [2]string{"g1", "u2"}, [2]string{"g1", "u9"})
	if g := pendingString(got, at(2)); !slices.Equal(g, []string{"g1+u1*", "g1+u2*"}) {
		t.Fatalf("claimed %q, want the two queued pairs, unattempted before the claim", g)
	}
	wantPending(t, s, at(2), "g1+u1!*", "g1+u2!*", "g1+u3")
	if got := claim(t, s, at(3), at(33), [2]string{"g1", "u1"}); len(got) != 0 {
		t.Fatalf("a claimed pair was claimed again: %q", pendingString(got, at(3)))
	}
	// Past the claim, the pair is free again: it stays attempted.
	got = claim(t, s, at(40), at(70), [2]string{"g1", "u1"})
	if g := pendingString(got, at(40)); !slices.Equal(g, []string{"g1+u1!*"}) {
		t.Fatalf("re-claim after expiry = %q", g)
	}
	// A change not yet due is not claimed.
	settle(t, s, cache.Outcome{Change: got[0], Result: cache.PendingRetry, Due: at(100)})
	if got := claim(t, s, at(50), at(80), [2]string{"g1", "u1"}); len(got) != 0 {
		t.Fatalf("a change due later was claimed: %q", pendingString(got, at(50)))
	}
	if got := claim(t, s, at(100), at(130), [2]string{"g1", "u1"}); len(got) != 1 || got[0].Tries != 1 {
		t.Fatalf("a due change was not claimed: %q", pendingString(got, at(100)))
	}
}

// testQueueTurnsClaimed: an opposite change of a claimed or attempted pair
// turns it round instead of cancelling it, and settling the claim by the
// rules leaves the right change behind.
func testQueueTurnsClaimed(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins"))
	queueMembers(t, s, "g1", []string{"u1", "u2", "u3"}, nil, at(1))
	claimed := claim(t, s, at(2), at(32), [2]string{"g1", "u1"}, [2]string{"g1", "u2"}, [2]string{"g1", "u3"})
	// While the add is in flight the IdP removes u1 and u2, and re-adds u2.
	queueMembers(t, s, "g1", nil, []string{"u1", "u2"}, at(3))
	queueMembers(t, s, "g1", []string{"u2"}, nil, at(4))
	wantPending(t, s, at(5), "g1-u1!*", "g1+u2!*", "g1+u3!*")
	settle(t, s,
		cache.Outcome{Change: claimed[0], Result: cache.PendingDone},
		cache.Outcome{Change: claimed[1], Result: cache.PendingDone},
		cache.Outcome{Change: claimed[2], Result: cache.PendingDone})
	// u1: UiPath holds the add, the removal is a fresh change; u2, u3: done.
	wantPending(t, s, at(5), "g1-u1")
	// A fresh change cancels again.
	queueMembers(t, s, "g1", []string{"u1"}, nil, at(6))
	wantPending(t, s, at(6))
}

// testSettlePending: unsent restores the pair, retry counts and delays it,
// failed drops it.
func testSettlePending(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins"))
	queueMembers(t, s, "g1", []string{"u1", "u2", "u3", "u4"}, nil, at(1))
	c := claim(t, s, at(2), at(32), [2]string{"g1", "u1"}, [2]string{"g1", "u2"}, [2]string{"g1", "u3"}, [2]string{"g1", "u4"})
	queueMembers(t, s, "g1", nil, []string{"u4"}, at(3)) // turned round while claimed
	settle(t, s,
		cache.Outcome{Change: c[0], Result: cache.PendingUnsent, Due: at(10)},
		cache.Outcome{Change: c[1], Result: cache.PendingRetry, Due: at(20)},
		cache.Outcome{Change: c[2], Result: cache.PendingFailed},
		cache.Outcome{Change: c[3], Result: cache.PendingFailed},
		cache.Outcome{Change: cache.Pending{Group: "g1", User: "u9", Add: true}, Result: cache.PendingDone})
	wantPending(t, s, at(5), "g1+u1@10", "g1+u2!@20#1", "g1-u4!")
	// An unsent change that was attempted before stays attempted.
	c = claim(t, s, at(20), at(50), [2]string{"g1", "u2"})
	settle(t, s, cache.Outcome{Change: c[0], Result: cache.PendingUnsent, Due: at(25)})
	wantPending(t, s, at(20), "g1+u1@10", "g1+u2!@25#1", "g1-u4!")
	// An attempted change is turned round, never cancelled; it is a new
	// change, due at once.
	queueMembers(t, s, "g1", nil, []string{"u2"}, at(21))
	wantPending(t, s, at(21), "g1+u1@10", "g1-u2!", "g1-u4!")
}

// testUpdateMembersSettlesQueue: a delta UiPath confirmed (UpdateMembers)
// drops the pairs' unsent changes and turns the ones a sender may have
// sent; Delete drops a group's or a user's changes.
func testUpdateMembersSettlesQueue(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins"))
	mustCreate(t, s, group("g2", "Ops"))
	mustCreate(t, s, user("u1", "one", ""))
	queueMembers(t, s, "g1", []string{"u1", "u2", "u3"}, nil, at(1))
	queueMembers(t, s, "g2", []string{"u1", "u2"}, nil, at(1))
	claim(t, s, at(2), at(32), [2]string{"g1", "u2"})
	updateMembers(t, s, "g1", nil, []string{"u2", "u3"}, nil)
	wantPending(t, s, at(3), "g1+u1", "g1-u2!*", "g2+u1", "g2+u2")
	if err := s.Delete(ctx(t), cache.KindUser, "u1"); err != nil {
		t.Fatal(err)
	}
	wantPending(t, s, at(3), "g1-u2!*", "g2+u2")
	if err := s.Delete(ctx(t), cache.KindGroup, "g2"); err != nil {
		t.Fatal(err)
	}
	wantPending(t, s, at(3), "g1-u2!*")
	if of, _ := s.PendingOf(ctx(t), cache.KindUser, "u1"); len(of) != 0 {
		t.Fatalf("a deleted user's changes are still listed: %q", pendingString(of, at(3)))
	}
}

// testFailures: failures are kept newest first, at most cache.MaxFailures.
func testFailures(t *testing.T, s cache.Store) {
	if got, err := s.Failures(ctx(t), 0); err != nil || len(got) != 0 {
		t.Fatalf("Failures on an empty store = %v, %v", got, err)
	}
	for i := range cache.MaxFailures + 5 {
		f := cache.Failure{Group: "g1", User: fmt.Sprintf("u%d", i), Add: i%2 == 0, Reason: "gone", At: at(i)}
		if err := s.AddFailure(ctx(t), f); err != nil {
			t.Fatalf("AddFailure: %v", err)
		}
	}
	got, err := s.Failures(ctx(t), 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("Failures(3) = %d, %v", len(got), err)
	}
	last := cache.MaxFailures + 4
	want := cache.Failure{Group: "g1", User: fmt.Sprintf("u%d", last), Add: last%2 == 0, Reason: "gone", At: at(last)}
	if got[0] != want || got[2].User != fmt.Sprintf("u%d", last-2) {
		t.Fatalf("Failures(3) = %+v, want newest first from %+v", got, want)
	}
	all, _ := s.Failures(ctx(t), 0)
	if len(all) != cache.MaxFailures || all[len(all)-1].User != "u5" {
		t.Fatalf("kept %d failures, oldest %q; want %d, oldest u5", len(all), all[len(all)-1].User, cache.MaxFailures)
	}
}

// testParallelQueue: concurrent QueueMembers on one group lose no change.
func testParallelQueue(t *testing.T, s cache.Store) {
	mustCreate(t, s, group("g1", "Admins"))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := s.QueueMembers(ctx(t), "g1", []string{fmt.Sprintf("u%d-%d", w, i)}, nil, at(1), nil); err != nil {
					t.Errorf("QueueMembers: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got, err := s.PendingChanges(ctx(t))
	if err != nil || len(got) != 80 {
		t.Fatalf("PendingChanges = %d, %v; want 80", len(got), err)
	}
	if n := len(mustGet(t, s, cache.KindGroup, "g1").Members); n != 80 {
		t.Fatalf("members = %d, want 80", n)
	}
}
