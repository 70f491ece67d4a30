package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/scim-bridge/scim-bridge/cache"
)

// A stored record value is the 8-byte big-endian creation sequence followed
// by the JSON of the cache.Record; the sequence locates its order key.

func encodeRecord(seq uint64, rec cache.Record) ([]byte, error) {
	rec.Members = nil // kept in the memberships bucket
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(data)), seq), data...), nil
}

// decodeRecord decodes a stored value. It copies what it keeps, so the
// result outlives the transaction.
func decodeRecord(v []byte) (seq uint64, rec cache.Record, err error) {
	if len(v) < 8 {
		return 0, rec, errors.New("corrupt record value")
	}
	if err := json.Unmarshal(v[8:], &rec); err != nil {
		return 0, rec, fmt.Errorf("decode record: %w", err)
	}
	return binary.BigEndian.Uint64(v[:8]), rec, nil
}

// orderKey is the creation-order index key: the zero-padded sequence, so
// byte order is creation order, then the id.
func orderKey(seq uint64, id string) []byte {
	return fmt.Appendf(nil, "%020d/%s", seq, id)
}

func nameKey(name string) []byte { return []byte(strings.ToLower(name)) }

// memberKey is the membership index key of (user, group).
func memberKey(userID, groupID string) []byte {
	return append(memberPrefix(userID), groupID...)
}

func memberPrefix(userID string) []byte {
	return append([]byte(userID), 0)
}

// membershipKey is the key of (group, user) in the memberships bucket.
func membershipKey(groupID, userID string) []byte {
	return append(membershipPrefix(groupID), userID...)
}

func membershipPrefix(groupID string) []byte {
	return append([]byte(groupID), 0)
}

// members returns the sorted member ids of group id; nil if none.
func members(b buckets, id string) []string {
	if b.memberships == nil {
		return nil
	}
	var out []string
	prefix := membershipPrefix(id)
	c := b.memberships.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// getFull is getRecord with, for a group, its members.
func getFull(b buckets, id string) (uint64, cache.Record, error) {
	seq, rec, err := getRecord(b, id)
	if err == nil && rec.Kind == cache.KindGroup {
		rec.Members = members(b, id)
	}
	return seq, rec, err
}

// getRecord reads one record in tx, without a group's members; it returns
// cache.ErrNotFound if absent.
func getRecord(b buckets, id string) (uint64, cache.Record, error) {
	if b.records == nil {
		return 0, cache.Record{}, cache.ErrNotFound
	}
	v := b.records.Get([]byte(id))
	if v == nil {
		return 0, cache.Record{}, cache.ErrNotFound
	}
	return decodeRecord(v)
}

// Get returns the record of kind with id, or cache.ErrNotFound.
func (s *Store) Get(ctx context.Context, kind cache.Kind, id string) (cache.Record, error) {
	if err := ctx.Err(); err != nil {
		return cache.Record{}, err
	}
	rec, err := s.get(kind, id, true)
	if err != nil {
		return cache.Record{}, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	return rec, nil
}

// get reads a record, with a group's members if withMembers is set.
func (s *Store) get(kind cache.Kind, id string, withMembers bool) (cache.Record, error) {
	read := getRecord
	if withMembers {
		read = getFull
	}
	var rec cache.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		_, rec, err = read(readBuckets(tx, kind), id)
		return err
	})
	return rec, err
}

// Lookup returns the record of kind whose name equals value, compared
// case-insensitively, or cache.ErrNotFound. Other indexes are not unique:
// Find serves them.
func (s *Store) Lookup(ctx context.Context, kind cache.Kind, index cache.Index, value string) (cache.Record, error) {
	if err := ctx.Err(); err != nil {
		return cache.Record{}, err
	}
	if !index.Unique() {
		return cache.Record{}, fmt.Errorf("lookup %s: index %q is not unique: use Find", kind, index)
	}
	var rec cache.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = lookupName(readBuckets(tx, kind), value)
		return err
	})
	if err != nil {
		return cache.Record{}, fmt.Errorf("lookup %s %s: %w", kind, index, err)
	}
	return rec, nil
}

func lookupName(b buckets, name string) (cache.Record, error) {
	key := nameKey(name)
	if b.names == nil || len(key) == 0 {
		return cache.Record{}, cache.ErrNotFound
	}
	id := b.names.Get(key)
	if id == nil {
		return cache.Record{}, cache.ErrNotFound
	}
	_, rec, err := getFull(b, string(id))
	return rec, err
}

// Find returns the records of kind whose index value equals value, in
// creation order; empty if none.
func (s *Store) Find(ctx context.Context, kind cache.Kind, index cache.Index, value string) ([]cache.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cache.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := readBuckets(tx, kind)
		switch index {
		case cache.IndexName:
			rec, err := lookupName(b, value)
			if errors.Is(err, cache.ErrNotFound) {
				out = []cache.Record{}
				return nil
			}
			out = []cache.Record{rec}
			return err
		case cache.IndexExternalID:
			var err error
			out, err = findExtIDs(b, value)
			return err
		}
		return fmt.Errorf("unknown index %q", index)
	})
	if err != nil {
		return nil, fmt.Errorf("find %s %s: %w", kind, index, err)
	}
	return out, nil
}

// List returns up to limit records of kind from offset, in creation order,
// and the number of records of kind. Skipping offset entries walks keys of
// the order index only.
func (s *Store) List(ctx context.Context, kind cache.Kind, offset, limit int) (cache.Page, error) {
	if offset < 0 || limit < 0 {
		return cache.Page{}, fmt.Errorf("list %s: negative offset %d or limit %d", kind, offset, limit)
	}
	if err := ctx.Err(); err != nil {
		return cache.Page{}, err
	}
	var page cache.Page
	err := s.db.View(func(tx *bolt.Tx) error {
		page.Total = count(tx, kind)
		b := readBuckets(tx, kind)
		if limit == 0 || offset >= page.Total || b.order == nil {
			return nil
		}
		page.Records = make([]cache.Record, 0, min(limit, page.Total-offset))
		c := b.order.Cursor()
		k, _ := c.First()
		for range offset {
			k, _ = c.Next()
		}
		for ; k != nil && len(page.Records) < limit; k, _ = c.Next() {
			_, id, ok := bytes.Cut(k, []byte("/"))
			if !ok {
				return fmt.Errorf("corrupt order key %q", k)
			}
			_, rec, err := getFull(b, string(id))
			if err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
			page.Records = append(page.Records, rec)
		}
		return nil
	})
	if err != nil {
		return cache.Page{}, fmt.Errorf("list %s: %w", kind, err)
	}
	return page, nil
}

// GroupsOf returns the sorted ids of the groups whose members include
// userID; empty if none.
func (s *Store) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	groups := []string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := memberPrefix(userID)
		c := tx.Bucket([]byte(bucketMembers)).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			groups = append(groups, string(k[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", userID, err)
	}
	return groups, nil
}
