package boltstore

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/scim-bridge/scim-bridge/cache"
)

// errRetry tells Update that the record changed since it was read.
var errRetry = errors.New("record changed")

// Create stores rec with Version 1. It returns cache.ErrAlreadyExists, and
// writes nothing, if the id or name is taken within rec.Kind.
func (s *Store) Create(ctx context.Context, rec cache.Record) (cache.Record, error) {
	if rec.ID == "" {
		return cache.Record{}, fmt.Errorf("create %s: empty id", rec.Kind)
	}
	if err := ctx.Err(); err != nil {
		return cache.Record{}, err
	}
	rec.Version = 1
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b, err := writeBuckets(tx, rec.Kind)
		if err != nil {
			return err
		}
		if b.records.Get([]byte(rec.ID)) != nil {
			return cache.ErrAlreadyExists
		}
		if err := checkIndexes(b, nil, rec, cache.ErrAlreadyExists); err != nil {
			return err
		}
		seq, err := b.order.NextSequence()
		if err != nil {
			return err
		}
		if err := b.order.Put(orderKey(seq, rec.ID), nil); err != nil {
			return err
		}
		var add []string
		if rec.Kind == cache.KindGroup {
			add = rec.Members
		}
		if err := put(tx, b, seq, nil, rec, add, nil); err != nil {
			return err
		}
		return addCount(tx, rec.Kind, 1)
	})
	if err != nil {
		return cache.Record{}, fmt.Errorf("create %s %s: %w", rec.Kind, rec.ID, err)
	}
	return rec, nil
}

// Update applies fn to the current record and stores the result if the
// record did not change meanwhile, else runs fn again on the new value. fn
// runs outside any write transaction. It returns cache.ErrNotFound,
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

// UpdateMembers removes the ids in remove from the group's members, adds
// those in add and applies fn to the group's other fields, in one
// transaction that touches only the delta's entries and the record; fn
// runs again if the record changed meanwhile.
func (s *Store) UpdateMembers(ctx context.Context, groupID string, add, remove []string, fn func(cache.Record) (cache.Record, error)) (cache.Record, error) {
	return s.update(ctx, "update members of", cache.KindGroup, groupID, false, queueMode{}, cache.MembersDelta(add, remove, fn))
}

// update is the compare-and-swap loop of Update and UpdateMembers: change,
// run outside any write transaction, returns the new record and the member
// ids that join and leave (removals first). withMembers says whether the
// record read for change carries its members.
func (s *Store) update(ctx context.Context, op string, kind cache.Kind, id string, withMembers bool, mode queueMode,
	change func(cache.Record) (rec cache.Record, add, remove []string, err error)) (cache.Record, error) {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return cache.Record{}, err
		}
		old, err := s.get(kind, id, withMembers)
		if err != nil {
			return cache.Record{}, fmt.Errorf("%s %s %s: %w", op, kind, id, err)
		}
		rec, add, remove, err := change(old)
		if err != nil {
			return cache.Record{}, err
		}
		rec.Kind, rec.ID, rec.Created, rec.Version = old.Kind, old.ID, old.Created, old.Version+1
		err = s.db.Batch(func(tx *bolt.Tx) error {
			b, err := writeBuckets(tx, kind)
			if err != nil {
				return err
			}
			seq, cur, err := getRecord(b, id)
			if err != nil {
				return err
			}
			if cur.Version != old.Version {
				return errRetry
			}
			if err := checkIndexes(b, &cur, rec, cache.ErrConflict); err != nil {
				return err
			}
			if kind == cache.KindGroup {
				if err := keepQueue(tx, id, add, remove, mode); err != nil {
					return err
				}
			}
			return put(tx, b, seq, &cur, rec, add, remove)
		})
		if errors.Is(err, errRetry) {
			s.logger.Debug(op+" raced, retrying", "kind", kind, "scim_id", id, "attempt", attempt)
			continue
		}
		if err != nil {
			return cache.Record{}, fmt.Errorf("%s %s %s: %w", op, kind, id, err)
		}
		return rec, nil
	}
}

