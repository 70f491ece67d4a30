package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/logpii"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// getUser returns the stored user (reads never call UiPath).
func (p *Provisioner) getUser(ctx context.Context, id string) (cache.Record, error) {
	rec, err := p.store.Get(ctx, cache.KindUser, id)
	if errors.Is(err, cache.ErrNotFound) {
		return rec, notFound("user", id)
	}
	return rec, err
}

// createUser provisions a new user (RFC 7644 §3.3): BulkCreate with a
// client-generated id, or, when UiPath already has the userName or email and
// adoption is on, the existing account is linked and brought up to date.
func (p *Provisioner) createUser(ctx context.Context, attrs map[string]any) (cache.Record, error) {
	res := scimdoc.Clean(attrs)
	prof, err := profileOf(res)
	if err == nil {
		err = prof.checkInput()
	}
	if err != nil {
		return cache.Record{}, err
	}
	res["userName"] = prof.UserName
	ext := externalIDOf(res)

	unlock, err := p.lock(ctx, "user-name:"+strings.ToLower(prof.UserName))
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	if rec, ok, err := p.inactiveMatch(ctx, prof.UserName, ext); err != nil {
		return cache.Record{}, err
	} else if ok {
		// Okta re-assigns a deactivated user by POSTing it again (same
		// userName, same externalId): that is a reactivation, not a
		// duplicate.
		return p.createOnto(ctx, rec.ID, res, "matched a deactivated user: reactivated")
	}
	if rec, ok, err := p.importedMatch(ctx, cache.KindUser, prof.UserName); err != nil {
		return cache.Record{}, err
	} else if ok {
		// reconcile --import rebuilt this user from UiPath after a store
		// loss: the IdP's create is the user it already has, not a new one.
		return p.createOnto(ctx, rec.ID, res, "matched an imported user: taken over")
	}
	if err := p.checkUnique(ctx, cache.KindUser, "", prof.UserName); err != nil {
		return cache.Record{}, err
	}

	newID := p.cfg.NewID()
	id := newID
	deprovisioned := false
	adopted := false
	ctx, unc := upstream.TrackUncertain(ctx)
	// An account made under our own id is ours: if the store ends up
	// without it, UiPath must not keep it either.
	defer func() { p.noteDoubt(ctx, cache.KindUser, id, !adopted, unc) }()
	if !prof.Active && p.cfg.Deprovision == DeprovisionDelete {
		// An inactive user under the delete policy has no UiPath account
		// until it is activated.
		deprovisioned = true
	} else {
		var release func()
		id, adopted, release, err = p.createUpstreamUser(ctx, newID, prof)
		if err != nil {
			id = newID
			return cache.Record{}, err
		}
		// An adopted account stays locked until its record is stored, so
		// that two creates cannot both link it.
		defer release()
	}

	body, err := json.Marshal(res)
	if err != nil {
		return cache.Record{}, fmt.Errorf("encode user: %w", err)
	}
	now := p.cfg.Now().UTC()
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	rec, err := p.store.Create(rctx, cache.Record{
		Kind: cache.KindUser, ID: id, Name: prof.UserName, ExternalID: ext,
		Resource: body, Created: now, Modified: now, Deprovisioned: deprovisioned,
	})
	if err != nil {
		switch {
		case adopted || deprovisioned:
		case errors.Is(err, cache.ErrUnavailable):
			// The record may have been written (a Redis that lost the
			// connection, or whose replicas did not confirm in time):
			// leave the account, and let the check delete it if the
			// store turns out not to have it.
			p.addDoubt(ctx, cache.KindUser, id, true, p.cfg.FirstCheck)
		default:
			// Undo the account we just made so a retry starts clean.
			if derr := p.up.DeleteUser(ctx, id); derr != nil && !errors.Is(derr, upstream.ErrNotFound) {
				p.log.ErrorContext(ctx, "undo user create after store failure", "scim_id", id, "error", derr)
			}
		}
		if errors.Is(err, cache.ErrAlreadyExists) {
			return cache.Record{}, uniqueness("a user with userName %q already exists", prof.UserName)
		}
		return cache.Record{}, fmt.Errorf("store user %s: %w", id, err)
	}
	p.log.InfoContext(ctx, "user created", "scim_id", id, "user_name", logpii.Value(prof.UserName), "adopted", adopted)
	if adopted {
		noteAudit(ctx, func(n *auditNote) { n.detail = "adopted an existing UiPath account" })
	}
	return rec, nil
}

