package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/logpii"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// getGroup returns the stored group.
func (p *Provisioner) getGroup(ctx context.Context, id string) (cache.Record, error) {
	rec, err := p.store.Get(ctx, cache.KindGroup, id)
	if errors.Is(err, cache.ErrNotFound) {
		return rec, notFound("group", id)
	}
	return rec, err
}

// createGroup creates a UiPath group with a client-generated id and its
// initial members in one call (POST /Group carries them).
func (p *Provisioner) createGroup(ctx context.Context, attrs map[string]any) (cache.Record, error) {
	members, err := scimdoc.MemberIDs(attrs["members"])
	if err != nil {
		return cache.Record{}, err
	}
	res := scimdoc.Clean(attrs)
	name, err := groupName(res)
	if err != nil {
		return cache.Record{}, err
	}
	res["displayName"] = name
	ext := externalIDOf(res)

	unlock, err := p.lock(ctx, "group-name:"+strings.ToLower(name))
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	if rec, ok, err := p.importedMatch(ctx, cache.KindGroup, name); err != nil {
		return cache.Record{}, err
	} else if ok {
		// reconcile --import rebuilt this group from UiPath: the IdP's
		// create is that group, and its members are the IdP's.
		p.log.InfoContext(ctx, "create matched an imported group: taking it over", "scim_id", rec.ID)
		return p.replaceGroup(ctx, rec.ID, attrs, "")
	}
	if err := p.checkUnique(ctx, cache.KindGroup, "", name); err != nil {
		return cache.Record{}, err
	}
	upMembers, err := p.checkMembers(ctx, members)
	if err != nil {
		return cache.Record{}, err
	}

	id := p.cfg.NewID()
	adopted := false
	ctx, unc := upstream.TrackUncertain(ctx)
	defer func() { p.noteDoubt(ctx, cache.KindGroup, id, !adopted, unc) }()
	_, err = p.up.CreateGroup(ctx, id, name, upMembers)
	var uerr *upstream.Error
	switch {
	case err == nil:
	case errors.As(err, &uerr) && uerr.HasCode(upstream.CodeDuplicateGroupName):
		if !p.cfg.AdoptExisting {
			return cache.Record{}, uniqueness("UiPath already has a group named %q", name)
		}
		adoptedID, err := p.adoptGroup(ctx, name, upMembers)
		if err != nil {
			return cache.Record{}, err
		}
		id, adopted = adoptedID, true
	case upstream.IsRetryable(err), errors.As(err, &uerr) && uerr.HasCode(upstream.CodeDuplicateID):
		// The create may have happened with its response lost, or an
		// earlier try of it landed (UiPath then refuses our own id): the
		// id is ours, so ask UiPath before reporting failure.
		if _, gerr := p.up.GetGroup(ctx, id); gerr != nil {
			if upstream.IsRetryable(err) {
				return cache.Record{}, fmt.Errorf("create group: %w", err)
			}
			return cache.Record{}, refusal(fmt.Errorf("create group: %w", err))
		}
		p.log.WarnContext(ctx, "group create: an earlier try of it landed; the group exists", "scim_id", id)
	default:
		return cache.Record{}, refusal(fmt.Errorf("create group: %w", err))
	}

	body, err := json.Marshal(res)
	if err != nil {
		return cache.Record{}, fmt.Errorf("encode group: %w", err)
	}
	now := p.cfg.Now().UTC()
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	rec, err := p.store.Create(rctx, cache.Record{
		Kind: cache.KindGroup, ID: id, Name: name, ExternalID: ext,
		Resource: body, Members: members, Created: now, Modified: now,
	})
	if err != nil {
		switch {
		case adopted:
		case errors.Is(err, cache.ErrUnavailable):
			// As for users: the record may be there; the check decides.
			p.addDoubt(ctx, cache.KindGroup, id, true, p.cfg.FirstCheck)
		default:
			if derr := p.up.DeleteGroup(ctx, id); derr != nil && !errors.Is(derr, upstream.ErrNotFound) {
				p.log.ErrorContext(ctx, "undo group create after store failure", "scim_id", id, "error", derr)
			}
		}
		if errors.Is(err, cache.ErrAlreadyExists) {
			return cache.Record{}, uniqueness("a group with displayName %q already exists", name)
		}
		return cache.Record{}, fmt.Errorf("store group %s: %w", id, err)
	}
	p.log.InfoContext(ctx, "group created", "scim_id", id, "display_name", logpii.Value(name), "members", len(members), "adopted", adopted)
	if adopted {
		noteAudit(ctx, func(n *auditNote) { n.detail = "adopted an existing UiPath group" })
	}
	return rec, nil
}

