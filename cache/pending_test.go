package cache

import (
	"testing"
	"time"
)

func sec(n int) time.Time { return time.Date(2026, 12, 1, 10, 0, n, 0, time.UTC) }

// A stale outcome (its claim ran out, another sender claimed the pair)
// must not touch the other sender's claim: an opposite change must still
// not cancel the pair while that sender's call may land.
func TestSettleRuleIgnoresAnExpiredClaim(t *testing.T) {
	p := QueueRule(nil, Pending{Group: "g", User: "u", Add: true}, sec(1), true)
	a := *p
	a.Claimed = sec(31) // A's claim, as ClaimPending returned it
	cur := *p
	cur.Attempted, cur.Claimed = true, sec(70) // B claimed it at 40
	next := SettleRule(&cur, Outcome{Change: a, Result: PendingUnsent, Due: sec(41)})
	if next == nil || !next.Claimed.Equal(sec(70)) || !next.Attempted {
		t.Fatalf("stale outcome changed B's claim: %+v", next)
	}
	if QueueRule(next, Pending{Group: "g", User: "u"}, sec(45), true) == nil {
		t.Fatal("an opposite change cancelled the pair while B's call may land")
	}
}

// A change claimed, turned round by the IdP and then reported unsent never
// went out: UiPath already holds what the IdP wants, so it leaves.
func TestSettleRuleUnsentTurnedChangeLeaves(t *testing.T) {
	p := QueueRule(nil, Pending{Group: "g", User: "u", Add: true}, sec(1), true)
	claimed := *p
	claimed.Claimed = sec(31)
	cur := *p
	cur.Attempted, cur.Claimed = true, sec(31)
	turned := QueueRule(&cur, Pending{Group: "g", User: "u"}, sec(3), true)
	if next := SettleRule(turned, Outcome{Change: claimed, Result: PendingUnsent, Due: sec(10)}); next != nil {
		t.Fatalf("unsent turned change = %+v, want none", next)
	}
	// Had it been attempted before the claim, UiPath may hold the add.
	claimed.Attempted = true
	if next := SettleRule(turned, Outcome{Change: claimed, Result: PendingUnsent, Due: sec(10)}); next == nil || next.Add || !next.Attempted {
		t.Fatalf("unsent turned change attempted before = %+v, want an attempted removal", next)
	}
}
