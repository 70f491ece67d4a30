package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

// Create stores rec with Version 1. It returns cache.ErrAlreadyExists, and
// writes nothing, if the id or name is taken within rec.Kind.
// With MinReplicas, a record the replicas do not confirm is taken back off
// the master before Create reports cache.ErrUnavailable: otherwise a
// caller's retry would find it there, take it as made, and lose it in the
// failover that follows.
func (s *Store) Create(ctx context.Context, rec cache.Record) (cache.Record, error) {
	if rec.ID == "" {
		return cache.Record{}, fmt.Errorf("create %s: empty id", rec.Kind)
	}
	rec.Version = 1
	data, err := encode(rec)
	if err != nil {
		return cache.Record{}, fmt.Errorf("create %s %s: %w", rec.Kind, rec.ID, err)
	}
	claims := nonEmpty(s.keys.name(rec.Kind, rec.Name))
	var members []string
	if rec.Kind == cache.KindGroup {
		members = rec.Members
	}
	keys := make([]string, 0, 4+len(claims)+len(members))
	keys = append(keys, s.keys.record(rec.Kind, rec.ID), s.keys.seq(), s.keys.order(rec.Kind), s.keys.members(rec.Kind, rec.ID))
	keys = append(keys, claims...)
	keys = append(keys, s.userGroupKeys(members)...)
	keys = append(keys, s.keys.extIDs(rec.Kind, rec.ExternalID))
	args := make([]any, 0, 5+len(members))
	args = append(args, rec.ID, data, len(claims), len(members))
	for _, m := range members {
		args = append(args, m)
	}
	args = append(args, flag(rec.ExternalID != ""))
	cmd := s.write(ctx, createScript, keys, args...)
	res, err := cmd.Int()
	if err == nil {
		err = resultErr(res, cache.ErrAlreadyExists)
	}
	if made, _ := cmd.Val().(int64); errors.Is(err, errNotReplicated) && made == 0 {
		// The script created the record (0), unconfirmed. Best effort: if
		// the master is going away, so is the record.
		if derr := s.Delete(context.WithoutCancel(ctx), rec.Kind, rec.ID); derr != nil && !errors.Is(derr, errNotReplicated) && !errors.Is(derr, cache.ErrNotFound) {
			s.logger.Warn("unreplicated create not taken back", "kind", rec.Kind, "id", rec.ID, "error", derr)
		}
	}
	if err != nil {
		return cache.Record{}, fmt.Errorf("create %s %s: %w", rec.Kind, rec.ID, err)
	}
	return rec, nil
}

// Update applies fn to the current record and stores the result if the
// record's version is unchanged on the server, else runs fn again on the new
// value. A group's member delta is confirmed in UiPath: it settles the
// pairs' pending changes by cache.QueueRule. It returns cache.ErrNotFound,
// cache.ErrConflict, or fn's error as is.
func (s *Store) Update(ctx context.Context, kind cache.Kind, id string, fn func(cache.Record) (cache.Record, error)) (cache.Record, error) {
	return s.update(ctx, "update", kind, id, true, queueMode{}, func(old cache.Record) (cache.Record, []string, []string, error) {
		rec, err := fn(old)
		if err != nil || kind != cache.KindGroup {
			return rec, nil, nil, err
		}
		added, removed := diff(old.Members, rec.Members)
		return rec, added, removed, nil
	})
}

// UpdateMembers removes the ids in remove from the group's member set, adds
// those in add and applies fn to the group's other fields, in one script
// that compare-and-swaps the record's version; fn runs again if the record
// changed meanwhile. Neither the member set nor the user → group entries
// outside the delta are read or written. The delta is confirmed in UiPath:
// it settles the pairs' pending changes by cache.QueueRule.
func (s *Store) UpdateMembers(ctx context.Context, groupID string, add, remove []string, fn func(cache.Record) (cache.Record, error)) (cache.Record, error) {
	return s.update(ctx, "update members of", cache.KindGroup, groupID, false, queueMode{}, cache.MembersDelta(add, remove, fn))
}