// createOnto applies a create to the existing user id it matched (a
// reactivation, an imported record): under the user's lock, as an update.
func (p *Provisioner) createOnto(ctx context.Context, id string, res map[string]any, why string) (cache.Record, error) {
	unlock, err := p.lock(ctx, "user:"+id)
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	cur, err := p.loadUser(ctx, id, "")
	if err != nil {
		return cache.Record{}, err
	}
	p.log.InfoContext(ctx, "create "+why, "scim_id", id)
	noteAudit(ctx, func(n *auditNote) { n.detail = why })
	return p.commitUser(ctx, cur, res)
}

// importedMatch finds the record named name (userName or displayName)
// when reconcile --import made it and the IdP has not written to it yet.
func (p *Provisioner) importedMatch(ctx context.Context, kind cache.Kind, name string) (cache.Record, bool, error) {
	rec, err := p.store.Lookup(ctx, kind, cache.IndexName, name)
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return rec, false, nil
	case err != nil:
		return rec, false, fmt.Errorf("look up %s name: %w", kind, err)
	}
	return rec, rec.Imported, nil
}

// inactiveMatch finds the deactivated user a create names: the one with
// its userName, when the create's externalId (if it carries one) is that
// user's too, or the user has none (a record rebuilt from UiPath lost it).
// externalId alone never matches: it is the client's identifier, which
// several users may share (RFC 7643 §3.1), so a create that carries a
// deactivated user's externalId under another userName is a new user.
func (p *Provisioner) inactiveMatch(ctx context.Context, userName, ext string) (cache.Record, bool, error) {
	rec, err := p.store.Lookup(ctx, cache.KindUser, cache.IndexName, userName)
	if errors.Is(err, cache.ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("look up user: %w", err)
	}
	if ext != "" && rec.ExternalID != "" && rec.ExternalID != ext {
		return rec, false, nil
	}
	res, err := decodeResource(rec)
	if err != nil {
		return rec, false, err
	}
	if active, ok := scimdoc.Bool(res["active"]); ok && !active {
		return rec, true, nil
	}
	return rec, false, nil
}

// checkUnique reports a uniqueness error when name (userName or
// displayName) belongs to a record other than self. externalId is not
// checked: it is the client's identifier, and several users or groups may
// share one (RFC 7643 §3.1; Entra's older default maps it from
// mailNickname, which repeats).
func (p *Provisioner) checkUnique(ctx context.Context, kind cache.Kind, self, name string) error {
	if name == "" {
		return nil
	}
	rec, err := p.store.Lookup(ctx, kind, cache.IndexName, name)
	switch {
	case err == nil && rec.ID != self:
		attr := "userName"
		if kind == cache.KindGroup {
			attr = "displayName"
		}
		return uniqueness("%s %q is already used by %s %s", attr, name, kind, rec.ID)
	case err != nil && !errors.Is(err, cache.ErrNotFound):
		return fmt.Errorf("look up %s name: %w", kind, err)
	}
	return nil
}