// adoptGroup links an existing UiPath group of that name and makes its
// members the requested ones: it reads the group's members, adds those it
// lacks and removes the users the bridge manages that the IdP did not
// name (the IdP's list wins, so the store and UiPath agree from the start:
// after a store loss, a re-pushed group whose membership changed meanwhile
// would otherwise keep a removed member in UiPath that the store believes
// gone). Members the bridge does not manage (robots, accounts made in
// UiPath) are left alone, as reconciliation leaves them.
func (p *Provisioner) adoptGroup(ctx context.Context, name string, members []string) (string, error) {
	groups, err := p.up.ListGroups(ctx)
	if err != nil {
		return "", fmt.Errorf("list groups: %w", err)
	}
	for _, g := range groups {
		if !strings.EqualFold(g.Name, name) {
			continue
		}
		if g.Type == upstream.GroupTypeBuiltIn {
			return "", uniqueness("%q is a built-in UiPath group and cannot be managed by the IdP", g.Name)
		}
		if _, err := p.store.Get(ctx, cache.KindGroup, g.ID); err == nil {
			return "", uniqueness("the UiPath group %q is already linked to another SCIM group", g.Name)
		}
		refs, err := p.up.GroupMembers(ctx, g.ID)
		if err != nil {
			return "", fmt.Errorf("read members of adopted group %s: %w", g.ID, err)
		}
		want := setOf(members)
		have := make(map[string]bool, len(refs))
		var remove []string
		for _, m := range refs {
			have[m.ID] = true
			if want[m.ID] {
				continue
			}
			if _, err := p.store.Get(ctx, cache.KindUser, m.ID); err == nil {
				remove = append(remove, m.ID)
			}
		}
		add := slices.DeleteFunc(slices.Clone(members), func(id string) bool { return have[id] })
		slices.Sort(remove)
		if len(add)+len(remove) > 0 {
			if _, err := p.up.UpdateGroup(ctx, g.ID, g.Name, add, remove); err != nil {
				return "", fmt.Errorf("set members of adopted group %s: %w", g.ID, err)
			}
		}
		p.log.InfoContext(ctx, "adopted existing UiPath group", "upstream_id", g.ID, "display_name", logpii.Value(g.Name), "added", len(add), "removed", len(remove))
		return g.ID, nil
	}
	return "", uniqueness("UiPath reports group name %q as taken, but no such group was found", name)
}

// replaceGroup replaces a group's attributes and members (PUT). Members
// absent from the request are removed (RFC 7644 §3.5.1).
func (p *Provisioner) replaceGroup(ctx context.Context, id string, attrs map[string]any, ifMatch string) (cache.Record, error) {
	members, err := scimdoc.MemberIDs(attrs["members"])
	if err != nil {
		return cache.Record{}, err
	}
	unlock, err := p.lock(ctx, "group:"+id)
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	cur, err := p.loadGroup(ctx, id, ifMatch)
	if err != nil {
		return cur.rec, err
	}
	return p.commitGroup(ctx, cur, scimdoc.Clean(attrs), members)
}

