package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// errChangedDuringPass aborts a repair whose record the IdP changed after
// the pass read the store: the IdP's own write carries the desired state to
// UiPath, and the pass must not act on the stale one.
var errChangedDuringPass = errors.New("changed during the pass")

const changedDetail = "the IdP changed it during the pass: its own write applies the change"

// repair makes every planned repair: leavers first, then lost and drifted
// users, then groups, then memberships through the scheduler's queue.
func (ps *pass) repair(ctx context.Context) {
	for _, leavers := range []bool{true, false} {
		for _, r := range ps.users {
			if r.leaver == leavers {
				ps.repairUser(ctx, r)
			}
		}
	}
	for _, r := range ps.groups {
		ps.repairGroup(ctx, r)
	}
	ps.repairMembers(ctx)
}

// auditRepair writes the audit entry of one repair: what the pass found
// (the drift kinds of idx), what it did, and the UiPath calls of log. A
// repair the pass left to the IdP's own change wrote nothing and is not
// recorded.
func (ps *pass) auditRepair(ctx context.Context, kind cache.Kind, id, name string, idx []int, log *upstream.CallLog, outcome, detail string) {
	var kinds []string
	for _, i := range idx {
		if k := ps.rep.Drift[i].Kind; !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	ps.p.audit(ctx, cache.AuditEntry{IdP: ActorReconcile, Operation: OpReconcile, Kind: kind, ID: id, Name: name,
		Outcome: outcome, Detail: detail, Calls: auditCalls(log), PassID: ps.rep.PassID, Drift: strings.Join(kinds, ",")})
}

// auditOutcome is the audit outcome and detail of a repair's error.
func auditOutcome(err error) (string, string) {
	switch {
	case err == nil:
		return cache.AuditOK, ""
	case upstream.IsRetryable(err):
		return cache.AuditFailed, err.Error()
	}
	return cache.AuditRefused, err.Error()
}

// settle records a repair's result on its findings.
func (ps *pass) settle(idx []int, err error) {
	for _, i := range idx {
		d := &ps.rep.Drift[i]
		switch {
		case err == nil:
			d.Action = ActionRepaired
		case errors.Is(err, errChangedDuringPass):
			d.Action = ActionReported
			d.Detail += " (" + changedDetail + ")"
		default:
			d.Action = ActionFailed
			d.Detail += " (repair failed: " + err.Error() + ")"
		}
	}
}

// unchanged re-reads, under the resource's lock, the record a repair was
// planned from, and reports errChangedDuringPass when the IdP wrote to it
// (or deleted it) since.
func (ps *pass) unchanged(ctx context.Context, rec cache.Record) error {
	cur, err := ps.p.store.Get(ctx, rec.Kind, rec.ID)
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return errChangedDuringPass
	case err != nil:
		return err
	case cur.Version != rec.Version:
		return errChangedDuringPass
	}
	return nil
}

// beginRepair starts the repair of one record: it takes the resource's
// lock and checks that the IdP has not written to the record since the
// pass read the store (else it settles the findings idx and reports !ok).
// The returned context carries the repair's call log and tracks unknown
// outcomes: a repair UiPath did not confirm is checked by the settler, as
// a live write's is; a confirmed one is not read back (a GET per repair):
// the next pass compares it. end notes that doubt and releases the lock.
func (ps *pass) beginRepair(ctx context.Context, rec cache.Record, idx []int) (context.Context, *upstream.CallLog, func(), bool) {
	log := &upstream.CallLog{}
	ctx = upstream.WithCallLog(ctx, log)
	unlock, err := ps.p.lock(ctx, string(rec.Kind)+":"+rec.ID)
	if err != nil {
		ps.settle(idx, err)
		return ctx, log, nil, false
	}
	if err := ps.unchanged(ctx, rec); err != nil {
		unlock()
		ps.settle(idx, err)
		return ctx, log, nil, false
	}
	ctx, unc := upstream.TrackUncertain(ctx)
	return ctx, log, func() {
		ps.p.noteDoubt(ctx, rec.Kind, rec.ID, false, unc)
		unlock()
	}, true
}

func (ps *pass) repairUser(ctx context.Context, r userRepair) {
	p := ps.p
	id := r.rec.ID
	ctx, log, end, ok := ps.beginRepair(ctx, r.rec, r.drifts)
	if !ok {
		return
	}
	defer end()
	if r.leaver {
		// The security case: the deprovisioning reserve is for it.
		ctx = upstream.Deprovisioning(ctx)
	}
	var err error
	switch {
	case r.leaver && (r.rec.Deprovisioned || ps.policy == DeprovisionDelete):
		err = ps.deleteAccount(ctx, r.rec)
	case r.has == nil:
		err = ps.recreateUser(ctx, r)
	default:
		upd, changed := r.want.updateFrom(profileOfUpstream(*r.has))
		if !changed {
			break
		}
		err = paced(ctx, func() error { return p.up.UpdateUser(ctx, id, upd) })
		if errors.Is(err, upstream.ErrNotFound) {
			err = errors.New("UiPath deleted the account during the pass; the next pass recreates it")
		}
	}
	if err == nil {
		p.log.InfoContext(ctx, "reconcile: user repaired", "pass", ps.rep.PassID, "scim_id", id, "leaver", r.leaver)
	}
	outcome, detail := auditOutcome(err)
	if r.leaver && err == nil {
		detail = "deprovisioned: the IdP has the user inactive"
	}
	ps.auditRepair(ctx, cache.KindUser, id, r.rec.Name, r.drifts, log, outcome, detail)
	ps.settle(r.drifts, err)
}