// createUpstreamUser creates (or adopts) the UiPath account and returns its
// id and whether it was adopted. An existing account is adopted only when
// its userName is the SCIM userName (ignoring case), or its email is the
// SCIM user's email and also its userName (findExisting), and never when
// the store already links it to another SCIM user: an adoption must not
// hand one identity another person's account.
//
// An adopted account's id is locked (as a user's is) from before the check
// that no SCIM user links it until release is called, which the caller
// does once the record is stored: two creates racing for one account
// cannot both link it, nor both change it.
func (p *Provisioner) createUpstreamUser(ctx context.Context, id string, prof profile) (string, bool, func(), error) {
	release := func() {}
	_, err := p.up.CreateUser(ctx, prof.newUser(id), nil)
	var uerr *upstream.Error
	switch {
	case err == nil:
	case errors.As(err, &uerr) && (uerr.HasCode(upstream.CodeDuplicateUserName) || uerr.HasCode(upstream.CodeDuplicateEmail)):
		if !p.cfg.AdoptExisting {
			return "", false, release, uniqueness("UiPath already has an account with userName %q or email %q", prof.UserName, prof.Email)
		}
		existing, ferr := p.findExisting(ctx, prof, uerr)
		if ferr != nil {
			return "", false, release, ferr
		}
		unlock, lerr := p.lock(ctx, "user:"+existing.ID)
		if lerr != nil {
			return "", false, release, lerr
		}
		if _, gerr := p.store.Get(ctx, cache.KindUser, existing.ID); gerr == nil {
			unlock()
			return "", false, release, uniqueness("the UiPath account for %q is already linked to another SCIM user", prof.UserName)
		}
		if upd, changed := prof.updateFrom(profileOfUpstream(existing)); changed {
			if err := p.up.UpdateUser(ctx, existing.ID, upd); err != nil {
				unlock()
				return "", false, release, fmt.Errorf("update adopted user %s: %w", existing.ID, err)
			}
		}
		p.log.InfoContext(ctx, "adopted existing UiPath account", "upstream_id", existing.ID, "user_name", logpii.Value(prof.UserName))
		return existing.ID, true, unlock, nil
	case upstream.IsRetryable(err):
		// The create may have happened with its response lost: the id is
		// ours, so ask UiPath before reporting failure.
		if _, gerr := p.up.GetUser(ctx, id); gerr != nil {
			return "", false, release, err
		}
		p.log.WarnContext(ctx, "user create response lost; account exists", "scim_id", id)
	case errors.As(err, &uerr) && uerr.HasCode(upstream.CodeInvalidUserName):
		return "", false, release, invalidValue("UiPath rejected userName %q: %s", prof.UserName, uerr.Detail)
	default:
		return "", false, release, refusal(err)
	}
	if !prof.Active {
		inactive := false
		if err := p.up.UpdateUser(upstream.Deprovisioning(ctx), id, upstream.UserUpdate{IsActive: &inactive}); err != nil {
			return "", false, release, fmt.Errorf("deactivate new user %s: %w", id, err)
		}
		if !p.confirmInactive(ctx, id) {
			p.addDoubt(ctx, cache.KindUser, id, true, 0)
		}
	}
	return id, false, release, nil
}

func (p *Provisioner) findExisting(ctx context.Context, prof profile, uerr *upstream.Error) (upstream.User, error) {
	u, err := p.up.FindUserByUserName(ctx, prof.UserName)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, upstream.ErrNotFound) {
		return u, fmt.Errorf("find existing user: %w", err)
	}
	if prof.Email != "" && uerr.HasCode(upstream.CodeDuplicateEmail) {
		u, err = p.up.FindUserByEmail(ctx, prof.Email)
		if err == nil && !strings.EqualFold(u.UserName, prof.Email) {
			// An account with this email under another login is another
			// identity (an admin's own account, say): adopting it would
			// let this IdP user control it.
			p.log.WarnContext(ctx, "create refused: UiPath has the email under another login; not adopted", "upstream_id", u.ID,
				"user_name", logpii.Value(prof.UserName), "email", logpii.Value(prof.Email))
			return upstream.User{}, uniqueness("UiPath already has an account with email %q under another userName; the bridge adopts an existing account only when its userName is the SCIM userName, or is that email", prof.Email)
		}
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, upstream.ErrNotFound) {
			return u, fmt.Errorf("find existing user by email: %w", err)
		}
	}
	return u, uniqueness("UiPath reports userName %q or email %q as taken, but no matching account was found", prof.UserName, prof.Email)
}

// replaceUser replaces a user's attributes (PUT, RFC 7644 §3.5.1).
func (p *Provisioner) replaceUser(ctx context.Context, id string, attrs map[string]any, ifMatch string) (cache.Record, error) {
	start := p.cfg.Now()
	unlock, err := p.lock(ctx, "user:"+id)
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	cur, err := p.loadUser(ctx, id, ifMatch)
	if err != nil {
		return cur.rec, err
	}
	cur.start = start
	return p.commitUser(ctx, cur, scimdoc.Clean(attrs))
}

// patchUser applies PATCH operations (RFC 7644 §3.5.2). An operation that
// changes nothing writes nothing.
func (p *Provisioner) patchUser(ctx context.Context, id string, ops []scimdoc.PatchOp, ifMatch string) (cache.Record, error) {
	start := p.cfg.Now()
	unlock, err := p.lock(ctx, "user:"+id)
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	cur, err := p.loadUser(ctx, id, ifMatch)
	if err != nil {
		return cur.rec, err
	}
	cur.start = start
	changed, err := scimdoc.ApplyPatch(cur.res, ops, scimdoc.KindUser)
	if err != nil || (!changed && !cur.doubt && !cur.readopted) {
		// Nothing changes in the store; but when UiPath is in doubt, the
		// IdP's repeat is the moment to restate what the store holds (and
		// a re-adopted account is brought under the policy).
		return cur.rec, err
	}
	return p.commitUser(ctx, cur, scimdoc.Clean(cur.res))
}