// patchGroup applies PATCH operations to a group. An operation that changes
// nothing writes nothing.
func (p *Provisioner) patchGroup(ctx context.Context, id string, ops []scimdoc.PatchOp, ifMatch string) (cache.Record, error) {
	unlock, err := p.lock(ctx, "group:"+id)
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	cur, err := p.loadGroup(ctx, id, ifMatch)
	if err != nil {
		return cur.rec, err
	}
	next, members, changed, err := scimdoc.PatchGroup(cur.res, cur.rec.Members, ops)
	if err != nil || (!changed && !cur.doubt) {
		// As for users: a repeat restates the group when UiPath is in doubt.
		return cur.rec, err
	}
	return p.commitGroup(ctx, cur, scimdoc.Clean(next), members)
}

// loadedGroup is a group as a write finds it under its lock: the store's
// record (with its members) and attributes, and whether UiPath is in
// doubt for it (see doubt.go).
type loadedGroup struct {
	rec   cache.Record
	res   map[string]any
	doubt bool
}

func (p *Provisioner) loadGroup(ctx context.Context, id, ifMatch string) (loadedGroup, error) {
	// An id only UiPath knows (a store loss) is re-adopted (readopt.go).
	rec, readopted, err := p.loadOrReadopt(ctx, cache.KindGroup, id, true)
	if err != nil {
		return loadedGroup{rec: rec}, err
	}
	if err := checkIfMatch(rec, ifMatch); err != nil && !readopted {
		return loadedGroup{rec: rec}, err
	}
	res, err := decodeResource(rec)
	if err != nil {
		return loadedGroup{rec: rec}, err
	}
	doubt, err := p.inDoubt(ctx, cache.KindGroup, id)
	return loadedGroup{rec: rec, res: res, doubt: doubt}, err
}

// commitGroup carries a group's new name and member set to UiPath, then
// records in the store exactly what UiPath confirmed.
func (p *Provisioner) commitGroup(ctx context.Context, cur loadedGroup, res map[string]any, members []string) (cache.Record, error) {
	rec := cur.rec
	ctx, unc := upstream.TrackUncertain(ctx)
	defer p.noteDoubt(ctx, cache.KindGroup, rec.ID, false, unc)
	name, err := groupName(res)
	if err != nil {
		return rec, err
	}
	res["displayName"] = name
	ext := externalIDOf(res)
	renamed := name != rec.Name
	if renamed {
		if err := p.checkUnique(ctx, cache.KindGroup, rec.ID, name); err != nil {
			return rec, err
		}
	}
	adds, removes := diffSets(rec.Members, members)
	upAdds, err := p.checkMembers(ctx, adds)
	if err != nil {
		return rec, err
	}
	upRemoves := p.withAccounts(ctx, removes)
	if cur.doubt {
		// UiPath may hold a late change: plan against what it has.
		add, remove, err := p.memberDrift(ctx, rec.ID, members)
		if err != nil {
			p.log.WarnContext(ctx, "group in doubt and its members cannot be read back: sending the requested change only", "scim_id", rec.ID, "error", err)
		} else {
			upAdds, upRemoves = add, remove
		}
	}

	body, err := json.Marshal(res)
	if err != nil {
		return rec, fmt.Errorf("encode group: %w", err)
	}
	if p.cfg.MembershipWrites == WritesQueued && !renamed {
		return p.queueGroup(ctx, rec, name, ext, body, [4][]string{adds, removes, upAdds, upRemoves})
	}
	plan := planGroupChange(p.cfg.Strategy, rec.ID, name, renamed, upAdds, upRemoves)
	out := p.runPlan(ctx, plan)
	if p.groupGone(ctx, rec.ID, out) {
		// Deleted directly in UiPath while the IdP still has it: it comes
		// back under the same id with the members wanted now, which is
		// the whole change.
		if err := p.recreateGroup(ctx, rec.ID, name, members); err != nil {
			return rec, err
		}
		out = planOutcome{added: upAdds, removed: upRemoves}
	}
	if out.renameErr != nil {
		return rec, refusal(fmt.Errorf("rename group %s: %w", rec.ID, out.renameErr))
	}
	// Users without a UiPath account (deleted by policy) change in the store
	// only; everything else only as far as UiPath confirmed it.
	confirmedAdd := setOf(out.added)
	confirmedRemove := setOf(out.removed)
	for _, id := range adds {
		if !slices.Contains(upAdds, id) {
			confirmedAdd[id] = true
		}
	}
	for _, id := range removes {
		if !slices.Contains(upRemoves, id) {
			confirmedRemove[id] = true
		}
	}
	now := p.cfg.Now().UTC()
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	// Only the delta is written: the group lock makes rec.Members the
	// stored set, so the store need not read or rewrite it.
	stored, err := p.store.UpdateMembers(rctx, rec.ID, slices.Sorted(maps.Keys(confirmedAdd)), slices.Sorted(maps.Keys(confirmedRemove)),
		func(r cache.Record) (cache.Record, error) {
			r.Name = name
			r.ExternalID = ext
			r.Resource = body
			r.Modified = now
			r.Imported = false // the IdP has now confirmed it
			return r, nil
		})
	if err != nil {
		if errors.Is(err, cache.ErrConflict) {
			return rec, uniqueness("displayName %q is already used by another group", name)
		}
		return rec, fmt.Errorf("store group %s: %w", rec.ID, err)
	}
	stored.Members = applyDelta(rec.Members, confirmedAdd, confirmedRemove)
	if len(out.lost) > 0 {
		if stored, err = p.queueLostMembers(rctx, stored, out.lost); err != nil {
			return stored, err
		}
		for _, id := range out.lost {
			confirmedAdd[id] = true // for the check below
		}
	}
	if len(confirmedAdd) > 0 {
		if stored, err = p.forgetDeletedMembers(ctx, stored, confirmedAdd); err != nil {
			return stored, err
		}
	}
	if out.failed > 0 {
		slices.Sort(out.failedIDs)
		err := &partialError{failedUsers: out.failedIDs, failed: out.failed, total: out.total, retryable: out.retryable, err: out.firstErr}
		p.log.WarnContext(ctx, "membership change partly applied", "scim_id", rec.ID, "error", err)
		return stored, err
	}
	return stored, nil
}

