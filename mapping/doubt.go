package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// A write to UiPath whose outcome is unknown (a timeout, a dropped
// connection, a 5xx) may be applied late, even after the bridge's next
// write to the same resource: a timed-out active=true can land after the
// active=false that followed it. The provisioner therefore records a
// cache.Doubt for the resource, and until the doubt is resolved:
//   - a write to that resource does not trust the store's idea of UiPath: a
//     user is restated whole (every profile field and isActive), a group's
//     members are read back from UiPath and the plan is made against them;
//   - Settle checks the resource against UiPath when the doubt is due, first
//     soon after the unknown outcome and again once the late-write window
//     has passed, repairing whatever differs from the store.
// A deactivation is always read back, doubt or not, and re-applied until
// UiPath shows the account inactive; a user deletion is read back too.

// Defaults of the doubt timings (Config.LateWriteWindow, Config.FirstCheck).
const (
	defaultLateWriteWindow = 2 * time.Minute
	defaultFirstCheck      = 5 * time.Second
	// confirmAttempts bounds, within a request, the re-applications of a
	// deactivation that UiPath does not show.
	confirmAttempts = 3
	// abandonDoubtAfter ends the checking of a resource that could not be
	// checked for this long: it is logged as an error and counted failed.
	abandonDoubtAfter = 24 * time.Hour
	// settleBatch bounds the doubts one Settle pass takes on.
	settleBatch = 100
)

// noteDoubt records a doubt about a resource when unc saw an unknown
// outcome. owned marks an object the bridge created or deleted under id.
// The record outlives the request's cancellation: losing it would lose the
// repair.
func (p *Provisioner) noteDoubt(ctx context.Context, kind cache.Kind, id string, owned bool, unc *upstream.Uncertainty) {
	if !unc.Any() || id == "" {
		return
	}
	p.addDoubt(ctx, kind, id, owned, p.cfg.FirstCheck)
}

// addDoubt records a doubt due after wait.
func (p *Provisioner) addDoubt(ctx context.Context, kind cache.Kind, id string, owned bool, wait time.Duration) {
	now := p.cfg.Now().UTC()
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	d := cache.Doubt{Kind: kind, ID: id, Since: now, Due: now.Add(wait), Owned: owned}
	if err := p.store.AddDoubt(rctx, d); err != nil {
		p.log.ErrorContext(ctx, "cannot record a write with an unknown outcome; UiPath may differ until reconciliation", "kind", kind, "scim_id", id, "error", err)
		return
	}
	p.log.WarnContext(ctx, "UiPath write outcome unknown: resource will be checked", "kind", kind, "scim_id", id, "due", d.Due)
}

// inDoubt reports whether the resource has an unresolved doubt.
func (p *Provisioner) inDoubt(ctx context.Context, kind cache.Kind, id string) (bool, error) {
	_, ok, err := p.store.GetDoubt(ctx, kind, id)
	if err != nil {
		return false, fmt.Errorf("doubt of %s %s: %w", kind, id, err)
	}
	return ok, nil
}

// confirmInactive reads the account back after a deactivation and applies
// isActive=false again while UiPath shows it active. It reports whether
// UiPath was seen inactive (or without the account). The read-back never
// waits for the rate budget (300 GETs per 5 minutes would otherwise slow
// an exit wave's deactivations): without room it reports false, and the
// caller leaves the check to Settle.
func (p *Provisioner) confirmInactive(ctx context.Context, id string) bool {
	ctx = upstream.WithoutBudgetWait(ctx)
	off := false
	for range confirmAttempts {
		u, err := p.up.GetUser(ctx, id)
		switch {
		case errors.Is(err, upstream.ErrNotFound):
			return true
		case err != nil:
			p.log.WarnContext(ctx, "deactivation not confirmed: cannot read the account back", "scim_id", id, "error", err)
			return false
		case !u.IsActive:
			return true
		}
		p.log.WarnContext(ctx, "deactivation not visible in UiPath: applying it again", "scim_id", id)
		if err := p.up.UpdateUser(ctx, id, upstream.UserUpdate{IsActive: &off}); err != nil && !errors.Is(err, upstream.ErrNotFound) {
			return false
		}
	}
	return false
}

// confirmGone reads a deleted account back and deletes it again if UiPath
// still has it. It reports whether UiPath was seen without it. Like
// confirmInactive, it never waits for the rate budget.
func (p *Provisioner) confirmGone(ctx context.Context, id string) bool {
	ctx = upstream.WithoutBudgetWait(ctx)
	for range confirmAttempts {
		_, err := p.up.GetUser(ctx, id)
		switch {
		case errors.Is(err, upstream.ErrNotFound):
			return true
		case err != nil:
			return false
		}
		p.log.WarnContext(ctx, "deleted account still in UiPath: deleting it again", "scim_id", id)
		if err := p.up.DeleteUser(ctx, id); err != nil && !errors.Is(err, upstream.ErrNotFound) {
			return false
		}
	}
	return false
}

