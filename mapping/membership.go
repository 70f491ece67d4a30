package mapping

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// groupPlan is the upstream calls that carry one group's change: at most
// one PUT /Group (rename and/or member deltas) and any number of
// PUT /User calls, one per affected user.
type groupPlan struct {
	groupID string
	name    string
	// groupCall is set when a PUT /Group is needed.
	groupCall *groupCall
	userCalls []userCall
}

type groupCall struct {
	rename      bool
	add, remove []string // user ids
}

type userCall struct {
	userID string
	add    bool // true: groupIDsToAdd; false: groupIDsToRemove
}

// planGroupChange decides which calls carry a group's rename and member
// deltas. The member changes are planned by PlanMembership under the
// strategy; a rename needs PUT /Group anyway, so under group and auto it
// carries every member change at no extra cost.
func planGroupChange(strategy, groupID, name string, renamed bool, adds, removes []string) groupPlan {
	plan := groupPlan{groupID: groupID, name: name}
	if renamed && strategy != StrategyUser {
		plan.groupCall = &groupCall{rename: true, add: adds, remove: removes}
		return plan
	}
	changes := make([]Change, 0, len(adds)+len(removes))
	for _, u := range adds {
		changes = append(changes, Change{User: u, Group: groupID, Add: true})
	}
	for _, u := range removes {
		changes = append(changes, Change{User: u, Group: groupID})
	}
	for _, c := range PlanMembership(strategy, changes) {
		if c.Group != "" {
			plan.groupCall = &groupCall{add: c.Add, remove: c.Remove}
			continue
		}
		for range c.Add {
			plan.userCalls = append(plan.userCalls, userCall{userID: c.User, add: true})
		}
		for range c.Remove {
			plan.userCalls = append(plan.userCalls, userCall{userID: c.User})
		}
	}
	if renamed {
		if plan.groupCall == nil {
			plan.groupCall = &groupCall{}
		}
		plan.groupCall.rename = true
	}
	return plan
}

// planOutcome is what UiPath confirmed of a plan.
type planOutcome struct {
	added, removed []string // user ids whose membership change was confirmed
	renameErr      error    // the rename failed: nothing else was attempted
	groupErr       error    // the group call failed (rename or not)
	failed, total  int      // membership changes that failed / were attempted
	failedIDs      []string // users whose change failed
	retryable      bool     // every failure may succeed on retry
	firstErr       error
	// lost are users to add whose UiPath account no longer exists (an
	// admin deleted it): neither added nor failed; see lostmember.go.
	lost []string
}

// runPlan executes a plan: the group call first, then the user calls
// concurrently (bounded by Config.Concurrency).
func (p *Provisioner) runPlan(ctx context.Context, plan groupPlan) planOutcome {
	var out planOutcome
	out.retryable = true
	fail := func(ids []string, err error) {
		n := len(ids)
		out.failedIDs = append(out.failedIDs, ids...)
		out.failed += n
		if out.firstErr == nil {
			out.firstErr = err
		}
		if !upstream.IsRetryable(err) {
			out.retryable = false
		}
	}
	if gc := plan.groupCall; gc != nil {
		out.total += len(gc.add) + len(gc.remove)
		add, remove := gc.add, gc.remove
		_, err := p.up.UpdateGroup(ctx, plan.groupID, plan.name, add, remove)
		if err != nil && !upstream.IsRetryable(err) && len(add)+len(remove) > 0 {
			// UiPath refuses a whole PUT /Group that names a user it no
			// longer has. Such a removal already holds; such an addition
			// waits for the account to be recreated. Take those users out
			// and send the rest again.
			if gone := p.vanished(ctx, append(slices.Clone(add), remove...)); len(gone) > 0 {
				isGone := func(id string) bool { return slices.Contains(gone, id) }
				for _, id := range gone {
					if slices.Contains(remove, id) {
						out.removed = append(out.removed, id)
					} else {
						out.lost = append(out.lost, id)
					}
				}
				add = slices.DeleteFunc(slices.Clone(add), isGone)
				remove = slices.DeleteFunc(slices.Clone(remove), isGone)
				err = nil
				if len(add) > 0 || len(remove) > 0 || gc.rename {
					_, err = p.up.UpdateGroup(ctx, plan.groupID, plan.name, add, remove)
				}
			}
		}
		out.groupErr = err
		switch {
		case err != nil && gc.rename:
			out.renameErr = err
			return out
		case err != nil:
			fail(append(slices.Clone(add), remove...), err)
		default:
			out.added = append(out.added, add...)
			out.removed = append(out.removed, remove...)
		}
	}
	if len(plan.userCalls) == 0 {
		return out
	}
	out.total += len(plan.userCalls)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, p.cfg.Concurrency)
	for _, uc := range plan.userCalls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			upd := upstream.UserUpdate{}
			if uc.add {
				upd.GroupIDsToAdd = []string{plan.groupID}
			} else {
				upd.GroupIDsToRemove = []string{plan.groupID}
			}
			err := p.up.UpdateUser(ctx, uc.userID, upd)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && !uc.add && errors.Is(err, upstream.ErrNotFound):
				// The account is gone from UiPath: it is in no group, so
				// the removal holds.
				p.log.InfoContext(ctx, "membership removal: the account no longer exists in UiPath", "scim_id", uc.userID, "group", plan.groupID)
				out.removed = append(out.removed, uc.userID)
			case err != nil && uc.add && errors.Is(err, upstream.ErrNotFound):
				out.lost = append(out.lost, uc.userID)
			case err != nil:
				fail([]string{uc.userID}, err)
				p.log.WarnContext(ctx, "membership change failed", "scim_id", uc.userID, "group", plan.groupID, "error", err)
			case uc.add:
				out.added = append(out.added, uc.userID)
			default:
				out.removed = append(out.removed, uc.userID)
			}
		}()
	}
	wg.Wait()
	return out
}

// maxVanishedProbes bounds the GETs spent finding which users of a refused
// PUT /Group no longer exist in UiPath (GETs are UiPath's scarcest budget,
// 300 per 5 minutes); a larger refusal is reported as it is.
const maxVanishedProbes = 20

// vanished returns the ids among ids whose UiPath account no longer
// exists, or nil when there are too many to ask about.
func (p *Provisioner) vanished(ctx context.Context, ids []string) []string {
	if len(ids) > maxVanishedProbes {
		return nil
	}
	var gone []string
	for _, id := range ids {
		if _, err := p.up.GetUser(ctx, id); errors.Is(err, upstream.ErrNotFound) {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		p.log.InfoContext(ctx, "membership removal: accounts no longer exist in UiPath", "accounts", len(gone))
	}
	return gone
}
