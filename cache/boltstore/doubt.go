package boltstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scim-bridge/scim-bridge/cache"
)

// bucketDoubts holds the doubts: "kind:id" → cache.EncodeDoubt. There are
// few at any time (writes whose outcome was unknown, until checked), so
// DueDoubts scans them all.
const bucketDoubts = "doubts"

// AddDoubt records d, merged with the resource's doubt if it has one.
func (s *Store) AddDoubt(ctx context.Context, d cache.Doubt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d = d.Truncate()
	key := []byte(cache.DoubtKey(d.Kind, d.ID))
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketDoubts))
		if err != nil {
			return err
		}
		if v := b.Get(key); v != nil {
			old, err := cache.DecodeDoubt(string(key), string(v))
			if err != nil {
				return err
			}
			d = cache.MergeDoubt(old, d)
		}
		return b.Put(key, []byte(cache.EncodeDoubt(d)))
	})
	if err != nil {
		return fmt.Errorf("add doubt %s %s: %w", d.Kind, d.ID, err)
	}
	return nil
}

// GetDoubt returns the resource's doubt, if any.
func (s *Store) GetDoubt(ctx context.Context, kind cache.Kind, id string) (cache.Doubt, bool, error) {
	if err := ctx.Err(); err != nil {
		return cache.Doubt{}, false, err
	}
	key := cache.DoubtKey(kind, id)
	var d cache.Doubt
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketDoubts))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		var err error
		d, err = cache.DecodeDoubt(key, string(v))
		found = err == nil
		return err
	})
	if err != nil {
		return cache.Doubt{}, false, fmt.Errorf("get doubt %s %s: %w", kind, id, err)
	}
	return d, found, nil
}

// DueDoubts returns the doubts due at or before t, earliest first.
func (s *Store) DueDoubts(ctx context.Context, t time.Time, limit int) ([]cache.Doubt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cache.Doubt
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketDoubts))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			d, err := cache.DecodeDoubt(string(k), string(v))
			if err != nil {
				return err
			}
			if !d.Due.After(t) {
				out = append(out, d)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("due doubts: %w", err)
	}
	slices.SortFunc(out, func(a, b cache.Doubt) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(cache.DoubtKey(a.Kind, a.ID), cache.DoubtKey(b.Kind, b.ID)))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ResolveDoubt removes d, or makes it due at next, unless a later doubt
// replaced it meanwhile.
func (s *Store) ResolveDoubt(ctx context.Context, d cache.Doubt, next time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d = d.Truncate()
	key := []byte(cache.DoubtKey(d.Kind, d.ID))
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketDoubts))
		if b == nil {
			return nil
		}
		v := b.Get(key)
		if v == nil {
			return nil
		}
		cur, err := cache.DecodeDoubt(string(key), string(v))
		if err != nil {
			return err
		}
		if !cur.Since.Equal(d.Since) {
			return nil // a newer unknown outcome: keep it
		}
		if next.IsZero() {
			return b.Delete(key)
		}
		cur.Due = next
		return b.Put(key, []byte(cache.EncodeDoubt(cur.Truncate())))
	})
	if err != nil {
		return fmt.Errorf("resolve doubt %s %s: %w", d.Kind, d.ID, err)
	}
	return nil
}