// loadedUser is a user as a write finds it under its lock: the store's
// record and attributes, the profile UiPath was last given, and whether
// UiPath is in doubt for it (see doubt.go).
type loadedUser struct {
	rec   cache.Record
	res   map[string]any
	prof  profile
	doubt bool
	// readopted: the store did not know the user; its record was just
	// rebuilt from UiPath (readopt.go).
	readopted bool
	// start is when the request began (before it waited for the lock).
	start time.Time
}

func (p *Provisioner) loadUser(ctx context.Context, id, ifMatch string) (loadedUser, error) {
	rec, readopted, err := p.loadOrReadopt(ctx, cache.KindUser, id, false)
	if err != nil {
		return loadedUser{rec: rec}, err
	}
	// The version an If-Match names was lost with the store: a re-adopted
	// record has none to compare with.
	if err := checkIfMatch(rec, ifMatch); err != nil && !readopted {
		return loadedUser{rec: rec}, err
	}
	res, err := decodeResource(rec)
	if err != nil {
		return loadedUser{rec: rec}, err
	}
	prof, err := profileOf(res)
	if err != nil {
		return loadedUser{rec: rec}, fmt.Errorf("stored user %s: %w", id, err)
	}
	doubt, err := p.inDoubt(ctx, cache.KindUser, id)
	return loadedUser{rec: rec, res: res, prof: prof, doubt: doubt, readopted: readopted}, err
}

// commitUser carries a user's new attributes to UiPath, then to the store.
func (p *Provisioner) commitUser(ctx context.Context, cur loadedUser, res map[string]any) (cache.Record, error) {
	rec, oldProf := cur.rec, cur.prof
	ctx, unc := upstream.TrackUncertain(ctx)
	defer p.noteDoubt(ctx, cache.KindUser, rec.ID, false, unc)
	scimdoc.KeepActivation(res, oldProf.Active)
	prof, err := profileOf(res)
	if err == nil {
		err = prof.checkInput()
	}
	if err != nil {
		return rec, err
	}
	res["userName"] = prof.UserName
	deactivation := oldProf.Active && !prof.Active
	noteAudit(ctx, func(n *auditNote) { n.deactivation = &deactivation })
	renamed := !strings.EqualFold(prof.UserName, oldProf.UserName)
	if renamed && p.cfg.UserNameChange == UserNameRefuse {
		return rec, mutability("userName cannot change from %q to %q: UiPath accounts cannot be renamed (SCIM_BRIDGE_USERNAME_CHANGE=refuse)", oldProf.UserName, prof.UserName)
	}
	ext := externalIDOf(res)
	if renamed {
		// The store records the new userName (the IdP's lookups find it),
		// UiPath keeps the account's login name: it cannot rename one.
		if err := p.checkUnique(ctx, cache.KindUser, rec.ID, prof.UserName); err != nil {
			return rec, err
		}
	}
	if renamed {
		noteAudit(ctx, func(n *auditNote) {
			n.detail = fmt.Sprintf("userName changed from %q to %q; the UiPath account keeps its login name", oldProf.UserName, prof.UserName)
		})
	}
	if !prof.Active {
		// A leaver's calls may use the budget's deprovisioning reserve:
		// membership traffic never makes them wait.
		ctx = upstream.Deprovisioning(ctx)
	}
	deprovisioned, err := p.applyProfile(ctx, rec, oldProf, prof, cur.doubt, cur.readopted)
	if err != nil {
		return rec, err
	}
	if oldProf.Active && !prof.Active {
		p.observeDeprovision(cur.start)
	}
	body, err := json.Marshal(res)
	if err != nil {
		return rec, fmt.Errorf("encode user: %w", err)
	}
	now := p.cfg.Now().UTC()
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	stored, err := p.store.Update(rctx, cache.KindUser, rec.ID, func(r cache.Record) (cache.Record, error) {
		r.Name = prof.UserName
		r.ExternalID = ext
		r.Resource = body
		r.Modified = now
		r.Deprovisioned = deprovisioned
		r.Imported = false // the IdP has now confirmed it
		return r, nil
	})
	if err != nil {
		if errors.Is(err, cache.ErrConflict) {
			return rec, uniqueness("userName %q is already used by another user", prof.UserName)
		}
		return rec, fmt.Errorf("store user %s: %w", rec.ID, err)
	}
	return stored, nil
}