// SettleReport is what one Settle pass did.
type SettleReport struct {
	// Checked is the resources compared with UiPath.
	Checked int
	// Repaired is those of them on which UiPath differed and was corrected.
	Repaired int
	// Failed is the checks that could not be made (they are retried), and
	// Abandoned the resources given up on after a day of failures.
	Failed, Abandoned int
}

// Settle checks every resource whose doubt is due against UiPath, repairs
// what differs from the store, and resolves or reschedules the doubt. It
// is safe to run on every replica at once: each resource is checked under
// its lock.
func (p *Provisioner) Settle(ctx context.Context) (SettleReport, error) {
	var rep SettleReport
	now := p.cfg.Now().UTC()
	due, err := p.store.DueDoubts(ctx, now, settleBatch)
	if err != nil {
		return rep, fmt.Errorf("settle: %w", err)
	}
	for _, d := range due {
		if ctx.Err() != nil {
			break
		}
		res, err := p.settleOne(ctx, d)
		now := p.cfg.Now().UTC()
		var next time.Time
		switch {
		case err != nil && now.Sub(d.Since) > abandonDoubtAfter:
			rep.Abandoned++
			p.log.ErrorContext(ctx, "giving up checking a resource after a day of failures; reconciliation will compare it", "kind", d.Kind, "scim_id", d.ID, "error", err)
		case err != nil:
			rep.Failed++
			next = now.Add(retryWait(now.Sub(d.Since)))
			p.log.WarnContext(ctx, "cannot check resource against UiPath yet", "kind", d.Kind, "scim_id", d.ID, "retry_at", next, "error", err)
		default:
			rep.Checked++
			if res == settleRepaired {
				rep.Repaired++
			}
			// A late write may still land until the window has passed:
			// check once more then (unless there is nothing of ours to check).
			if end := d.Since.Add(p.cfg.LateWriteWindow); now.Before(end) && res != settleMoot {
				next = end
			}
		}
		rctx, cancel := recordCtx(ctx)
		err = p.store.ResolveDoubt(rctx, d, next)
		cancel()
		if err != nil {
			return rep, fmt.Errorf("settle: %w", err)
		}
	}
	return rep, nil
}

// retryWait is the wait before checking again a resource whose check has
// failed for age: a tenth of it, between 5 seconds and 10 minutes.
func retryWait(age time.Duration) time.Duration {
	return min(max(age/10, 5*time.Second), 10*time.Minute)
}

// RunSettler runs Settle every interval until ctx ends, logging what each
// pass did when it did anything; report, when non-nil, sees every pass.
func (p *Provisioner) RunSettler(ctx context.Context, every time.Duration, report func(SettleReport, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := p.Settle(ctx)
		if report != nil {
			report(rep, err)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.WarnContext(ctx, "settle pass failed", "error", err)
		case rep != SettleReport{}:
			p.log.InfoContext(ctx, "settle pass", "checked", rep.Checked, "repaired", rep.Repaired, "failed", rep.Failed, "abandoned", rep.Abandoned)
		}
	}
}

// settleResult is what the check of one resource found.
type settleResult int

const (
	settleOK       settleResult = iota // UiPath agreed with the store
	settleRepaired                     // UiPath differed and was corrected
	settleMoot                         // nothing of the bridge's to check: neither in the store nor owned
)

// settleOne checks one resource.
func (p *Provisioner) settleOne(ctx context.Context, d cache.Doubt) (settleResult, error) {
	switch d.Kind {
	case cache.KindUser:
		return p.settleUser(ctx, d)
	case cache.KindGroup:
		return p.settleGroup(ctx, d)
	}
	return settleMoot, nil
}

// settleUser makes the UiPath account match the store: the profile and
// activation it holds, or no account when the store has none (for an
// owned id) or the delete policy removed it.
func (p *Provisioner) settleUser(ctx context.Context, d cache.Doubt) (settleResult, error) {
	unlock, err := p.lock(ctx, "user:"+d.ID)
	if err != nil {
		return settleOK, err
	}
	defer unlock()
	ctx, unc := upstream.TrackUncertain(ctx)
	defer p.noteDoubt(ctx, cache.KindUser, d.ID, d.Owned, unc)
	rec, err := p.store.Get(ctx, cache.KindUser, d.ID)
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		return settleOK, err
	}
	missing := errors.Is(err, cache.ErrNotFound)
	if missing && !d.Owned {
		return settleMoot, nil
	}
	actual, err := p.up.GetUser(ctx, d.ID)
	if errors.Is(err, upstream.ErrNotFound) {
		if missing || rec.Deprovisioned {
			return settleOK, nil
		}
		return p.recreateUser(ctx, rec)
	}
	if err != nil {
		return settleOK, err
	}
	if missing || rec.Deprovisioned {
		p.log.WarnContext(ctx, "settle: UiPath has an account the store says is gone: deleting it", "scim_id", d.ID)
		if err := p.up.DeleteUser(upstream.Deprovisioning(ctx), d.ID); err != nil && !errors.Is(err, upstream.ErrNotFound) {
			return settleOK, err
		}
		return settleRepaired, nil
	}
	res, err := decodeResource(rec)
	if err != nil {
		return settleOK, err
	}
	want, err := profileOf(res)
	if err != nil {
		return settleOK, err
	}
	upd, changed := want.updateFrom(profileOfUpstream(actual))
	if !changed {
		return settleOK, nil
	}
	p.log.WarnContext(ctx, "settle: UiPath account differs from the store: restoring it", "scim_id", d.ID, "active", want.Active)
	if !want.Active {
		ctx = upstream.Deprovisioning(ctx)
	}
	if err := p.up.UpdateUser(ctx, d.ID, upd); err != nil {
		return settleOK, err
	}
	return settleRepaired, nil
}