// Delete removes the record, its index entries, its place in the order
// and, for a group, its membership entries, in one transaction. It returns
// cache.ErrNotFound if there is no record.
func (s *Store) Delete(ctx context.Context, kind cache.Kind, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := readBuckets(tx, kind)
		seq, old, err := getFull(b, id)
		if err != nil {
			return err
		}
		if err := releaseIndex(b.names, nameKey(old.Name), id); err != nil {
			return err
		}
		if err := moveExtID(b, id, old.ExternalID, ""); err != nil {
			return err
		}
		if kind == cache.KindGroup {
			if err := changeMembers(tx, b, id, nil, old.Members); err != nil {
				return err
			}
		}
		if err := dropPending(tx, kind, id); err != nil {
			return err
		}
		if err := b.order.Delete(orderKey(seq, id)); err != nil {
			return err
		}
		if err := b.records.Delete([]byte(id)); err != nil {
			return err
		}
		return addCount(tx, kind, -1)
	})
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, err)
	}
	return nil
}

// checkIndexes returns taken if rec's name, where it differs from old's
// (nil for a new record), belongs to another record. An empty name is never
// indexed; externalId is not unique.
func checkIndexes(b buckets, old *cache.Record, rec cache.Record, taken error) error {
	key, oldKey := nameKey(rec.Name), []byte(nil)
	if old != nil {
		oldKey = nameKey(old.Name)
	}
	if len(key) == 0 || string(key) == string(oldKey) {
		return nil
	}
	if owner := b.names.Get(key); owner != nil && string(owner) != rec.ID {
		return taken
	}
	return nil
}

// put writes rec (created with sequence seq), moves its index entries from
// old's values (nil for a new record) and, for a group, removes the member
// ids in remove and then adds those in add. checkIndexes has run.
func put(tx *bolt.Tx, b buckets, seq uint64, old *cache.Record, rec cache.Record, add, remove []string) error {
	var oldName, oldExt []byte
	if old != nil {
		oldName, oldExt = nameKey(old.Name), []byte(old.ExternalID)
	}
	if newName := nameKey(rec.Name); string(newName) != string(oldName) {
		if err := releaseIndex(b.names, oldName, rec.ID); err != nil {
			return err
		}
		if len(newName) > 0 {
			if err := b.names.Put(newName, []byte(rec.ID)); err != nil {
				return err
			}
		}
	}
	if err := moveExtID(b, rec.ID, string(oldExt), rec.ExternalID); err != nil {
		return err
	}
	if rec.Kind == cache.KindGroup {
		if err := changeMembers(tx, b, rec.ID, add, remove); err != nil {
			return err
		}
	}
	v, err := encodeRecord(seq, rec)
	if err != nil {
		return err
	}
	return b.records.Put([]byte(rec.ID), v)
}

// releaseIndex deletes key from an index if it points at id.
func releaseIndex(idx *bolt.Bucket, key []byte, id string) error {
	if idx == nil || len(key) == 0 || string(idx.Get(key)) != id {
		return nil
	}
	return idx.Delete(key)
}

// changeMembers removes the users in remove from group groupID, then adds
// those in add, in both the group's memberships and the user → group index.
func changeMembers(tx *bolt.Tx, b buckets, groupID string, add, remove []string) error {
	m := tx.Bucket([]byte(bucketMembers))
	for _, u := range remove {
		if err := m.Delete(memberKey(u, groupID)); err != nil {
			return err
		}
		if err := b.memberships.Delete(membershipKey(groupID, u)); err != nil {
			return err
		}
	}
	for _, u := range add {
		if err := m.Put(memberKey(u, groupID), nil); err != nil {
			return err
		}
		if err := b.memberships.Put(membershipKey(groupID, u), nil); err != nil {
			return err
		}
	}
	return nil
}

// diff returns the members in to but not from, and in from but not to.
func diff(from, to []string) (added, removed []string) {
	inFrom, inTo := setOf(from), setOf(to)
	for _, u := range to {
		if !inFrom[u] {
			added = append(added, u)
		}
	}
	for _, u := range from {
		if !inTo[u] {
			removed = append(removed, u)
		}
	}
	return added, removed
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
