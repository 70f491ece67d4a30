package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

// Doubts live in a hash, "kind:id" → cache.EncodeDoubt, and a sorted set of
// the same members scored by Due (Unix milliseconds, exact in a Lua number).

// addDoubtScript: KEYS = hash, zset; ARGV = member, since, due, owned.
// It merges with a stored doubt as cache.MergeDoubt does.
var addDoubtScript = redis.NewScript(`
local since, due, owned = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local s, d, o = string.match(cur, '^(%d+) (%d+) (%d)$')
  if s then
    s, d = tonumber(s), tonumber(d)
    if s > since then since = s end
    if d < due then due = d end
    if o == '1' then owned = '1' end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d %d %s', since, due, owned))
redis.call('ZADD', KEYS[2], due, ARGV[1])
return 0
`)

// resolveDoubtScript: KEYS = hash, zset; ARGV = member, since, next (0:
// remove). Nothing happens when the stored since differs.
var resolveDoubtScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local s, d, o = string.match(cur, '^(%d+) (%d+) (%d)$')
if s ~= ARGV[2] then return 0 end
if ARGV[3] == '0' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
redis.call('HSET', KEYS[1], ARGV[1], s .. ' ' .. ARGV[3] .. ' ' .. o)
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
return 1
`)

func (k keys) doubts() string   { return k.p + "doubts" }
func (k keys) doubtDue() string { return k.p + "doubts:due" }

// AddDoubt records d, merged with the resource's doubt if it has one.
func (s *Store) AddDoubt(ctx context.Context, d cache.Doubt) error {
	owned := "0"
	if d.Owned {
		owned = "1"
	}
	err := s.write(ctx, addDoubtScript, []string{s.keys.doubts(), s.keys.doubtDue()},
		cache.DoubtKey(d.Kind, d.ID), d.Since.UnixMilli(), d.Due.UnixMilli(), owned).Err()
	if err != nil {
		return fmt.Errorf("add doubt %s %s: %w", d.Kind, d.ID, err)
	}
	return nil
}

// GetDoubt returns the resource's doubt, if any.
func (s *Store) GetDoubt(ctx context.Context, kind cache.Kind, id string) (cache.Doubt, bool, error) {
	key := cache.DoubtKey(kind, id)
	v, err := s.client.HGet(ctx, s.keys.doubts(), key).Result()
	if errors.Is(err, redis.Nil) {
		return cache.Doubt{}, false, nil
	}
	if err != nil {
		return cache.Doubt{}, false, fmt.Errorf("get doubt %s %s: %w", kind, id, err)
	}
	d, err := cache.DecodeDoubt(key, v)
	if err != nil {
		return cache.Doubt{}, false, err
	}
	return d, true, nil
}

// DueDoubts returns the doubts due at or before t, earliest first.
func (s *Store) DueDoubts(ctx context.Context, t time.Time, limit int) ([]cache.Doubt, error) {
	by := &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(t.UnixMilli(), 10)}
	if limit > 0 {
		by.Count = int64(limit)
	}
	members, err := s.client.ZRangeByScore(ctx, s.keys.doubtDue(), by).Result()
	if err != nil {
		return nil, fmt.Errorf("due doubts: %w", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	vals, err := s.client.HMGet(ctx, s.keys.doubts(), members...).Result()
	if err != nil {
		return nil, fmt.Errorf("due doubts: %w", err)
	}
	out := make([]cache.Doubt, 0, len(members))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // resolved between the two reads
		}
		d, err := cache.DecodeDoubt(members[i], str)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ResolveDoubt removes d, or makes it due at next, unless a later doubt
// replaced it meanwhile.
func (s *Store) ResolveDoubt(ctx context.Context, d cache.Doubt, next time.Time) error {
	nextMS := int64(0)
	if !next.IsZero() {
		nextMS = next.UnixMilli()
	}
	err := s.write(ctx, resolveDoubtScript, []string{s.keys.doubts(), s.keys.doubtDue()},
		cache.DoubtKey(d.Kind, d.ID), strconv.FormatInt(d.Since.UnixMilli(), 10), strconv.FormatInt(nextMS, 10)).Err()
	if err != nil {
		return fmt.Errorf("resolve doubt %s %s: %w", d.Kind, d.ID, err)
	}
	return nil
}