// settleGroup makes the UiPath group match the store: its name and its
// members among the bridge's users (members the bridge does not manage
// are left alone), or no group when the store has none (for an owned id).
func (p *Provisioner) settleGroup(ctx context.Context, d cache.Doubt) (settleResult, error) {
	unlock, err := p.lock(ctx, "group:"+d.ID)
	if err != nil {
		return settleOK, err
	}
	defer unlock()
	ctx, unc := upstream.TrackUncertain(ctx)
	defer p.noteDoubt(ctx, cache.KindGroup, d.ID, d.Owned, unc)
	rec, err := p.store.Get(ctx, cache.KindGroup, d.ID)
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		return settleOK, err
	}
	missing := errors.Is(err, cache.ErrNotFound)
	if missing && !d.Owned {
		return settleMoot, nil
	}
	g, err := p.up.GetGroup(ctx, d.ID)
	if errors.Is(err, upstream.ErrNotFound) {
		if missing {
			return settleOK, nil
		}
		// A late delete landed on a group the IdP still has.
		if err := p.recreateGroup(ctx, rec.ID, rec.Name, rec.Members); err != nil {
			return settleOK, err
		}
		return settleRepaired, nil
	}
	if err != nil {
		return settleOK, err
	}
	if missing {
		p.log.WarnContext(ctx, "settle: UiPath has a group the store says is gone: deleting it", "scim_id", d.ID)
		if err := p.up.DeleteGroup(ctx, d.ID); err != nil && !errors.Is(err, upstream.ErrNotFound) {
			return settleOK, err
		}
		return settleRepaired, nil
	}
	add, remove, err := p.memberDrift(ctx, rec.ID, rec.Members)
	if err != nil {
		return settleOK, err
	}
	if len(add) == 0 && len(remove) == 0 && g.Name == rec.Name {
		return settleOK, nil
	}
	p.log.WarnContext(ctx, "settle: UiPath group differs from the store: restoring it", "scim_id", d.ID, "add", len(add), "remove", len(remove))
	if _, err := p.up.UpdateGroup(ctx, d.ID, rec.Name, add, remove); err != nil {
		return settleOK, err
	}
	return settleRepaired, nil
}

// recreateUser puts back, under the same id and with its groups, an active
// user whose account UiPath lost while the user was in doubt (a late
// delete, from the delete policy, landing after a reactivation). A user the
// store has inactive is left without an account: it has no access either
// way.
func (p *Provisioner) recreateUser(ctx context.Context, rec cache.Record) (settleResult, error) {
	res, err := decodeResource(rec)
	if err != nil {
		return settleOK, err
	}
	want, err := profileOf(res)
	if err != nil || !want.Active {
		return settleOK, err
	}
	n, err := p.recreateAccount(ctx, rec.ID, want)
	if err != nil {
		return settleOK, err
	}
	p.log.WarnContext(ctx, "settle: active user's account missing in UiPath: recreated", "scim_id", rec.ID, "groups", n)
	return settleRepaired, nil
}

// memberDrift reads a group's members back from UiPath and returns the
// calls that make them match want: the wanted users with a UiPath account
// that UiPath lacks, and the users of the store that UiPath has but want
// does not name (members unknown to the store are not the bridge's).
func (p *Provisioner) memberDrift(ctx context.Context, groupID string, want []string) (add, remove []string, err error) {
	refs, err := p.up.GroupMembers(ctx, groupID)
	if err != nil {
		return nil, nil, err
	}
	actual := make(map[string]bool, len(refs))
	for _, m := range refs {
		actual[m.ID] = true
	}
	// A pair with a pending change is the scheduler's to send.
	pend, err := p.store.PendingOf(ctx, cache.KindGroup, groupID)
	if err != nil {
		return nil, nil, err
	}
	queued := make(map[string]bool, len(pend))
	for _, c := range pend {
		queued[c.User] = true
	}
	wantSet := setOf(want)
	for _, id := range p.withAccounts(ctx, want) {
		if !actual[id] && !queued[id] {
			add = append(add, id)
		}
	}
	for id := range actual {
		if wantSet[id] || queued[id] {
			continue
		}
		if _, err := p.store.Get(ctx, cache.KindUser, id); err == nil {
			remove = append(remove, id)
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove, nil
}
