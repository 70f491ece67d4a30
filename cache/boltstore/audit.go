package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scim-bridge/scim-bridge/cache"
)

// bucketAudit holds the audit log: key = big-endian Unix nanoseconds of
// the entry's Time + big-endian bucket sequence, value = JSON
// cache.AuditEntry. Keys sort by time, so a time window is a range scan
// and pruning takes entries off the front. It is created by the first
// append, so that a read-only open of a file written by an older version
// still works (and finds no entries).
const bucketAudit = "audit"

var _ cache.Audit = (*Store)(nil)

// auditKey is the key of an entry at t with sequence seq.
func auditKey(t time.Time, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(auditTime(t), seq)
}

// auditTime is the 8-byte time prefix of the keys at t; times before 1970
// share the zero prefix.
func auditTime(t time.Time) []byte {
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	return binary.BigEndian.AppendUint64(nil, uint64(ns))
}

// AppendAudit adds entries and prunes those past the retention, in one
// transaction.
func (s *Store) AppendAudit(ctx context.Context, entries ...cache.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	entries = slices.Clone(entries) // Time is filled in below
	now := time.Now().UTC()
	vals := make([][]byte, len(entries))
	var newest time.Time
	for i := range entries {
		if entries[i].Time.IsZero() {
			entries[i].Time = now
		}
		newest = maxTime(newest, entries[i].Time)
		v, err := json.Marshal(entries[i])
		if err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		vals[i] = v
	}
	cutoff := auditTime(newest.Add(-s.auditRetention))
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketAudit))
		if err != nil {
			return err
		}
		for i, e := range entries {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(auditKey(e.Time, seq), vals[i]); err != nil {
				return err
			}
		}
		// Expired keys are all at the front: collect, then delete (a
		// bbolt cursor must not delete under itself).
		var expired [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], cutoff) < 0; k, _ = c.Next() {
			expired = append(expired, bytes.Clone(k))
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// AuditLog returns the entries q selects, oldest first: a range scan of
// q's time window, newest first when q has a Limit.
func (s *Store) AuditLog(ctx context.Context, q cache.AuditQuery) ([]cache.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cache.AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAudit))
		if b == nil {
			return nil
		}
		var lo, hi []byte // hi: the first key past the window
		if !q.Since.IsZero() {
			lo = auditTime(q.Since)
		}
		if !q.Until.IsZero() {
			hi = auditTime(q.Until.Add(time.Nanosecond))
		}
		keep := func(v []byte) (bool, error) {
			var e cache.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return false, err
			}
			if !q.Matches(e) {
				return false, nil
			}
			out = append(out, e)
			return q.Limit > 0 && len(out) == q.Limit, nil
		}
		c := b.Cursor()
		if q.Limit > 0 {
			// The newest first, so that the scan stops at Limit.
			var k, v []byte
			switch {
			case hi == nil:
				k, v = c.Last()
			default:
				// The last key before hi.
				if k, _ = c.Seek(hi); k == nil {
					k, v = c.Last()
				} else {
					k, v = c.Prev()
				}
			}
			for ; k != nil && (lo == nil || bytes.Compare(k[:8], lo) >= 0); k, v = c.Prev() {
				if done, err := keep(v); err != nil || done {
					return err
				}
			}
			return nil
		}
		k, v := c.First()
		if lo != nil {
			k, v = c.Seek(lo)
		}
		for ; k != nil && (hi == nil || bytes.Compare(k[:8], hi) < 0); k, v = c.Next() {
			if _, err := keep(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return cache.SortAudit(out, q), nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