// deleteAccount deletes a leaver's account under the delete policy and
// records it as deprovisioned, as a deactivation through SCIM would.
func (ps *pass) deleteAccount(ctx context.Context, rec cache.Record) error {
	p := ps.p
	err := paced(ctx, func() error { return p.up.DeleteUser(ctx, rec.ID) })
	if err != nil && !errors.Is(err, upstream.ErrNotFound) {
		return err
	}
	if rec.Deprovisioned {
		return nil
	}
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	_, err = p.store.Update(rctx, cache.KindUser, rec.ID, func(r cache.Record) (cache.Record, error) {
		r.Deprovisioned = true
		return r, nil
	})
	return err
}

// recreateUser recreates a lost account under its id with its groups (the
// listing that says it is missing was consistent: see listUsers). A group
// UiPath lacks as well is left out (UiPath would refuse the create): the
// pass recreates that group after the users, with this one among its
// members.
func (ps *pass) recreateUser(ctx context.Context, r userRepair) error {
	p := ps.p
	groups, err := p.store.GroupsOf(ctx, r.rec.ID)
	if err != nil {
		return fmt.Errorf("groups of %s: %w", r.rec.ID, err)
	}
	var upGroups []string
	for _, g := range p.upstreamGroupIDs(ctx, groups) {
		if _, ok := ps.up.groups[g]; ok {
			upGroups = append(upGroups, g)
		}
	}
	err = paced(ctx, func() error {
		_, err := p.recreateAccountIn(ctx, r.rec.ID, r.want, upGroups)
		return err
	})
	if err == nil {
		ps.recreated = append(ps.recreated, r.rec.ID)
	}
	return err
}

func (ps *pass) repairGroup(ctx context.Context, r groupRepair) {
	p := ps.p
	id := r.rec.ID
	ctx, log, end, ok := ps.beginRepair(ctx, r.rec, r.drifts)
	if !ok {
		return
	}
	defer end()
	var err error
	if r.has == nil {
		// Members with an account in UiPath now: listed, or recreated by
		// this pass.
		var members []string
		for _, u := range r.rec.Members {
			if _, ok := ps.up.users[u]; ok || slices.Contains(ps.recreated, u) {
				members = append(members, u)
			}
		}
		err = paced(ctx, func() error { return p.recreateGroup(ctx, id, r.rec.Name, members) })
	} else {
		err = paced(ctx, func() error {
			_, err := p.up.UpdateGroup(ctx, id, r.rec.Name, nil, nil)
			return err
		})
		if errors.Is(err, upstream.ErrNotFound) {
			err = errors.New("UiPath deleted the group during the pass; the next pass recreates it")
		}
	}
	if err == nil {
		p.log.InfoContext(ctx, "reconcile: group repaired", "pass", ps.rep.PassID, "scim_id", id)
	}
	outcome, detail := auditOutcome(err)
	ps.auditRepair(ctx, cache.KindGroup, id, r.rec.Name, r.drifts, log, outcome, detail)
	ps.settle(r.drifts, err)
}