// applyProfile makes UiPath match prof, following the deprovisioning
// policy, and returns whether the account is now deleted by that policy.
// With doubt, UiPath may not hold oldProf: the whole profile is sent.
// readopted: the account was just re-adopted (an inactive one is deleted
// too under the delete policy).
func (p *Provisioner) applyProfile(ctx context.Context, rec cache.Record, oldProf, prof profile, doubt, readopted bool) (bool, error) {
	if rec.Deprovisioned {
		if !prof.Active {
			return true, nil
		}
		if _, err := p.recreateAccount(ctx, rec.ID, prof); err != nil {
			return true, err
		}
		p.log.InfoContext(ctx, "user reactivated: account recreated", "scim_id", rec.ID)
		return false, nil
	}
	if (oldProf.Active || doubt || readopted) && !prof.Active && p.cfg.Deprovision == DeprovisionDelete {
		if err := p.up.DeleteUser(ctx, rec.ID); err != nil && !errors.Is(err, upstream.ErrNotFound) {
			return false, fmt.Errorf("delete deactivated user %s: %w", rec.ID, err)
		}
		if !p.confirmGone(ctx, rec.ID) {
			p.addDoubt(ctx, cache.KindUser, rec.ID, false, 0)
		}
		p.forgetPending(ctx, rec.ID)
		p.log.InfoContext(ctx, "user deactivated: account deleted by policy", "scim_id", rec.ID)
		return true, nil
	}
	base := oldProf
	if doubt {
		// Restate every field, and isActive, whatever UiPath holds now.
		base = profile{Active: !prof.Active}
	}
	if upd, changed := prof.updateFrom(base); changed {
		settleCarried := func(error) {}
		if !prof.Active {
			// The user's pending group changes ride on the deactivation.
			settleCarried = p.carryPending(ctx, rec.ID, &upd)
		}
		err := p.up.UpdateUser(ctx, rec.ID, upd)
		if err != nil && !upstream.IsRetryable(err) && !errors.Is(err, upstream.ErrNotFound) && len(upd.GroupIDsToAdd)+len(upd.GroupIDsToRemove) > 0 {
			// A carried change UiPath refuses (a group deleted there) must
			// not hold the leaver up: it goes back to the queue, and the
			// deactivation goes alone.
			settleCarried(upstream.ErrBudgetExhausted)
			settleCarried = func(error) {}
			upd.GroupIDsToAdd, upd.GroupIDsToRemove = nil, nil
			err = p.up.UpdateUser(ctx, rec.ID, upd)
		}
		settleCarried(err)
		if err != nil && !prof.Active && errors.Is(err, upstream.ErrNotFound) {
			// Deleted directly in UiPath: a deactivation already holds.
			p.log.WarnContext(ctx, "deactivation: the account no longer exists in UiPath; nothing to disable", "scim_id", rec.ID)
			return false, nil
		}
		if err != nil && errors.Is(err, upstream.ErrNotFound) {
			// Deleted directly in UiPath while the IdP still has the user:
			// the IdP is the source of truth, so the account comes back
			// under the same id, with the new profile and its groups.
			n, err := p.recreateAccount(ctx, rec.ID, prof)
			if err != nil {
				return false, err
			}
			p.log.WarnContext(ctx, "account missing in UiPath: recreated under the same id with its groups", "scim_id", rec.ID, "groups", n)
			return false, nil
		}
		if err != nil {
			return false, refusal(fmt.Errorf("update user %s: %w", rec.ID, err))
		}
		// A deactivation counts once UiPath shows it: an earlier write
		// landing late could have undone it.
		if !prof.Active && !p.confirmInactive(ctx, rec.ID) {
			p.addDoubt(ctx, cache.KindUser, rec.ID, false, 0)
		}
	}
	return false, nil
}

// recreateAccount makes, under id, the UiPath account of a user the store
// has, with prof and in the store's groups of the user, and returns how
// many groups it joined. A create whose outcome is unknown counts when
// UiPath shows the account.
func (p *Provisioner) recreateAccount(ctx context.Context, id string, prof profile) (int, error) {
	groups, err := p.store.GroupsOf(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("groups of %s: %w", id, err)
	}
	return p.recreateAccountIn(ctx, id, prof, p.upstreamGroupIDs(ctx, groups))
}