// queueGroup records a group's new attributes and desired members, and
// queues the member changes UiPath needs, in one atomic store write; the
// scheduler sends them. delta is the requested adds and removes, then the
// adds and removes UiPath needs (without the users the delete policy left
// without an account; in doubt, planned against UiPath's own members).
func (p *Provisioner) queueGroup(ctx context.Context, rec cache.Record, name, ext string, body []byte, delta [4][]string) (cache.Record, error) {
	adds, removes, upAdds, upRemoves := delta[0], delta[1], delta[2], delta[3]
	now := p.cfg.Now().UTC()
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	stored, err := p.store.QueueMembers(rctx, rec.ID, upAdds, upRemoves, now, func(r cache.Record) (cache.Record, error) {
		r.Name = name
		r.ExternalID = ext
		r.Resource = body
		r.Modified = now
		r.Imported = false // the IdP has now confirmed it
		return r, nil
	})
	if err != nil {
		if errors.Is(err, cache.ErrConflict) {
			return rec, uniqueness("displayName %q is already used by another group", name)
		}
		return rec, fmt.Errorf("store group %s: %w", rec.ID, err)
	}
	// The rest changes in the store only: users without an account, and
	// (in doubt) members UiPath was seen to hold already.
	upA, upR := setOf(upAdds), setOf(upRemoves)
	storeAdd := slices.DeleteFunc(slices.Clone(adds), func(id string) bool { return upA[id] })
	storeRemove := slices.DeleteFunc(slices.Clone(removes), func(id string) bool { return upR[id] })
	if len(storeAdd) > 0 || len(storeRemove) > 0 {
		if stored, err = p.store.UpdateMembers(rctx, rec.ID, storeAdd, storeRemove, nil); err != nil {
			return rec, fmt.Errorf("store group %s: %w", rec.ID, err)
		}
	}
	stored.Members = applyDelta(rec.Members, setOf(adds), setOf(removes))
	if len(upAdds)+len(upRemoves) > 0 {
		noteAudit(ctx, func(n *auditNote) { n.queued = true })
	}
	p.wakeScheduler()
	if len(adds) > 0 {
		return p.forgetDeletedMembers(ctx, stored, setOf(adds))
	}
	return stored, nil
}