// repairMembers queues the membership drift as pending changes, group by
// group and only if the IdP has not changed the group since the store was
// read, and lets the write scheduler send them: planned with everything
// else pending, at the budget's pace. It waits up to DrainWait for them.
func (ps *pass) repairMembers(ctx context.Context) {
	p := ps.p
	ours := map[[2]string]int{} // (group, user) → index into rep.Drift
	for _, gid := range sortedKeys(ps.members) {
		m := ps.members[gid]
		idx := make([]int, 0, len(m.drifts))
		for _, i := range m.drifts {
			idx = append(idx, i)
		}
		err := ps.queueMembers(ctx, m)
		if errors.Is(err, errChangedDuringPass) {
			ps.settle(idx, err)
			continue
		}
		outcome, detail := auditOutcome(err)
		if err == nil {
			outcome, detail = cache.AuditQueued, fmt.Sprintf("+%d -%d members queued for the write scheduler", len(m.add), len(m.remove))
		}
		ps.auditRepair(ctx, cache.KindGroup, gid, m.rec.Name, idx, &upstream.CallLog{}, outcome, detail)
		if err != nil {
			ps.settle(idx, err)
			continue
		}
		for k, i := range m.drifts {
			ours[[2]string{gid, k[0]}] = i
		}
	}
	if len(ours) == 0 {
		return
	}
	p.wakeScheduler()
	wait := ps.opt.DrainWait
	if wait <= 0 {
		wait = defaultDrainWait
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	left := ps.drainOurs(dctx, ours)
	failures, err := p.store.Failures(ctx, 0)
	if err != nil {
		p.log.WarnContext(ctx, "reconcile: cannot read recorded failures", "error", err)
	}
	for pair, i := range ours {
		d := &ps.rep.Drift[i]
		switch {
		case left[pair]:
			d.Action = ActionPlanned
		default:
			d.Action = ActionRepaired
			for _, f := range failures {
				if f.Group == pair[0] && f.User == pair[1] && !f.At.Before(ps.rep.StartedAt) {
					d.Action = ActionFailed
					d.Detail += " (refused by UiPath: " + f.Reason + ")"
					break
				}
			}
		}
	}
}

// queueMembers writes one group's membership repairs to the queue, in one
// atomic step that fails if the group's record changed since the pass read
// it. The desired members do not change: each pair is queued as it stands.
func (ps *pass) queueMembers(ctx context.Context, m *memberRepair) error {
	p := ps.p
	unlock, err := p.lock(ctx, "group:"+m.rec.ID)
	if err != nil {
		return err
	}
	defer unlock()
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	_, err = p.store.QueueMembers(rctx, m.rec.ID, m.add, m.remove, p.cfg.Now().UTC(), func(cur cache.Record) (cache.Record, error) {
		if cur.Version != m.rec.Version {
			return cur, errChangedDuringPass
		}
		return cur, nil
	})
	if errors.Is(err, cache.ErrNotFound) {
		return errChangedDuringPass
	}
	return err
}

// drainOurs runs scheduler rounds until none of the pass's pairs is
// pending or ctx ends, and returns the pairs still pending. Another
// replica's scheduler may send them meanwhile; the queue says when.
func (ps *pass) drainOurs(ctx context.Context, ours map[[2]string]int) map[[2]string]bool {
	p := ps.p
	for {
		rep, rerr := p.Round(ctx)
		pend, err := p.store.PendingChanges(ctx)
		left := map[[2]string]bool{}
		if err != nil {
			for k := range ours {
				left[k] = true
			}
		} else {
			for _, c := range pend {
				if _, ok := ours[[2]string{c.Group, c.User}]; ok {
					left[[2]string{c.Group, c.User}] = true
				}
			}
		}
		if len(left) == 0 && err == nil {
			return left
		}
		wait := rep.Wait
		if rerr != nil || wait <= 0 {
			wait = 100 * time.Millisecond
		}
		t := time.NewTimer(min(wait, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return left
		case <-t.C:
		}
	}
}

// importUnmanaged rebuilds store records, marked imported, for UiPath's
// local users and custom groups the store lacks (after a store loss), so
// that the IdP's next lookups and writes find them instead of creating
// duplicates. A group's members are the users the store then knows.
func (ps *pass) importUnmanaged(ctx context.Context) {
	p := ps.p
	now := p.cfg.Now().UTC()
	imported := map[string]bool{}
	note := func(id string, err error) {
		d := &ps.rep.Drift[ps.unmanaged[id]]
		if err != nil {
			d.Detail = "a UiPath " + d.Resource + " the bridge does not manage: not imported: " + err.Error()
		} else {
			d.Detail = "imported into the store, marked imported until the IdP writes to it; never repaired before that"
		}
	}
	for _, id := range sortedKeys(ps.up.users) {
		if _, ok := ps.store.users[id]; ok {
			continue
		}
		u := ps.up.users[id]
		body, err := json.Marshal(resourceOfUpstream(u))
		if err == nil {
			_, err = p.store.Create(ctx, cache.Record{Kind: cache.KindUser, ID: id, Name: u.UserName, Resource: body,
				Created: now, Modified: now, Imported: true})
		}
		if errors.Is(err, cache.ErrAlreadyExists) {
			err = fmt.Errorf("the store has another user named %q", u.UserName)
		}
		note(id, err)
		if err != nil {
			continue
		}
		imported[id] = true
		ps.rep.Imported.Users++
	}
	for _, id := range sortedKeys(ps.up.groups) {
		if _, ok := ps.store.groups[id]; ok {
			continue
		}
		g := ps.up.groups[id]
		var members []string
		for _, u := range sortedKeys(ps.up.members[id]) {
			if _, ok := ps.store.users[u]; ok || imported[u] {
				members = append(members, u)
			}
		}
		body, err := json.Marshal(map[string]any{"displayName": g.Name})
		if err == nil {
			_, err = p.store.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: id, Name: g.Name, Resource: body,
				Members: members, Created: now, Modified: now, Imported: true})
		}
		if errors.Is(err, cache.ErrAlreadyExists) {
			err = fmt.Errorf("the store has another group named %q", g.Name)
		}
		note(id, err)
		if err == nil {
			ps.rep.Imported.Groups++
		}
	}
	if n := ps.rep.Imported.Users + ps.rep.Imported.Groups; n > 0 {
		p.log.WarnContext(ctx, "reconcile: imported UiPath objects the store lacked", "pass", ps.rep.PassID,
			"users", ps.rep.Imported.Users, "groups", ps.rep.Imported.Groups)
	}
}
