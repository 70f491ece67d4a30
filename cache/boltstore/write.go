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
// writes nothing, if the id, name or externalId is taken within rec.Kind.
func (s *Store) Create(ctx context.Context, rec cache.Record) (cache.Record, error) {
	if rec.ID == "" {
		return cache.Record{}, fmt.Errorf("create %s: empty id", rec.Kind)
	}
	if err := ctx.Err(); err != nil {
		return cache.Record{}, err
	}
	rec.Version = 1
	err := s.db.Update(func(tx *bolt.Tx) error {
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
		if err := put(tx, b, seq, nil, rec); err != nil {
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
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return cache.Record{}, err
		}
		old, err := s.get(kind, id)
		if err != nil {
			return cache.Record{}, fmt.Errorf("update %s %s: %w", kind, id, err)
		}
		rec, err := fn(old)
		if err != nil {
			return cache.Record{}, err
		}
		rec.Kind, rec.ID, rec.Created, rec.Version = old.Kind, old.ID, old.Created, old.Version+1
		err = s.db.Update(func(tx *bolt.Tx) error {
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
			return put(tx, b, seq, &cur, rec)
		})
		if errors.Is(err, errRetry) {
			s.logger.Debug("update raced, retrying", "kind", kind, "scim_id", id, "attempt", attempt)
			continue
		}
		if err != nil {
			return cache.Record{}, fmt.Errorf("update %s %s: %w", kind, id, err)
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
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := readBuckets(tx, kind)
		seq, old, err := getRecord(b, id)
		if err != nil {
			return err
		}
		if err := releaseIndex(b.names, nameKey(old.Name), id); err != nil {
			return err
		}
		if err := releaseIndex(b.exts, []byte(old.ExternalID), id); err != nil {
			return err
		}
		if kind == cache.KindGroup {
			if err := updateMembers(tx, id, old.Members, nil); err != nil {
				return err
			}
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

// checkIndexes returns taken if rec's name or externalId, where it differs
// from old's (nil for a new record), belongs to another record. An empty
// value is never indexed.
func checkIndexes(b buckets, old *cache.Record, rec cache.Record, taken error) error {
	for _, c := range indexChanges(b, old, rec) {
		if len(c.newKey) == 0 || string(c.newKey) == string(c.oldKey) {
			continue
		}
		if owner := c.bucket.Get(c.newKey); owner != nil && string(owner) != rec.ID {
			return taken
		}
	}
	return nil
}

// put writes rec (created with sequence seq), moves its index entries from
// old's values (nil for a new record) and, for a group, its membership
// entries. checkIndexes has run.
func put(tx *bolt.Tx, b buckets, seq uint64, old *cache.Record, rec cache.Record) error {
	for _, c := range indexChanges(b, old, rec) {
		if string(c.newKey) == string(c.oldKey) {
			continue
		}
		if err := releaseIndex(c.bucket, c.oldKey, rec.ID); err != nil {
			return err
		}
		if len(c.newKey) > 0 {
			if err := c.bucket.Put(c.newKey, []byte(rec.ID)); err != nil {
				return err
			}
		}
	}
	if rec.Kind == cache.KindGroup {
		var oldMembers []string
		if old != nil {
			oldMembers = old.Members
		}
		if err := updateMembers(tx, rec.ID, oldMembers, rec.Members); err != nil {
			return err
		}
	}
	v, err := encodeRecord(seq, rec)
	if err != nil {
		return err
	}
	return b.records.Put([]byte(rec.ID), v)
}

type indexChange struct {
	bucket         *bolt.Bucket
	oldKey, newKey []byte
}

func indexChanges(b buckets, old *cache.Record, rec cache.Record) []indexChange {
	changes := []indexChange{
		{bucket: b.names, newKey: nameKey(rec.Name)},
		{bucket: b.exts, newKey: []byte(rec.ExternalID)},
	}
	if old != nil {
		changes[0].oldKey = nameKey(old.Name)
		changes[1].oldKey = []byte(old.ExternalID)
	}
	return changes
}

// releaseIndex deletes key from an index if it points at id.
func releaseIndex(idx *bolt.Bucket, key []byte, id string) error {
	if idx == nil || len(key) == 0 || string(idx.Get(key)) != id {
		return nil
	}
	return idx.Delete(key)
}

// updateMembers moves the membership entries of group groupID from the
// member list from to the member list to.
func updateMembers(tx *bolt.Tx, groupID string, from, to []string) error {
	m := tx.Bucket([]byte(bucketMembers))
	keep := make(map[string]bool, len(to))
	for _, u := range to {
		keep[u] = true
	}
	for _, u := range from {
		if !keep[u] {
			if err := m.Delete(memberKey(u, groupID)); err != nil {
				return err
			}
		}
	}
	for _, u := range to {
		if err := m.Put(memberKey(u, groupID), nil); err != nil {
			return err
		}
	}
	return nil
}
