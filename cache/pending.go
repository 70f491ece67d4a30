package cache

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Pending is one membership change the store holds as desired but UiPath
// has not confirmed: User joins (Add) or leaves Group. There is at most one
// per (Group, User) pair: it says which way UiPath must move, not how
// often the IdP changed its mind.
type Pending struct {
	Group, User string
	Add         bool
	// Since is when the pair was last queued in this direction.
	Since time.Time
	// Attempted says a call carrying the change may have reached UiPath
	// (it was sent, or is being sent). Such a change is never cancelled by
	// an opposite one: it is turned round and sent again, because UiPath
	// may already have applied it.
	Attempted bool
	// Claimed is until when a sender holds the change; zero or past: free.
	Claimed time.Time
	// Due is the earliest time the change may be sent (after a failure,
	// the backoff); zero: at once.
	Due time.Time
	// Tries counts the sends that failed.
	Tries int
}

// PendingResult is what became of a claimed change; see SettlePending.
type PendingResult int

// The results a sender reports for a claimed change.
const (
	// PendingDone: UiPath confirmed the change.
	PendingDone PendingResult = iota
	// PendingUnsent: the call never left (no budget, no token): the change
	// is as it was before the claim, due at Outcome.Due.
	PendingUnsent
	// PendingRetry: the call failed in a way that may succeed later, or
	// its outcome is unknown: the change stays, attempted, due at
	// Outcome.Due, with one more try.
	PendingRetry
	// PendingFailed: UiPath refused the change for good; the caller records
	// why. The change leaves the queue.
	PendingFailed
)

// Outcome is a sender's report on one claimed change: Change is the value
// ClaimPending returned.
type Outcome struct {
	Change Pending
	Result PendingResult
	Due    time.Time
}

// Failure is a membership change UiPath refused for good, kept so that an
// operator sees it (status) and reconciliation can act on it.
type Failure struct {
	Group, User string
	Add         bool
	Reason      string
	At          time.Time
}

// MaxFailures is how many failures a store keeps, newest first.
const MaxFailures = 1000

// Queue is the part of the store that holds the pending membership
// changes. Every Store implements it; the rules each method follows are
// written once, in Go, by QueueRule and SettleRule, which a backend that
// runs them elsewhere (a Redis script) must match (the conformance suite
// checks both).
//
// UpdateMembers, Update of a group's members and Delete keep the queue too:
// a delta they write is confirmed in UiPath, so a pending change for one of
// its pairs is settled by QueueRule(old, add, now, false); a deleted
// record's pending changes go with it.
type Queue interface {
	// QueueMembers is UpdateMembers that also queues the delta, in the same
	// atomic step: every pair of the delta becomes pending by
	// QueueRule(old, add, now, true).
	QueueMembers(ctx context.Context, groupID string, add, remove []string, now time.Time, fn func(Record) (Record, error)) (Record, error)
	// PendingChanges returns every pending change, sorted by group then
	// user.
	PendingChanges(ctx context.Context) ([]Pending, error)
	// PendingOf returns the pending changes of one group or one user,
	// sorted by group then user.
	PendingOf(ctx context.Context, kind Kind, id string) ([]Pending, error)
	// ClaimPending claims, for a sender, each of the given pairs (only
	// Group and User are read) that is pending, unclaimed at now and due:
	// it sets Claimed to until and Attempted, and returns the claimed
	// changes as they were before the claim, with Claimed set. Pairs it
	// could not claim are left out. It is atomic.
	ClaimPending(ctx context.Context, pairs []Pending, now, until time.Time) ([]Pending, error)
	// SettlePending applies each outcome to its pair by SettleRule. It is
	// atomic per pair.
	SettlePending(ctx context.Context, outcomes []Outcome) error
	// AddFailure records a failure, keeping the latest MaxFailures.
	AddFailure(ctx context.Context, f Failure) error
	// Failures returns up to limit recorded failures, newest first
	// (limit <= 0: all that are kept).
	Failures(ctx context.Context, limit int) ([]Failure, error)
}

