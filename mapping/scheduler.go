package mapping

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// Membership writes (Config.MembershipWrites).
const (
	// WritesSync answers a membership change after UiPath confirms it,
	// planned within the one request.
	WritesSync = "sync"
	// WritesQueued answers a membership change once the desired members and
	// the pending change are in the store; the scheduler sends it.
	WritesQueued = "queued"
)

// The scheduler's defaults (Config.Quiet, Config.MaxHold, Config.ClaimTTL).
const (
	// defaultQuiet: IdPs send one group's members in a burst of PATCHes
	// (Entra: 20 or so members each). A call waits until its changes have
	// been quiet this long, so that the burst goes out as one call.
	defaultQuiet = time.Second
	// defaultMaxHold bounds that wait for a resource the IdP never stops
	// changing, and the wait for an interleaved push to pause
	// (planPending). Holding a call costs at most this much of a drain's
	// end, against UiPath's 5-minute window; sending it before the push is
	// done costs a second call, a 144th of that window.
	defaultMaxHold = 2 * time.Minute
	// defaultClaimTTL is how long a sender holds the changes of one call:
	// past it, a sender that died mid-call loses them to the next one.
	defaultClaimTTL = 30 * time.Second
	// schedulerPoll is how often an idle scheduler looks for changes
	// queued by other replicas (its own wake it at once).
	schedulerPoll = time.Second
	// roundCalls bounds the calls of one planning round: new changes join
	// the plan at the next round.
	roundCalls = 64
	// maxTries and giveUpAfter end the retries of a change: it is then
	// recorded as failed.
	maxTries    = 12
	giveUpAfter = 24 * time.Hour
)

// The scheduler sends the pending membership changes (cache.Queue) to
// UiPath with the fewest calls the budget allows:
//   - one replica at a time plans (the "scheduler" lock); every round it
//     plans over every pending change at once (PlanMembership, a minimum
//     vertex cover of the change graph), and sends the calls whose changes
//     are ripe, the call carrying the most changes first;
//   - a call carries every change pending for its user or group, not only
//     those the plan gave it, so a change never waits for a second call;
//   - each call is sent under its resource's lock, with its changes
//     claimed in the store, and only when the budget has room now: no lock
//     is ever held while waiting for the budget;
//   - what UiPath confirmed leaves the queue; a transient failure is
//     retried with backoff (honouring Retry-After); a refusal for good is
//     recorded (cache.Failure), counted and left to reconciliation.

// RoundReport is what one scheduler round did.
type RoundReport struct {
	// Pending is the changes queued when the round began, and Oldest the
	// age of the oldest.
	Pending int
	Oldest  time.Duration
	// Planned is the calls the round's plan needed for every pending
	// change; Sent the calls it sent.
	Planned, Sent int
	// Done, Retried and Failed count changes: confirmed by UiPath, to be
	// sent again, refused for good.
	Done, Retried, Failed int
	// Wait is how long the round asked the scheduler to wait: for budget,
	// for changes to ripen, or for work.
	Wait time.Duration
	// HoldingPush: the IdP is sending a push that comes back to the same
	// groups or users, and the round's calls wait for it to pause.
	HoldingPush bool
}

// wakeScheduler tells the scheduler that a change was queued.
func (p *Provisioner) wakeScheduler() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// RunScheduler runs scheduler rounds until ctx ends; report, when non-nil,
// sees every round.
func (p *Provisioner) RunScheduler(ctx context.Context, report func(RoundReport, error)) {
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			// A change was queued: it ripens after Quiet. Nothing it
			// brings can be sent sooner, so a wake only ever shortens a
			// longer wait.
			if at := time.Now().Add(p.cfg.Quiet); at.Before(next) {
				next = at
				t.Reset(time.Until(next))
			}
			continue
		case <-t.C:
		}
		rep, err := p.Round(ctx)
		if report != nil {
			report(rep, err)
		}
		wait := rep.Wait
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.WarnContext(ctx, "scheduler round failed", "error", err)
			wait = schedulerPoll
		}
		next = time.Now().Add(wait)
		t.Reset(wait)
	}
}