// forgetDeletedMembers checks, after the group was written, that the users
// just added still exist: a user deleted meanwhile (by another request, on
// any replica) is dropped from the group again. The user's deletion removed
// its UiPath account, and with it the UiPath membership, so only the store
// needs the change. Together with the second pass in deleteUser this keeps
// every group's members a subset of the store's users.
func (p *Provisioner) forgetDeletedMembers(ctx context.Context, stored cache.Record, added map[string]bool) (cache.Record, error) {
	var gone []string
	for id := range added {
		_, err := p.store.Get(ctx, cache.KindUser, id)
		switch {
		case errors.Is(err, cache.ErrNotFound):
			gone = append(gone, id)
		case err != nil:
			return stored, fmt.Errorf("look up member %s: %w", id, err)
		}
	}
	if len(gone) == 0 {
		return stored, nil
	}
	slices.Sort(gone)
	p.log.WarnContext(ctx, "members deleted while being added: dropped from the group", "scim_id", stored.ID, "members", len(gone))
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	members := stored.Members
	rec, err := p.store.UpdateMembers(rctx, stored.ID, nil, gone, nil)
	if err != nil {
		return stored, fmt.Errorf("drop deleted members from group %s: %w", stored.ID, err)
	}
	rec.Members = slices.DeleteFunc(slices.Clone(members), func(id string) bool { _, found := slices.BinarySearch(gone, id); return found })
	return rec, nil
}

// checkMembers verifies every id is a user provisioned through the bridge
// and returns those that have a UiPath account. An id the store does not
// know is re-adopted from UiPath when it names a local account there (a
// store loss), at most maxReadoptLookups of them per request: past that,
// the request fails as retryable, and each retry re-adopts as many more.
func (p *Provisioner) checkMembers(ctx context.Context, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	lookups, unknown := 0, 0
	for _, id := range ids {
		rec, err := p.store.Get(ctx, cache.KindUser, id)
		if errors.Is(err, cache.ErrNotFound) {
			if lookups == maxReadoptLookups {
				unknown++
				continue
			}
			lookups++
			rec, err = p.readoptUser(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return nil, invalidValue("member %q is not a user provisioned through this bridge (groups cannot be nested in UiPath)", id)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("look up member %s: %w", id, err)
		}
		if !rec.Deprovisioned {
			out = append(out, id)
		}
	}
	if unknown > 0 {
		return nil, &Error{Code: CodeUnavailable, RetryAfter: storeRetryAfter,
			Detail: fmt.Sprintf("%d members are unknown to the bridge's store (after a store loss?); %d were looked up in UiPath and re-adopted, and a request looks up at most %d: retry the request to carry on.", lookups+unknown, lookups, maxReadoptLookups)}
	}
	return out, nil
}

// groupGone reports whether a plan failed because UiPath no longer has the
// group: its own call answered 404, or a user call was refused for good
// and UiPath says so when asked (PUT /User names a missing group with a
// 400).
func (p *Provisioner) groupGone(ctx context.Context, id string, out planOutcome) bool {
	if errors.Is(out.renameErr, upstream.ErrNotFound) || errors.Is(out.groupErr, upstream.ErrNotFound) {
		return true
	}
	if out.failed == 0 || out.retryable {
		return false
	}
	_, err := p.up.GetGroup(ctx, id)
	return errors.Is(err, upstream.ErrNotFound)
}

// recreateGroup makes, under id, the UiPath group of a group the store
// has, named name, with the members among members that have an account.
// A create whose outcome is unknown counts when UiPath shows the group.
func (p *Provisioner) recreateGroup(ctx context.Context, id, name string, members []string) error {
	withAccounts := p.withAccounts(ctx, members)
	if _, err := p.up.CreateGroup(ctx, id, name, withAccounts); err != nil {
		var uerr *upstream.Error
		duplicate := errors.As(err, &uerr) && uerr.HasCode(upstream.CodeDuplicateGroupName)
		if !upstream.IsRetryable(err) && !duplicate {
			return refusal(fmt.Errorf("recreate group %s: %w", id, err))
		}
		// An unknown outcome, or a duplicate that may be this very group
		// (an earlier try landing late): it counts when UiPath has it
		// under our id.
		if _, gerr := p.up.GetGroup(ctx, id); gerr != nil {
			if duplicate {
				return refusal(fmt.Errorf("recreate group %s: %w", id, err))
			}
			return fmt.Errorf("recreate group %s: %w", id, err)
		}
	}
	p.log.WarnContext(ctx, "group missing in UiPath: recreated under the same id with its members", "scim_id", id, "members", len(withAccounts))
	return nil
}

// withAccounts keeps the ids whose user has a UiPath account (unknown ids
// are kept: a removal of a forgotten user is harmless upstream).
func (p *Provisioner) withAccounts(ctx context.Context, ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		rec, err := p.store.Get(ctx, cache.KindUser, id)
		if err == nil && rec.Deprovisioned {
			continue
		}
		out = append(out, id)
	}
	return out
}

