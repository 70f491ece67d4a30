package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scim-bridge/scim-bridge/cache"
)

// The queue's buckets, created when the store opens:
//   - pending: cache.PendingKey(group, user) → cache.EncodePending; a
//     prefix scan on "group " yields a group's changes;
//   - pending-users: user + " " + group → nil, to find a user's changes;
//   - failures: big-endian sequence → JSON cache.Failure, the latest
//     cache.MaxFailures.
const (
	bucketPending      = "pending"
	bucketPendingUsers = "pending-users"
	bucketFailures     = "failures"
)

var _ cache.Queue = (*Store)(nil)

// QueueMembers is UpdateMembers that queues the delta in the same
// transaction.
func (s *Store) QueueMembers(ctx context.Context, groupID string, add, remove []string, now time.Time, fn func(cache.Record) (cache.Record, error)) (cache.Record, error) {
	return s.update(ctx, "queue members of", cache.KindGroup, groupID, false, queueMode{queue: true, now: now},
		cache.MembersDelta(add, remove, fn))
}

// queueMode says how a member delta written by update meets the queue:
// queued (QueueMembers) or confirmed (UpdateMembers, Update).
type queueMode struct {
	queue bool
	now   time.Time
}

// keepQueue applies cache.QueueRule to every pair of a member delta, in
// the order the members change: removals, then additions.
func keepQueue(tx *bolt.Tx, groupID string, add, remove []string, mode queueMode) error {
	now := mode.now
	if now.IsZero() {
		now = time.Now()
	}
	for _, step := range []struct {
		ids []string
		add bool
	}{{remove, false}, {add, true}} {
		for _, u := range step.ids {
			old, err := getPending(tx, groupID, u)
			if err != nil {
				return err
			}
			next := cache.QueueRule(old, cache.Pending{Group: groupID, User: u, Add: step.add}, now, mode.queue)
			if err := putPending(tx, groupID, u, next); err != nil {
				return err
			}
		}
	}
	return nil
}

func getPending(tx *bolt.Tx, group, user string) (*cache.Pending, error) {
	key := cache.PendingKey(group, user)
	v := tx.Bucket([]byte(bucketPending)).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	p, err := cache.DecodePending(key, string(v))
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// putPending stores p as the pair's pending change, or removes the pair's
// change when p is nil.
func putPending(tx *bolt.Tx, group, user string, p *cache.Pending) error {
	b, byUser := tx.Bucket([]byte(bucketPending)), tx.Bucket([]byte(bucketPendingUsers))
	key, ukey := []byte(cache.PendingKey(group, user)), []byte(cache.PendingKey(user, group))
	if p == nil {
		if err := b.Delete(key); err != nil {
			return err
		}
		return byUser.Delete(ukey)
	}
	if err := b.Put(key, []byte(cache.EncodePending(p.Truncate()))); err != nil {
		return err
	}
	return byUser.Put(ukey, nil)
}

// dropPending removes every pending change of a group or a user.
func dropPending(tx *bolt.Tx, kind cache.Kind, id string) error {
	for _, p := range pendingOf(tx, kind, id) {
		if err := putPending(tx, p.Group, p.User, nil); err != nil {
			return err
		}
	}
	return nil
}

// pendingOf returns a group's or a user's pending changes; an entry that
// does not decode is skipped (it cannot be sent, and a rewrite replaces it).
func pendingOf(tx *bolt.Tx, kind cache.Kind, id string) []cache.Pending {
	var out []cache.Pending
	prefix := []byte(id + " ")
	if kind == cache.KindGroup {
		c := tx.Bucket([]byte(bucketPending)).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if p, err := cache.DecodePending(string(k), string(v)); err == nil {
				out = append(out, p)
			}
		}
		return out
	}
	c := tx.Bucket([]byte(bucketPendingUsers)).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if p, _ := getPending(tx, string(k[len(prefix):]), id); p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// PendingChanges returns every pending change, by group then user.
func (s *Store) PendingChanges(ctx context.Context) ([]cache.Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cache.Pending
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketPending)).ForEach(func(k, v []byte) error {
			p, err := cache.DecodePending(string(k), string(v))
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pending changes: %w", err)
	}
	return out, nil
}

// PendingOf returns the pending changes of one group or user.
func (s *Store) PendingOf(ctx context.Context, kind cache.Kind, id string) ([]cache.Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cache.Pending
	err := s.db.View(func(tx *bolt.Tx) error {
		out = pendingOf(tx, kind, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending changes of %s %s: %w", kind, id, err)
	}
	return out, nil
}

// ClaimPending claims the free, due changes among pairs.
func (s *Store) ClaimPending(ctx context.Context, pairs []cache.Pending, now, until time.Time) ([]cache.Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cache.Pending
	err := s.db.Batch(func(tx *bolt.Tx) error {
		out = out[:0]
		for _, pair := range pairs {
			p, err := getPending(tx, pair.Group, pair.User)
			if err != nil {
				return err
			}
			if p == nil || p.Claimed.After(now) || p.Due.After(now) {
				continue
			}
			claimed := *p
			claimed.Claimed = until
			out = append(out, claimed.Truncate())
			claimed.Attempted = true
			if err := putPending(tx, pair.Group, pair.User, &claimed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim pending changes: %w", err)
	}
	return out, nil
}

// SettlePending applies each outcome by cache.SettleRule.
func (s *Store) SettlePending(ctx context.Context, outcomes []cache.Outcome) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		for _, o := range outcomes {
			cur, err := getPending(tx, o.Change.Group, o.Change.User)
			if err != nil {
				return err
			}
			if cur == nil {
				continue
			}
			if err := putPending(tx, o.Change.Group, o.Change.User, cache.SettleRule(cur, o)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("settle pending changes: %w", err)
	}
	return nil
}

// AddFailure records f, dropping the oldest beyond cache.MaxFailures.
func (s *Store) AddFailure(ctx context.Context, f cache.Failure) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	err = s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketFailures))
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
		if seq > cache.MaxFailures {
			return b.Delete(binary.BigEndian.AppendUint64(nil, seq-cache.MaxFailures))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	return nil
}

// Failures returns up to limit failures, newest first.
func (s *Store) Failures(ctx context.Context, limit int) ([]cache.Failure, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cache.Failure
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketFailures)).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var f cache.Failure
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failures: %w", err)
	}
	return out, nil
}