// update is the compare-and-swap loop of Update, UpdateMembers and
// QueueMembers: change returns the new record and the member ids that
// leave and join (removals first). withMembers says whether the record
// read for change carries its members; mode how a group's delta meets the
// queue, in the same script run.
func (s *Store) update(ctx context.Context, op string, kind cache.Kind, id string, withMembers bool, mode queueMode,
	change func(cache.Record) (rec cache.Record, add, remove []string, err error)) (cache.Record, error) {
	for attempt := 1; ; attempt++ {
		old, err := s.get(ctx, kind, id, withMembers)
		if err != nil {
			return cache.Record{}, fmt.Errorf("%s %s %s: %w", op, kind, id, err)
		}
		rec, add, remove, err := change(old)
		if err != nil {
			return cache.Record{}, err
		}
		rec.Kind, rec.ID, rec.Created, rec.Version = old.Kind, old.ID, old.Created, old.Version+1
		data, err := encode(rec)
		if err != nil {
			return cache.Record{}, fmt.Errorf("%s %s %s: %w", op, kind, id, err)
		}

		var claims, releases []string
		if oldName, newName := s.keys.name(kind, old.Name), s.keys.name(kind, rec.Name); oldName != newName {
			claims, releases = nonEmpty(newName), nonEmpty(oldName)
		}
		// A legacy externalId key naming this record goes: the record is
		// (re)filed in the shared index below.
		releases = append(releases, nonEmpty(s.keys.legacyExt(kind, old.ExternalID))...)
		queue := mode.arg(kind)
		now := mode.now
		if now.IsZero() {
			now = time.Now()
		}
		keys := make([]string, 0, 4+len(claims)+len(releases)+2*(len(add)+len(remove)))
		keys = append(keys, s.keys.record(kind, id), s.keys.members(kind, id))
		for _, group := range [][]string{claims, releases, s.userGroupKeys(remove), s.userGroupKeys(add)} {
			keys = append(keys, group...)
		}
		args := make([]any, 0, 10+2*(len(remove)+len(add)))
		args = append(args, id, old.Version, rec.Version, data, len(claims), len(releases), len(remove), len(add), queue, ms(now))
		for _, group := range [][]string{remove, add} {
			for _, m := range group {
				args = append(args, m)
			}
		}
		if queue != "" {
			keys = append(keys, s.keys.pending(), s.keys.queued(cache.KindGroup, id))
			for _, group := range [][]string{remove, add} {
				for _, m := range group {
					keys = append(keys, s.keys.queued(cache.KindUser, m))
				}
			}
			for _, group := range [][]string{remove, add} {
				for _, m := range group {
					args = append(args, cache.PendingKey(id, m))
				}
			}
		}
		oldExt := s.keys.extIDs(kind, old.ExternalID)
		if old.ExternalID == rec.ExternalID {
			oldExt = s.keys.extIDs(kind, "") // stays: leave nothing
		}
		keys = append(keys, s.keys.order(kind), oldExt, s.keys.extIDs(kind, rec.ExternalID))
		args = append(args, flag(rec.ExternalID != ""))
		res, err := s.write(ctx, updateScript, keys, args...).Int()
		if err == nil && res == resChanged {
			s.logger.Debug(op+" raced, retrying", "kind", kind, "scim_id", id, "attempt", attempt)
			continue
		}
		if err == nil {
			err = resultErr(res, cache.ErrConflict)
		}
		if err != nil {
			return cache.Record{}, fmt.Errorf("%s %s %s: %w", op, kind, id, err)
		}
		return rec, nil
	}
}

// Delete removes the record, its index entries, its place in the order,
// its pending changes and, for a group, its member set and membership
// entries, atomically. It returns cache.ErrNotFound if there is no record.
func (s *Store) Delete(ctx context.Context, kind cache.Kind, id string) error {
	for attempt := 1; ; attempt++ {
		old, err := s.get(ctx, kind, id, true)
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", kind, id, err)
		}
		releases := nonEmpty(s.keys.name(kind, old.Name), s.keys.legacyExt(kind, old.ExternalID))
		var remove []string
		if kind == cache.KindGroup {
			remove = s.userGroupKeys(old.Members)
		}
		queued, others, fields, err := s.deleteArgs(ctx, kind, id)
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", kind, id, err)
		}
		keys := append([]string{s.keys.record(kind, id), s.keys.order(kind), s.keys.members(kind, id)}, releases...)
		keys = append(keys, remove...)
		keys = append(keys, s.keys.pending(), s.keys.queued(kind, id))
		keys = append(keys, queued...)
		keys = append(keys, s.keys.extIDs(kind, old.ExternalID))
		args := append([]any{id, old.Version, len(releases), len(remove), len(others)}, others...)
		args = append(args, fields...)
		res, err := s.write(ctx, deleteScript, keys, args...).Int()
		if err == nil && res == resChanged {
			s.logger.Debug("delete raced, retrying", "kind", kind, "scim_id", id, "attempt", attempt)
			continue
		}
		if err == nil {
			err = resultErr(res, nil)
		}
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", kind, id, err)
		}
		return nil
	}
}

// resultErr maps a script result to an error; taken is the sentinel for an
// index value (or, in Create, the id) owned by another record.
func resultErr(res int, taken error) error {
	switch res {
	case resOK:
		return nil
	case resIDTaken, resIndex:
		if taken != nil {
			return taken
		}
	case resNoRecord:
		return cache.ErrNotFound
	}
	return errors.New("unexpected script result " + strconv.Itoa(res))
}

func (s *Store) userGroupKeys(userIDs []string) []string {
	out := make([]string, len(userIDs))
	for i, u := range userIDs {
		out[i] = s.keys.userGroups(u)
	}
	return out
}

// diff returns the members in to but not from, and in from but not to.
func diff(from, to []string) (added, removed []string) {
	in := func(list []string) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, v := range list {
			m[v] = true
		}
		return m
	}
	inFrom, inTo := in(from), in(to)
	for u := range inTo {
		if !inFrom[u] {
			added = append(added, u)
		}
	}
	for u := range inFrom {
		if !inTo[u] {
			removed = append(removed, u)
		}
	}
	return added, removed
}

// flag is a boolean script argument.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func nonEmpty(keys ...string) []string {
	out := keys[:0]
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}
