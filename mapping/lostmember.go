package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// A group change that adds a user whose UiPath account an admin deleted
// (the store, and so the IdP, still has the user active) cannot go through
// as it is: UiPath refuses a PUT /Group naming an unknown user. The IdP is
// the source of truth, so the account is recreated under its id with every
// group the store has for it, which includes the one being added (the
// desired state is written before UiPath is asked, in queued mode; in
// sync mode the pair is queued first). The recreation takes the user's
// lock, so it cannot race a deactivation of the same user: it is never
// done while a group's lock is held (another path takes a user's lock and
// then its groups'), but by the scheduler, between its calls.

// errAccountLost makes the scheduler retry an addition whose user's
// account is being recreated.
var errAccountLost = &upstream.Error{Op: "add member", Retryable: true,
	Err: errors.New("the account no longer exists in UiPath; it is being recreated")}

// noteLostAccount asks the scheduler to recreate a user's lost account
// before its next round.
func (p *Provisioner) noteLostAccount(id string) {
	p.lostMu.Lock()
	defer p.lostMu.Unlock()
	if p.lost == nil {
		p.lost = map[string]bool{}
	}
	p.lost[id] = true
}

// wantsAccount reports whether the store has the user active and not
// deprovisioned: a user whose account UiPath must have.
func (p *Provisioner) wantsAccount(ctx context.Context, id string) bool {
	_, want, _ := p.accountWanted(ctx, id)
	return want
}

// accountWanted reports whether the store has the user (known) and, if
// so, whether UiPath must have its account (active, not deprovisioned),
// with the profile it would have.
func (p *Provisioner) accountWanted(ctx context.Context, id string) (prof profile, want, known bool) {
	rec, err := p.store.Get(ctx, cache.KindUser, id)
	if err != nil {
		return prof, false, false
	}
	if rec.Deprovisioned {
		return prof, false, true
	}
	res, err := decodeResource(rec)
	if err != nil {
		return prof, false, true
	}
	prof, err = profileOf(res)
	return prof, err == nil && prof.Active, true
}

// recreateLostAccounts recreates the accounts noteLostAccount named, each
// under its user's lock, if the store still wants it and UiPath still
// lacks it. A failure leaves the user for the next addition to name again.
func (p *Provisioner) recreateLostAccounts(ctx context.Context) {
	p.lostMu.Lock()
	ids := make([]string, 0, len(p.lost))
	for id := range p.lost {
		ids = append(ids, id)
	}
	p.lost = nil
	p.lostMu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		err := p.recreateLostAccount(ctx, id)
		switch {
		case err == nil:
		case upstream.IsRetryable(err) || errors.Is(err, context.Canceled):
			p.log.WarnContext(ctx, "lost account not recreated yet; the next change naming it tries again", "scim_id", id, "error", err)
		default:
			// UiPath refuses it (another account took the userName,
			// say): the additions naming it are refused for good, with
			// this reason, and left for reconciliation and an operator.
			p.log.ErrorContext(ctx, "lost account cannot be recreated", "scim_id", id, "error", err)
			p.lostMu.Lock()
			if p.unrecoverable == nil {
				p.unrecoverable = map[string]string{}
			}
			p.unrecoverable[id] = err.Error()
			p.lostMu.Unlock()
		}
	}
}

// lostForGood returns, and forgets, why a lost account could not be
// recreated; "" when it was not tried or may still be.
func (p *Provisioner) lostForGood(id string) string {
	p.lostMu.Lock()
	defer p.lostMu.Unlock()
	reason := p.unrecoverable[id]
	delete(p.unrecoverable, id)
	return reason
}

func (p *Provisioner) recreateLostAccount(ctx context.Context, id string) error {
	unlock, err := p.lock(ctx, "user:"+id)
	if err != nil {
		return err
	}
	defer unlock()
	prof, want, _ := p.accountWanted(ctx, id)
	if !want {
		return nil // deactivated or deleted meanwhile: no account is right
	}
	if _, err := p.up.GetUser(ctx, id); !errors.Is(err, upstream.ErrNotFound) {
		return err // back already (nil), or cannot tell
	}
	ctx, unc := upstream.TrackUncertain(ctx)
	defer p.noteDoubt(ctx, cache.KindUser, id, false, unc)
	n, err := p.recreateAccount(ctx, id, prof)
	if err != nil {
		return err
	}
	p.log.WarnContext(ctx, "account deleted in UiPath while the IdP has the user active: recreated under the same id with its groups", "scim_id", id, "groups", n)
	return nil
}

// queueLostMembers handles, in sync mode, the additions a plan could not
// send because the users' accounts are gone from UiPath: the additions
// become desired and pending (the scheduler sends them once the accounts
// are back), and the accounts of users the store has active are recreated
// first. A user the IdP has inactive gets no account: the membership is
// kept in the store only, like that of a user the delete policy removed.
func (p *Provisioner) queueLostMembers(ctx context.Context, rec cache.Record, lost []string) (cache.Record, error) {
	var queued, storeOnly []string
	for _, id := range lost {
		if p.wantsAccount(ctx, id) {
			queued = append(queued, id)
			p.noteLostAccount(id)
		} else {
			storeOnly = append(storeOnly, id)
		}
	}
	members := applyDelta(rec.Members, setOf(lost), nil)
	defer func() { rec.Members = members }()
	var err error
	if len(queued) > 0 {
		if rec, err = p.store.QueueMembers(ctx, rec.ID, queued, nil, p.cfg.Now().UTC(), nil); err != nil {
			return rec, fmt.Errorf("queue members of %s: %w", rec.ID, err)
		}
		p.wakeScheduler()
		p.log.WarnContext(ctx, "group change names users whose account was deleted in UiPath: queued until their accounts are recreated", "scim_id", rec.ID, "users", len(queued))
	}
	if len(storeOnly) > 0 {
		if rec, err = p.store.UpdateMembers(ctx, rec.ID, storeOnly, nil, nil); err != nil {
			return rec, fmt.Errorf("store members of %s: %w", rec.ID, err)
		}
	}
	return rec, nil
}