// QueueRule is the one rule for a pair's pending change when the pair's
// desired membership is written (join: add). old is the pair's pending
// change, nil if none; the result is the pair's new one, nil for none.
//
// queue (QueueMembers): the pair must reach UiPath. A change the other way
// that was never attempted and is not claimed at now is cancelled: UiPath
// never left the state now desired. Otherwise the pair becomes pending
// this way, since now, due at once; an attempted or claimed change keeps
// Attempted and Claimed (it is turned round, not forgotten).
//
// !queue (UpdateMembers): UiPath already confirmed the pair this way. A
// change never attempted and unclaimed is dropped; one a sender may have
// sent stays, turned this way, so that it is sent once more after that
// sender: the earlier call may land after the confirmation.
func QueueRule(old *Pending, p Pending, now time.Time, queue bool) *Pending {
	free := old == nil || (!old.Attempted && !old.Claimed.After(now))
	if !queue {
		if free {
			return nil
		}
		n := *old
		n.Add, n.Due = p.Add, time.Time{}
		return &n
	}
	if old != nil && old.Add != p.Add && free {
		return nil
	}
	if old != nil && old.Add == p.Add {
		return old
	}
	n := Pending{Group: p.Group, User: p.User, Add: p.Add, Since: now}
	if old != nil {
		n.Attempted, n.Claimed = old.Attempted, old.Claimed
	}
	return &n
}

// SettleRule is the one rule for applying a sender's outcome to the pair's
// current pending change cur (nil: none, and nothing happens). It returns
// the pair's new pending change, nil for none. An outcome applies only to
// the claim it reports on: when cur's Claimed differs from the outcome's
// (the claim ran out and another sender holds the pair), cur is kept.
//   - PendingDone: if cur still goes the claimed way it is done and leaves;
//     if the IdP turned it round meanwhile, UiPath is known to hold the
//     claimed way, so cur is a fresh change: unattempted, unclaimed.
//   - PendingUnsent: unclaimed, Attempted as before the claim, due at Due;
//     if the IdP turned it round meanwhile and it had never been
//     attempted, it leaves (UiPath never left the state now desired).
//   - PendingRetry: unclaimed, attempted, due at Due, one more try.
//   - PendingFailed: if cur still goes the claimed way it leaves; otherwise
//     it is unclaimed and stays attempted.
func SettleRule(cur *Pending, o Outcome) *Pending {
	if cur == nil {
		return nil
	}
	if cur.Claimed.UnixMilli() != o.Change.Claimed.UnixMilli() {
		// Not the claim this outcome is about: it ran out and another
		// sender claimed the pair since. That sender settles it.
		return cur
	}
	n := *cur
	n.Claimed = time.Time{}
	same := cur.Add == o.Change.Add
	switch o.Result {
	case PendingDone:
		if same {
			return nil
		}
		n.Attempted = false
	case PendingUnsent:
		if !same && !o.Change.Attempted {
			// Turned round while claimed, and nothing ever went out:
			// UiPath already holds what the IdP now wants.
			return nil
		}
		if same {
			n.Attempted = o.Change.Attempted
		}
		n.Due = o.Due
	case PendingRetry:
		n.Attempted = true
		n.Due = o.Due
		n.Tries++
	case PendingFailed:
		if same {
			return nil
		}
		n.Attempted = true
	}
	return &n
}

// PendingKey is a pending change's pair as one string, "group user", the
// key stores file it under.
func PendingKey(group, user string) string { return group + " " + user }

// EncodePending is the stored value of a pending change: "dir since
// attempted claimed due tries", dir "+" or "-", times in Unix milliseconds
// (0 for zero), attempted 0 or 1. A Lua script can read and write it
// without JSON.
func EncodePending(p Pending) string {
	dir, att := "-", "0"
	if p.Add {
		dir = "+"
	}
	if p.Attempted {
		att = "1"
	}
	return dir + " " + msOf(p.Since) + " " + att + " " + msOf(p.Claimed) + " " + msOf(p.Due) + " " + strconv.Itoa(p.Tries)
}

// DecodePending reads a pending change stored under key by EncodePending.
func DecodePending(key, value string) (Pending, error) {
	group, user, ok := strings.Cut(key, " ")
	f := strings.Fields(value)
	if !ok || len(f) != 6 || (f[0] != "+" && f[0] != "-") {
		return Pending{}, fmt.Errorf("pending %q: malformed value %q", key, value)
	}
	var ms [3]int64
	for i, s := range []string{f[1], f[3], f[4]} {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Pending{}, fmt.Errorf("pending %q: malformed value %q", key, value)
		}
		ms[i] = v
	}
	tries, err := strconv.Atoi(f[5])
	if err != nil {
		return Pending{}, fmt.Errorf("pending %q: malformed value %q", key, value)
	}
	return Pending{Group: group, User: user, Add: f[0] == "+", Since: timeOf(ms[0]), Attempted: f[2] == "1",
		Claimed: timeOf(ms[1]), Due: timeOf(ms[2]), Tries: tries}, nil
}

// Truncate returns p with its times cut to the millisecond, as stored.
func (p Pending) Truncate() Pending {
	p.Since, p.Claimed, p.Due = truncMs(p.Since), truncMs(p.Claimed), truncMs(p.Due)
	return p
}

func msOf(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func truncMs(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return timeOf(t.UnixMilli())
}

func timeOf(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