// recreateAccountIn recreates a lost account under its id as a member of
// upGroups, every one of which UiPath must have (it refuses the whole
// create otherwise), and returns how many groups it joined.
func (p *Provisioner) recreateAccountIn(ctx context.Context, id string, prof profile, upGroups []string) (int, error) {
	if _, err := p.up.CreateUser(ctx, prof.newUser(id), upGroups); err != nil {
		var uerr *upstream.Error
		duplicate := errors.As(err, &uerr) && (uerr.HasCode(upstream.CodeDuplicateUserName) || uerr.HasCode(upstream.CodeDuplicateEmail))
		if !upstream.IsRetryable(err) && !duplicate {
			return 0, refusal(fmt.Errorf("recreate user %s: %w", id, err))
		}
		// An unknown outcome, or a duplicate that may be this very
		// account (an earlier try of this create landing late): it
		// counts when UiPath has the account under our id.
		if _, gerr := p.up.GetUser(ctx, id); gerr != nil {
			if duplicate {
				return 0, refusal(fmt.Errorf("recreate user %s: %w", id, err))
			}
			return 0, fmt.Errorf("recreate user %s: %w", id, err)
		}
	}
	return len(upGroups), nil
}

// dropFromGroups removes a user from every group the store lists it in.
func (p *Provisioner) dropFromGroups(ctx context.Context, id string) error {
	groups, err := p.store.GroupsOf(ctx, id)
	if err != nil {
		return fmt.Errorf("groups of %s: %w", id, err)
	}
	for _, g := range groups {
		// Take the group's lock like any other change to it, so that many
		// leavers of one big group queue instead of racing its record.
		unlockGroup, err := p.lock(ctx, "group:"+g)
		if err != nil {
			return err
		}
		rctx, cancel := recordCtx(ctx)
		_, err = p.store.UpdateMembers(rctx, g, nil, []string{id}, nil)
		cancel()
		unlockGroup()
		if err != nil && !errors.Is(err, cache.ErrNotFound) {
			return fmt.Errorf("drop %s from group %s: %w", id, g, err)
		}
	}
	return nil
}

// upstreamGroupIDs keeps the group ids that still exist in the store.
func (p *Provisioner) upstreamGroupIDs(ctx context.Context, ids []string) []string {
	var out []string
	for _, g := range ids {
		if _, err := p.store.Get(ctx, cache.KindGroup, g); err == nil {
			out = append(out, g)
		}
	}
	return out
}

// deleteUser deletes the UiPath account and forgets the user (RFC 7644
// §3.6), and returns the record it forgot. Its group memberships go with
// it.
func (p *Provisioner) deleteUser(ctx context.Context, id, ifMatch string) (cache.Record, error) {
	start := p.cfg.Now()
	unlock, err := p.lock(ctx, "user:"+id)
	if err != nil {
		return cache.Record{}, err
	}
	defer unlock()
	// An id only UiPath knows (a store loss) is re-adopted, so that the
	// delete takes effect there.
	rec, readopted, err := p.loadOrReadopt(upstream.Deprovisioning(ctx), cache.KindUser, id, false)
	if err != nil {
		return rec, err
	}
	if err := checkIfMatch(rec, ifMatch); err != nil && !readopted {
		return rec, err
	}
	ctx, unc := upstream.TrackUncertain(upstream.Deprovisioning(ctx))
	defer p.noteDoubt(ctx, cache.KindUser, id, true, unc)
	if !rec.Deprovisioned {
		if err := p.up.DeleteUser(ctx, id); err != nil && !errors.Is(err, upstream.ErrNotFound) {
			return rec, fmt.Errorf("delete user %s: %w", id, err)
		}
		if !p.confirmGone(ctx, id) {
			p.addDoubt(ctx, cache.KindUser, id, true, 0)
		}
		p.observeDeprovision(start)
	}
	if err := p.dropFromGroups(ctx, id); err != nil {
		return rec, err
	}
	if err := p.store.Delete(ctx, cache.KindUser, id); err != nil && !errors.Is(err, cache.ErrNotFound) {
		return rec, fmt.Errorf("forget user %s: %w", id, err)
	}
	// A group change on another replica may have added the user between
	// the first pass and the delete; once the record is gone, any later
	// add sees it gone (commitGroup checks again after writing), so a
	// second pass leaves no group listing a user the store lacks.
	if err := p.dropFromGroups(ctx, id); err != nil {
		return rec, err
	}
	p.log.InfoContext(ctx, "user deleted", "scim_id", id)
	return rec, nil
}

// observeDeprovision reports a deactivation or deletion UiPath confirmed
// (or that the background check now owns) to Config.OnDeprovision.
func (p *Provisioner) observeDeprovision(start time.Time) {
	if p.cfg.OnDeprovision != nil && !start.IsZero() {
		p.cfg.OnDeprovision(p.cfg.Now().Sub(start))
	}
}