// Drain runs rounds until no change is pending or ctx ends, waiting as the
// rounds ask. It is for tests and tools; the service runs RunScheduler.
func (p *Provisioner) Drain(ctx context.Context) error {
	for {
		rep, err := p.Round(ctx)
		if err != nil {
			return err
		}
		if rep.Pending == 0 {
			return nil
		}
		t := time.NewTimer(max(rep.Wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Round plans over every pending change and sends the ripe calls, while
// the budget has room, at most roundCalls of them. Its audit entries (one
// per call sent, one per change refused for good) are written once the
// round has let go of its locks.
func (p *Provisioner) Round(ctx context.Context) (RoundReport, error) {
	ctx = WithActor(ctx, Actor{IdP: ActorScheduler})
	ctx, buf := withAuditBuffer(ctx)
	defer p.flushAudit(ctx, buf)
	return p.round(ctx)
}

func (p *Provisioner) round(ctx context.Context) (RoundReport, error) {
	var rep RoundReport
	unlock, err := p.lock(ctx, "scheduler")
	if err != nil {
		return rep, err
	}
	defer unlock()
	p.recreateLostAccounts(ctx)
	all, err := p.store.PendingChanges(ctx)
	if err != nil {
		return rep, fmt.Errorf("scheduler: %w", err)
	}
	now := p.cfg.Now().UTC()
	rep.Pending = len(all)
	rep.Wait = schedulerPoll
	if len(all) == 0 {
		return rep, nil
	}
	var ready []cache.Pending
	for _, c := range all {
		rep.Oldest = max(rep.Oldest, now.Sub(c.Since))
		if free := notAfter(c.Claimed, now) && notAfter(c.Due, now); free {
			ready = append(ready, c)
			continue
		}
		// Wake when the earliest held change frees up.
		rep.Wait = min(rep.Wait, max(c.Claimed.Sub(now), c.Due.Sub(now)))
	}
	calls, interleaved := p.planPending(ready, now)
	rep.Planned = len(calls)
	rep.HoldingPush = interleaved
	p.notePush(ctx, interleaved, len(calls))
	for _, c := range calls {
		if !c.ripe {
			rep.Wait = min(rep.Wait, c.ripeAt.Sub(now))
			continue
		}
		if rep.Sent == roundCalls || ctx.Err() != nil {
			rep.Wait = 0
			break
		}
		res, err := p.sendCall(ctx, c.Call)
		if err != nil {
			return rep, err
		}
		rep.Done += res.done
		rep.Retried += res.retried
		rep.Failed += res.failed
		rep.Sent += res.calls
		if res.calls > 0 {
			p.noteSent(c.Call, p.cfg.Now().UTC())
		}
		if res.unsent {
			// No budget: wait for it rather than try the other calls.
			rep.Wait = res.wait
			return rep, nil
		}
	}
	rep.Wait = max(rep.Wait, 0)
	return rep, nil
}

func notAfter(t, now time.Time) bool { return !t.After(now) }

// notePush logs when the scheduler starts and stops holding its calls for
// an interleaved push (planPending), once each.
func (p *Provisioner) notePush(ctx context.Context, interleaved bool, calls int) {
	if p.holdingPush.Swap(interleaved) == interleaved {
		return
	}
	if interleaved {
		p.log.InfoContext(ctx, "the IdP's push keeps coming back to the same resources: membership calls wait until it pauses", "calls", calls, "max_hold", p.cfg.MaxHold)
		return
	}
	p.log.InfoContext(ctx, "the IdP's push paused or ended: membership calls go out as they ripen", "calls", calls)
}

// repeatQuiet multiplies Config.Quiet for a user or group the scheduler
// sent within repeatWithin: measured on the load harness (500 groups
// filled by 5,000 shuffled PATCHes over ~50 s), a 1 s lull alone sent
// 1.2-1.5 calls per group.
const repeatQuiet = 10

// repeatWithin is how long the scheduler remembers a call it sent (at most
// Config.MaxHold): a resource changed again within it is one the IdP came
// back to (repeatQuiet, and planPending's reading of the push). Longer, it
// would slow a group's next unrelated change, minutes later.
const repeatWithin = 30 * time.Second

func (p *Provisioner) repeatWithin() time.Duration { return min(p.cfg.MaxHold, repeatWithin) }

// sentRecently reports when the call's user or group was sent, if within
// repeatWithin of now (this process's memory; a restart forgets it).
func (p *Provisioner) sentRecently(c Call, now time.Time) (time.Time, bool) {
	p.sentMu.Lock()
	defer p.sentMu.Unlock()
	at, ok := p.sent[callKey(c)]
	return at, ok && now.Sub(at) < p.repeatWithin()
}

// noteSent remembers that a call went to c's user or group at now, and
// forgets what is older than repeatWithin.
func (p *Provisioner) noteSent(c Call, now time.Time) {
	p.sentMu.Lock()
	defer p.sentMu.Unlock()
	if p.sent == nil {
		p.sent = map[string]time.Time{}
	}
	p.sent[callKey(c)] = now
	if len(p.sent) > 4096 {
		for k, at := range p.sent {
			if now.Sub(at) >= p.repeatWithin() {
				delete(p.sent, k)
			}
		}
	}
}

func callKey(c Call) string {
	if c.Group != "" {
		return "group:" + c.Group
	}
	return "user:" + c.User
}

// How the scheduler reads an IdP's push (planPending). Okta's group push
// and Entra send one group's PATCHes one after another: a group is done
// when its burst is, and Config.Quiet finds the end of the burst. An IdP
// (or an import tool) may instead work through all its groups at once,
// coming back to each every few seconds: a group quiet for a second is
// then not done, and a call sent for it is sent again when the push comes
// back. Each such repeat spends a PUT of a window that has 144, so while a
// push interleaves, every call waits until the whole push pauses (or
// Config.MaxHold).
const (
	// settleQuiet: while the IdP is sending, a call waits at least this
	// many Quiets from its first change, so that a push coming back to it
	// can be seen before anything is sent.
	settleQuiet = 3
	// interleavedShare: a push interleaves when at least one planned call
	// in this many (and at least two) was revisited: its changes came in
	// bursts at least Quiet apart, or it was sent within repeatWithin and
	// has changed since.
	interleavedShare = 10
)

// plannedCall is a call of the plan with its ripeness: its changes have
// been quiet for Config.Quiet (longer while a push is on: see above), or
// the oldest has waited Config.MaxHold.
type plannedCall struct {
	Call
	ripe   bool
	ripeAt time.Time
}

// callTimes is when a call's changes were queued.
type callTimes struct {
	oldest, newest time.Time
	// bursts: some of its changes came at least Quiet after the one
	// before. sent: the scheduler sent its resource within repeatWithin;
	// cameBack: and a change came after that (not only a retry).
	bursts, sent, cameBack bool
}

func (t callTimes) revisited() bool { return t.bursts || t.cameBack }

// timesOf reads a call's changes' queue times (since, by group and user).
func (p *Provisioner) timesOf(c Call, since map[[2]string]time.Time, now time.Time) callTimes {
	others := append(slices.Clone(c.Add), c.Remove...)
	at := make([]time.Time, 0, len(others))
	for _, other := range others {
		pair := [2]string{c.Group, other}
		if c.Group == "" {
			pair = [2]string{other, c.User}
		}
		at = append(at, since[pair])
	}
	slices.SortFunc(at, time.Time.Compare)
	t := callTimes{oldest: at[0], newest: at[len(at)-1]}
	if sentAt, ok := p.sentRecently(c, now); ok {
		t.sent, t.cameBack = true, t.newest.After(sentAt)
	}
	for i := 1; i < len(at); i++ {
		if at[i].Sub(at[i-1]) >= p.cfg.Quiet {
			t.bursts = true
			break
		}
	}
	return t
}

// planPending plans the fewest calls for changes, largest first, and
// dates each one's ripeness.
func (p *Provisioner) planPending(changes []cache.Pending, now time.Time) ([]plannedCall, bool) {
	edges := make([]Change, len(changes))
	since := make(map[[2]string]time.Time, len(changes))
	var latest time.Time
	for i, c := range changes {
		edges[i] = Change{User: c.User, Group: c.Group, Add: c.Add}
		since[[2]string{c.Group, c.User}] = c.Since
		if c.Since.After(latest) {
			latest = c.Since
		}
	}
	plan := PlanMembership(p.cfg.Strategy, edges)
	times := make([]callTimes, len(plan))
	revisited := 0
	for i, c := range plan {
		times[i] = p.timesOf(c, since, now)
		if times[i].revisited() {
			revisited++
		}
	}
	pushing := now.Sub(latest) < p.cfg.Quiet
	interleaved := pushing && revisited >= max(2, len(plan)/interleavedShare)
	out := make([]plannedCall, 0, len(plan))
	for i, c := range plan {
		t := times[i]
		quiet := p.cfg.Quiet
		if t.sent {
			// Sent within repeatWithin, and the IdP is still changing it: the
			// burst is not over. Wait for a longer lull, so that one more
			// call carries the rest rather than one per pause.
			quiet *= repeatQuiet
		}
		ripeAt := t.newest.Add(quiet)
		if pushing {
			ripeAt = later(ripeAt, t.oldest.Add(settleQuiet*p.cfg.Quiet))
		}
		if interleaved {
			ripeAt = later(ripeAt, latest.Add(p.cfg.Quiet))
		}
		if held := t.oldest.Add(p.cfg.MaxHold); held.Before(ripeAt) {
			ripeAt = held
		}
		out = append(out, plannedCall{Call: c, ripe: !ripeAt.After(now), ripeAt: ripeAt})
	}
	slices.SortStableFunc(out, func(a, b plannedCall) int {
		return cmp.Compare(len(b.Add)+len(b.Remove), len(a.Add)+len(a.Remove))
	})
	return out, interleaved
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// callResult is what sending one call did to its changes.
type callResult struct {
	// calls is the UiPath calls sent (a refused call is sent again in
	// halves; a call whose changes another sender took sends nothing).
	calls                 int
	done, retried, failed int
	// unsent: the budget had no room; wait is until it may.
	unsent bool
	wait   time.Duration
	// name and changes are the resource's name and what the call carried
	// (changesOf), for the audit log.
	name, changes string
}

// sendCall sends one planned call, carrying every change pending for its
// resource, and audits it when anything went to UiPath.
func (p *Provisioner) sendCall(ctx context.Context, c Call) (callResult, error) {
	var log upstream.CallLog
	ctx = upstream.WithCallLog(ctx, &log)
	var res callResult
	var err error
	e := cache.AuditEntry{Operation: OpMembership, Outcome: cache.AuditOK}
	if c.Group != "" {
		e.Kind, e.ID = cache.KindGroup, c.Group
		res, err = p.sendGroupCall(ctx, c.Group)
	} else {
		e.Kind, e.ID = cache.KindUser, c.User
		res, err = p.sendUserCall(ctx, c.User)
	}
	if e.Calls = auditCalls(&log); len(e.Calls) == 0 {
		return res, err
	}
	e.Name = res.name
	e.Detail = res.changes
	switch {
	case err != nil:
		e.Outcome = cache.AuditFailed
		e.Detail += "; " + err.Error()
	case res.retried > 0 || res.failed > 0 || res.unsent:
		e.Outcome = cache.AuditFailed
		e.Detail += fmt.Sprintf("; %d confirmed, %d to retry, %d refused for good", res.done, res.retried, res.failed)
	}
	p.audit(ctx, e)
	return res, err
}

// changesOf says, for an audit entry, what a call carried.
func changesOf(kind cache.Kind, claimed []cache.Pending) string {
	add, remove := split(claimed, kind)
	var parts []string
	if len(add) > 0 {
		parts = append(parts, "add "+listIDs(add))
	}
	if len(remove) > 0 {
		parts = append(parts, "remove "+listIDs(remove))
	}
	return strings.Join(parts, "; ")
}

// claimOf claims the free, due pending changes of a resource.
func (p *Provisioner) claimOf(ctx context.Context, kind cache.Kind, id string) ([]cache.Pending, error) {
	pend, err := p.store.PendingOf(ctx, kind, id)
	if err != nil || len(pend) == 0 {
		return nil, err
	}
	now := p.cfg.Now().UTC()
	claimed, err := p.store.ClaimPending(ctx, pend, now, now.Add(p.cfg.ClaimTTL))
	if err != nil {
		return nil, fmt.Errorf("claim pending changes of %s %s: %w", kind, id, err)
	}
	return claimed, nil
}

// split returns the other side's ids of claimed changes, joins and leaves.
func split(claimed []cache.Pending, kind cache.Kind) (add, remove []string) {
	for _, c := range claimed {
		other := c.User
		if kind == cache.KindUser {
			other = c.Group
		}
		if c.Add {
			add = append(add, other)
		} else {
			remove = append(remove, other)
		}
	}
	return add, remove
}

// sendGroupCall sends one PUT /Group carrying the group's pending changes.
func (p *Provisioner) sendGroupCall(ctx context.Context, groupID string) (callResult, error) {
	unlock, err := p.lock(ctx, "group:"+groupID)
	if err != nil {
		return callResult{}, err
	}
	defer unlock()
	rec, err := p.store.Get(ctx, cache.KindGroup, groupID)
	if errors.Is(err, cache.ErrNotFound) {
		return callResult{}, nil // deleted meanwhile: its changes went with it
	}
	if err != nil {
		return callResult{}, fmt.Errorf("scheduler: group %s: %w", groupID, err)
	}
	claimed, err := p.claimOf(ctx, cache.KindGroup, groupID)
	if err != nil || len(claimed) == 0 {
		return callResult{}, err
	}
	sctx, cancel := p.callCtx(ctx)
	defer cancel()
	sctx, unc := upstream.TrackUncertain(sctx)
	defer p.noteDoubt(ctx, cache.KindGroup, groupID, false, unc)
	res, err := p.sendParts(ctx, sctx, cache.KindGroup, rec, claimed)
	res.name, res.changes = rec.Name, changesOf(cache.KindGroup, claimed)
	return res, err
}

// callCtx is the context of a scheduler call: it never waits for the
// budget, and it ends before the call's claim runs out, so that no other
// sender can take the changes over while this call may still be sent.
// A call cut short has an unknown outcome: it is retried, and the
// resource checked (doubt).
func (p *Provisioner) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(upstream.WithoutBudgetWait(ctx), p.cfg.ClaimTTL*3/4)
}

// ReleaseStaleClaims frees the pending changes a dead process had claimed
// (they were in its call when it stopped), so that they are sent again at
// once rather than when the claims run out. Only a store no other live
// process uses (the embedded one) may call it: on a shared store a claim
// may belong to a live replica.
func (p *Provisioner) ReleaseStaleClaims(ctx context.Context) (int, error) {
	all, err := p.store.PendingChanges(ctx)
	if err != nil {
		return 0, fmt.Errorf("release stale claims: %w", err)
	}
	now := p.cfg.Now().UTC()
	var stale []cache.Pending
	for _, c := range all {
		if c.Claimed.After(now) {
			stale = append(stale, c)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	// Take them over, then put them back as they were: attempted (the
	// dead call may have landed), due now.
	claimed, err := p.claimOverriding(ctx, stale)
	if err != nil {
		return 0, fmt.Errorf("release stale claims: %w", err)
	}
	outcomes := make([]cache.Outcome, len(claimed))
	for i, c := range claimed {
		outcomes[i] = cache.Outcome{Change: c, Result: cache.PendingUnsent, Due: now}
	}
	if err := p.store.SettlePending(ctx, outcomes); err != nil {
		return 0, fmt.Errorf("release stale claims: %w", err)
	}
	p.log.InfoContext(ctx, "released the membership changes a stopped process had in flight; they are sent again", "changes", len(claimed))
	return len(claimed), nil
}

// sendParts sends one call carrying claimed, the changes of rec (a group:
// PUT /Group; a user: PUT /User), and settles them. UiPath refuses a
// whole call for one bad change (an account or group it no longer has):
// a refused call is split in halves and each sent again, which finds the
// changes at fault in a few calls and lets the rest through.
func (p *Provisioner) sendParts(ctx, sctx context.Context, kind cache.Kind, rec cache.Record, claimed []cache.Pending) (callResult, error) {
	add, remove := split(claimed, kind)
	var err error
	sent := 1
	if kind == cache.KindGroup {
		_, err = p.up.UpdateGroup(sctx, rec.ID, rec.Name, add, remove)
	} else {
		err = p.up.UpdateUser(sctx, rec.ID, upstream.UserUpdate{GroupIDsToAdd: add, GroupIDsToRemove: remove})
	}
	if errors.Is(err, upstream.ErrBudgetExhausted) {
		sent = 0 // refused by the budget before it left
	}
	res, serr := p.settleParts(ctx, sctx, kind, rec, claimed, err)
	res.calls += sent
	return res, serr
}

// settleParts settles the changes of a call sendParts made, by its error.
func (p *Provisioner) settleParts(ctx, sctx context.Context, kind cache.Kind, rec cache.Record, claimed []cache.Pending, err error) (callResult, error) {
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		// The call's own resource is gone from UiPath (deleted there)
		// while the store still has it: the IdP is the source of truth, so
		// it is recreated under the same id with the store's memberships,
		// which hold every change the call carried. When it cannot be
		// (a user the IdP has inactive, a refusal), removals hold and
		// additions are recorded as failed.
		rerr := p.recreateForCall(ctx, sctx, kind, rec)
		switch {
		case rerr == nil, errors.Is(rerr, errInactiveGone):
			// Recreated with the store's memberships; or a user the IdP
			// has inactive, whose memberships wait in the store for a
			// reactivation (which recreates the account with them).
			return p.settleCall(ctx, claimed, nil)
		case upstream.IsRetryable(rerr):
			return p.settleCall(ctx, claimed, rerr)
		}
		p.log.WarnContext(ctx, "scheduler: resource missing in UiPath not recreated", "kind", kind, "scim_id", rec.ID, "error", rerr)
		return p.settleGone(ctx, claimed, fmt.Sprintf("the %s no longer exists in UiPath", kind))
	case err == nil || upstream.IsRetryable(err):
		return p.settleCall(ctx, claimed, err)
	case len(claimed) == 1:
		if c := claimed[0]; kind == cache.KindGroup && len(p.vanished(ctx, []string{c.User})) == 1 {
			_, want, known := p.accountWanted(ctx, c.User)
			switch {
			case c.Add && want:
				if reason := p.lostForGood(c.User); reason != "" {
					return p.settleGone(ctx, claimed, "the account no longer exists in UiPath and cannot be recreated: "+reason)
				}
				// Deleted in UiPath, active in the IdP: the account comes
				// back (lostmember.go) and the addition is sent again.
				p.noteLostAccount(c.User)
				return p.settleCall(ctx, claimed, errAccountLost)
			case c.Add && known:
				// Inactive in the IdP: no account is right, and the
				// membership waits in the store for a reactivation, which
				// recreates the account with its groups.
				return p.settleCall(ctx, claimed, nil)
			}
			return p.settleGone(ctx, claimed, "the account no longer exists in UiPath")
		}
		return p.settleCall(ctx, claimed, err)
	}
	half := len(claimed) / 2
	res, err := p.sendParts(ctx, sctx, kind, rec, claimed[:half])
	if err != nil || res.unsent {
		// Stopped: the other half goes back to the queue as it was.
		if _, serr := p.settleCall(ctx, claimed[half:], upstream.ErrBudgetExhausted); err == nil {
			err = serr
		}
		return res, err
	}
	more, err := p.sendParts(ctx, sctx, kind, rec, claimed[half:])
	more.calls += res.calls
	more.done, more.retried, more.failed = more.done+res.done, more.retried+res.retried, more.failed+res.failed
	return more, err
}

// errInactiveGone: a user the IdP has inactive is not recreated in UiPath
// (it has no access either way).
var errInactiveGone = errors.New("the user is inactive: its account is not recreated")

// recreateForCall recreates in UiPath the group or user of a scheduler
// call that UiPath no longer has, from the store's record.
func (p *Provisioner) recreateForCall(ctx, sctx context.Context, kind cache.Kind, rec cache.Record) error {
	if kind == cache.KindGroup {
		return p.recreateGroup(sctx, rec.ID, rec.Name, rec.Members)
	}
	res, err := decodeResource(rec)
	if err != nil {
		return err
	}
	prof, err := profileOf(res)
	if err != nil {
		return err
	}
	if !prof.Active {
		return errInactiveGone
	}
	n, err := p.recreateAccount(sctx, rec.ID, prof)
	if err == nil {
		p.log.WarnContext(ctx, "account missing in UiPath: recreated under the same id with its groups", "scim_id", rec.ID, "groups", n)
	}
	return err
}

// sendUserCall sends one PUT /User carrying the user's pending changes.
func (p *Provisioner) sendUserCall(ctx context.Context, userID string) (callResult, error) {
	unlock, err := p.lock(ctx, "user:"+userID)
	if err != nil {
		return callResult{}, err
	}
	defer unlock()
	rec, err := p.store.Get(ctx, cache.KindUser, userID)
	if errors.Is(err, cache.ErrNotFound) {
		return callResult{}, nil
	}
	if err != nil {
		return callResult{}, fmt.Errorf("scheduler: user %s: %w", userID, err)
	}
	claimed, err := p.claimOf(ctx, cache.KindUser, userID)
	if err != nil || len(claimed) == 0 {
		return callResult{}, err
	}
	if rec.Deprovisioned {
		// No account (delete policy): the store's groups are all there is;
		// a reactivation recreates the account in them.
		return p.settleCall(ctx, claimed, nil)
	}
	sctx, cancel := p.callCtx(ctx)
	defer cancel()
	sctx, unc := upstream.TrackUncertain(sctx)
	defer p.noteDoubt(ctx, cache.KindUser, userID, false, unc)
	res, err := p.sendParts(ctx, sctx, cache.KindUser, rec, claimed)
	res.name, res.changes = rec.Name, changesOf(cache.KindUser, claimed)
	return res, err
}

// settleGone settles changes whose user or group UiPath no longer has:
// removals hold, additions fail for good.
func (p *Provisioner) settleGone(ctx context.Context, claimed []cache.Pending, reason string) (callResult, error) {
	var res callResult
	outcomes := make([]cache.Outcome, 0, len(claimed))
	for _, c := range claimed {
		if !c.Add {
			outcomes = append(outcomes, cache.Outcome{Change: c, Result: cache.PendingDone})
			res.done++
			continue
		}
		if !p.stillWanted(ctx, c) {
			// The IdP deleted the user or group meanwhile: nothing failed.
			outcomes = append(outcomes, cache.Outcome{Change: c, Result: cache.PendingDone})
			res.done++
			continue
		}
		outcomes = append(outcomes, cache.Outcome{Change: c, Result: cache.PendingFailed})
		res.failed++
		p.recordFailure(ctx, c, reason)
	}
	return res, p.settleOutcomes(ctx, outcomes)
}

// stillWanted reports whether the store still has both sides of a change
// (on a store error it assumes so: a failure is then recorded, not lost).
func (p *Provisioner) stillWanted(ctx context.Context, c cache.Pending) bool {
	for _, r := range []struct {
		kind cache.Kind
		id   string
	}{{cache.KindUser, c.User}, {cache.KindGroup, c.Group}} {
		if _, err := p.store.Get(ctx, r.kind, r.id); errors.Is(err, cache.ErrNotFound) {
			return false
		}
	}
	return true
}

// settleCall settles a call's changes by its error.
func (p *Provisioner) settleCall(ctx context.Context, claimed []cache.Pending, err error) (callResult, error) {
	var res callResult
	now := p.cfg.Now().UTC()
	outcomes := make([]cache.Outcome, 0, len(claimed))
	for _, c := range claimed {
		o := cache.Outcome{Change: c}
		switch {
		case err == nil:
			o.Result = cache.PendingDone
			res.done++
		case errors.Is(err, upstream.ErrBudgetExhausted):
			o.Result = cache.PendingUnsent
			res.unsent = true
			res.wait = max(upstream.RetryAfter(err), 10*time.Millisecond)
		case upstream.IsRetryable(err) && c.Tries+1 < maxTries && now.Sub(c.Since) < giveUpAfter:
			o.Result = cache.PendingRetry
			o.Due = now.Add(max(upstream.RetryAfter(err), backoff(c.Tries)))
			res.retried++
		default:
			o.Result = cache.PendingFailed
			res.failed++
			reason := err.Error()
			if upstream.IsRetryable(err) {
				reason = fmt.Sprintf("gave up after %d tries: %v", c.Tries+1, err)
			}
			p.recordFailure(ctx, c, reason)
		}
		outcomes = append(outcomes, o)
	}
	if err != nil && !res.unsent {
		p.log.WarnContext(ctx, "membership call failed", "changes", len(claimed), "retried", res.retried, "failed", res.failed, "error", err)
	}
	return res, p.settleOutcomes(ctx, outcomes)
}

// backoff is the wait before the next try of a change that failed tries
// times before: 2s doubling, at most 5 minutes.
func backoff(tries int) time.Duration {
	return min(2*time.Second<<min(tries, 8), 5*time.Minute)
}

func (p *Provisioner) settleOutcomes(ctx context.Context, outcomes []cache.Outcome) error {
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	if err := p.store.SettlePending(rctx, outcomes); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}

// recordFailure keeps a change UiPath refused for good where an operator
// sees it.
func (p *Provisioner) recordFailure(ctx context.Context, c cache.Pending, reason string) {
	p.log.ErrorContext(ctx, "membership change refused by UiPath; left for reconciliation", "group", c.Group, "scim_id", c.User, "add", c.Add, "reason", reason)
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	f := cache.Failure{Group: c.Group, User: c.User, Add: c.Add, Reason: reason, At: p.cfg.Now().UTC()}
	if err := p.store.AddFailure(rctx, f); err != nil {
		p.log.ErrorContext(ctx, "cannot record a failed membership change", "group", c.Group, "scim_id", c.User, "error", err)
	}
	change := "remove user "
	if c.Add {
		change = "add user "
	}
	detail := change + c.User + ": " + reason
	if len(detail) > 300 {
		detail = detail[:297] + "..."
	}
	p.audit(ctx, cache.AuditEntry{Operation: OpMembership, Kind: cache.KindGroup, ID: c.Group,
		Outcome: cache.AuditRefused, Detail: detail})
}

// carryPending claims a user's pending changes for a call the request
// makes anyway (a deactivation): they ride on it. The returned function
// settles them by that call's error.
func (p *Provisioner) carryPending(ctx context.Context, userID string, upd *upstream.UserUpdate) func(error) {
	claimed, err := p.claimOf(ctx, cache.KindUser, userID)
	if err != nil {
		p.log.WarnContext(ctx, "pending changes not carried by the deactivation; the scheduler sends them", "scim_id", userID, "error", err)
		return func(error) {}
	}
	if len(claimed) == 0 {
		return func(error) {}
	}
	upd.GroupIDsToAdd, upd.GroupIDsToRemove = split(claimed, cache.KindUser)
	return func(err error) {
		if errors.Is(err, upstream.ErrNotFound) {
			_, err = p.settleGone(ctx, claimed, "the account no longer exists in UiPath")
		} else {
			_, err = p.settleCall(ctx, claimed, err)
		}
		if err != nil {
			p.log.WarnContext(ctx, "settling the changes a deactivation carried", "scim_id", userID, "error", err)
		}
	}
}

// claimOverriding claims changes whatever their due time and whoever
// holds them: ClaimPending is asked as if it were far in the future, when
// every claim and backoff has run out. Only for changes nobody else may
// send (a dead process's, or ones that will not be sent at all).
func (p *Provisioner) claimOverriding(ctx context.Context, pend []cache.Pending) ([]cache.Pending, error) {
	far := p.cfg.Now().UTC().Add(100 * 365 * 24 * time.Hour)
	return p.store.ClaimPending(ctx, pend, far, far.Add(time.Second))
}

// forgetPending takes a user's pending changes out of the queue without
// sending them: its account is gone (the delete policy), and the store's
// groups are what a reactivation recreates it in.
func (p *Provisioner) forgetPending(ctx context.Context, userID string) {
	pend, err := p.store.PendingOf(ctx, cache.KindUser, userID)
	if err == nil && len(pend) > 0 {
		// Nothing is sent: take them whatever their due time or claim.
		var claimed []cache.Pending
		if claimed, err = p.claimOverriding(ctx, pend); err == nil {
			_, err = p.settleCall(ctx, claimed, nil)
		}
	}
	if err != nil {
		p.log.WarnContext(ctx, "pending changes of a deleted account not cleared; the scheduler settles them", "scim_id", userID, "error", err)
	}
}

// QueueStatus is the state of the membership queue, for status.
type QueueStatus struct {
	// Pending is the changes queued; InFlight those a sender holds now,
	// and Backoff those waiting after a failed try.
	Pending, InFlight, Backoff int
	// Oldest is the age of the oldest pending change.
	Oldest time.Duration
	// PlannedCalls is the UiPath calls needed to send every pending change
	// (the scheduler's plan, before ripeness).
	PlannedCalls int
	// HoldingPush: the IdP is sending a push that keeps coming back to the
	// same groups or users, and the calls wait for it to pause (at most
	// MaxHold).
	HoldingPush bool
	// Failures is the latest changes UiPath refused for good, newest
	// first.
	Failures []cache.Failure
}

// QueueStatus reports the membership queue, with up to failures recent
// failures.
func (p *Provisioner) QueueStatus(ctx context.Context, failures int) (QueueStatus, error) {
	var st QueueStatus
	all, err := p.store.PendingChanges(ctx)
	if err != nil {
		return st, fmt.Errorf("queue status: %w", err)
	}
	now := p.cfg.Now().UTC()
	st.Pending = len(all)
	for _, c := range all {
		st.Oldest = max(st.Oldest, now.Sub(c.Since))
		switch {
		case c.Claimed.After(now):
			st.InFlight++
		case c.Due.After(now):
			st.Backoff++
		}
	}
	plan, holding := p.planPending(all, now)
	st.PlannedCalls, st.HoldingPush = len(plan), holding
	if st.Failures, err = p.store.Failures(ctx, failures); err != nil {
		return st, fmt.Errorf("queue status: %w", err)
	}
	return st, nil
}