// deleteGroup deletes the UiPath group and forgets it, and returns the
// record it forgot.
func (p *Provisioner) deleteGroup(ctx context.Context, id, ifMatch string) (cache.Record, error) {
	unlock, err := p.lock(ctx, "group:"+id)
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	// An id only UiPath knows (a store loss) is re-adopted, so that the
	// delete takes effect there; its members do not matter.
	rec, readopted, err := p.loadOrReadopt(ctx, cache.KindGroup, id, false)
	if err != nil {
		return rec, err
	}
	if err := checkIfMatch(rec, ifMatch); err != nil && !readopted {
		return rec, err
	}
	ctx, unc := upstream.TrackUncertain(ctx)
	defer p.noteDoubt(ctx, cache.KindGroup, id, true, unc)
	if err := p.up.DeleteGroup(ctx, id); err != nil && !errors.Is(err, upstream.ErrNotFound) {
		return rec, fmt.Errorf("delete group %s: %w", id, err)
	}
	if err := p.store.Delete(ctx, cache.KindGroup, id); err != nil && !errors.Is(err, cache.ErrNotFound) {
		return rec, fmt.Errorf("forget group %s: %w", id, err)
	}
	p.log.InfoContext(ctx, "group deleted", "scim_id", id)
	return rec, nil
}

func groupName(res map[string]any) (string, error) {
	name, _ := res["displayName"].(string)
	name = strings.TrimSpace(name)
	if name == "" {
		return "", invalidValue("displayName is required and must be a non-empty string")
	}
	if n := utf8.RuneCountInString(name); n > maxFieldLength {
		return "", invalidValue("displayName is %d characters long; UiPath takes at most %d", n, maxFieldLength)
	}
	return name, nil
}

func diffSets(old, cur []string) (adds, removes []string) {
	o, c := setOf(old), setOf(cur)
	for _, id := range cur {
		if !o[id] {
			adds = append(adds, id)
		}
	}
	for _, id := range old {
		if !c[id] {
			removes = append(removes, id)
		}
	}
	return adds, removes
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// applyDelta returns cur with add added and remove removed, sorted.
func applyDelta(cur []string, add, remove map[string]bool) []string {
	set := setOf(cur)
	for id := range add {
		set[id] = true
	}
	for id := range remove {
		delete(set, id)
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
