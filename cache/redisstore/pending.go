package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

// The queue of pending membership changes lives in:
//   - {p}:pending, a hash: cache.PendingKey(group, user) →
//     cache.EncodePending;
//   - {p}:pq:g:<group>, the set of the users of the group's changes, and
//     {p}:pq:u:<user>, the set of the groups of the user's changes, for
//     PendingOf and for dropping a deleted record's changes;
//   - {p}:failures, a list of JSON cache.Failure, newest first, trimmed to
//     cache.MaxFailures.
//
// The member delta of UpdateMembers, Update and QueueMembers and the queue
// change in the same script run (updateScript), and so do a deleted
// record and its changes (deleteScript).

var _ cache.Queue = (*Store)(nil)

// pendingLua is the Lua shared by the scripts that keep the queue: it reads
// and writes cache.EncodePending values and applies cache.QueueRule and
// cache.SettleRule exactly as Go does. A change is a table {dir, since,
// attempted, claimed, due, tries} of the value's strings, false for none;
// times are Unix milliseconds (0: zero), compared as numbers (exact in a
// Lua double). A value that is not one EncodePending writes raises an
// error; every script reads all its values before its first write, so
// such an error writes nothing.
const pendingLua = `
local function pread(hash, field)
  local v = redis.call('HGET', hash, field)
  if not v then return false end
  local p = {string.match(v, '^([+-]) (%-?%d+) ([01]) (%-?%d+) (%-?%d+) (%-?%d+)$')}
  if #p == 0 then error('pending ' .. field .. ': malformed value ' .. v) end
  return p
end

-- pput makes p (false: none) the change under field and keeps the index
-- sets: gset is the group's, holding user; uset the user's, holding group.
local function pput(hash, field, gset, user, uset, group, p)
  if p then
    redis.call('HSET', hash, field, table.concat(p, ' '))
    redis.call('SADD', gset, user)
    redis.call('SADD', uset, group)
  else
    redis.call('HDEL', hash, field)
    redis.call('SREM', gset, user)
    redis.call('SREM', uset, group)
  end
end

-- queueRule is cache.QueueRule: old is the pair's change, dir '+' (join)
-- or '-' (leave), now the time in ms and nows the same as a string.
local function queueRule(old, dir, now, nows, queue)
  local free = (not old) or (old[3] ~= '1' and tonumber(old[4]) <= now)
  if not queue then
    if free then return false end
    return {dir, old[2], old[3], old[4], '0', old[6]}
  end
  if old and old[1] ~= dir and free then return false end
  if old and old[1] == dir then return old end
  if old then return {dir, nows, old[3], old[4], '0', '0'} end
  return {dir, nows, '0', '0', '0', '0'}
end

-- settleRule is cache.SettleRule: res is the cache.PendingResult ('0'
-- done, '1' unsent, '2' retry, '3' failed), dir and att the claimed
-- change's direction and attempted flag, due the outcome's Due in ms,
-- claimed the claim the outcome reports on (ms).
local function settleRule(cur, res, dir, att, due, claimed)
  if not cur then return false end
  if tonumber(cur[4]) ~= tonumber(claimed) then return cur end
  local n = {cur[1], cur[2], cur[3], '0', cur[5], cur[6]}
  local same = cur[1] == dir
  if res == '0' then
    if same then return false end
    n[3] = '0'
  elseif res == '1' then
    if (not same) and att ~= '1' then return false end
    if same then n[3] = att end
    n[5] = due
  elseif res == '2' then
    n[3] = '1'
    n[5] = due
    n[6] = string.format('%d', tonumber(cur[6]) + 1)
  elseif res == '3' then
    if same then return false end
    n[3] = '1'
  end
  return n
end
`

// claimScript: KEYS = pending; ARGV = now, until (ms), fields.... It
// claims every listed pair that is pending, unclaimed at now and due, as
// cache.Queue.ClaimPending says, and returns field, value, ... of the
// claimed changes as they were before the claim, with claimed = until.
var claimScript = redis.NewScript(pendingLua + `
local now, untl, cur = tonumber(ARGV[1]), ARGV[2], {}
for j = 3, #ARGV do
  if cur[ARGV[j]] == nil then cur[ARGV[j]] = pread(KEYS[1], ARGV[j]) end
end
local out = {}
for j = 3, #ARGV do
  local f = ARGV[j]
  local p = cur[f]
  if p and tonumber(p[4]) <= now and tonumber(p[5]) <= now then
    out[#out + 1] = f
    out[#out + 1] = table.concat({p[1], p[2], p[3], untl, p[5], p[6]}, ' ')
    p = {p[1], p[2], '1', untl, p[5], p[6]}
    cur[f] = p
    redis.call('HSET', KEYS[1], f, table.concat(p, ' '))
  end
end
return out
`)

// settleScript: KEYS = pending, then per outcome the group's and the
// user's index set; ARGV = per outcome: field, group, user, result,
// claimed dir, claimed attempted (0/1), due (ms), claimed until (ms). It applies each outcome
// by cache.SettleRule, in order (a pair listed twice sees the first
// outcome's result).
var settleScript = redis.NewScript(pendingLua + `
local order, old, new = {}, {}, {}
for j = 0, #ARGV / 8 - 1 do
  local a = 8 * j
  local f = ARGV[a + 1]
  if old[f] == nil then
    old[f] = pread(KEYS[1], f)
    new[f] = old[f]
    order[#order + 1] = j
  end
  new[f] = settleRule(new[f], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8])
end
for _, j in ipairs(order) do
  local a = 8 * j
  local f = ARGV[a + 1]
  if new[f] ~= old[f] then
    pput(KEYS[1], f, KEYS[2 + 2 * j], ARGV[a + 3], KEYS[3 + 2 * j], ARGV[a + 2], new[f])
  end
end
return 0
`)

// addFailureScript: KEYS = failures; ARGV = JSON failure, how many to
// keep. The newest is first.
var addFailureScript = redis.NewScript(`
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 0
`)

func (k keys) pending() string  { return k.p + "pending" }
func (k keys) failures() string { return k.p + "failures" }

// queued is the index set of a group's (the users) or a user's (the
// groups) pending changes.
func (k keys) queued(kind cache.Kind, id string) string {
	if kind == cache.KindGroup {
		return k.p + "pq:g:" + id
	}
	return k.p + "pq:u:" + id
}

// queueMode says how a member delta written by update meets the queue:
// queued (QueueMembers) or confirmed (UpdateMembers, Update).
type queueMode struct {
	queue bool
	now   time.Time
}

// arg is the mode as updateScript's queue argument, for a record of kind.
func (m queueMode) arg(kind cache.Kind) string {
	switch {
	case kind != cache.KindGroup:
		return ""
	case m.queue:
		return "1"
	}
	return "0"
}

// ms is t as the queue stores it, in Unix milliseconds: 0 for the zero
// time, and for any time before 1970, which cache.DecodePending reads as
// zero too.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixMilli(), 0)
}

// QueueMembers is UpdateMembers that queues the delta in the same script
// run.
func (s *Store) QueueMembers(ctx context.Context, groupID string, add, remove []string, now time.Time, fn func(cache.Record) (cache.Record, error)) (cache.Record, error) {
	return s.update(ctx, "queue members of", cache.KindGroup, groupID, false, queueMode{queue: true, now: now},
		cache.MembersDelta(add, remove, fn))
}

// PendingChanges returns every pending change, by group then user. It
// scans the hash (HSCAN), so a large queue does not block Redis; it is not
// a snapshot: a change present throughout the scan is listed once, one
// made or settled during it may or may not be.
func (s *Store) PendingChanges(ctx context.Context) ([]cache.Pending, error) {
	vals := make(map[string]string)
	for cursor := uint64(0); ; {
		kv, next, err := s.client.HScan(ctx, s.keys.pending(), cursor, "", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("pending changes: %w", err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			vals[kv[i]] = kv[i+1] // HSCAN may repeat a field: the later value is the newer
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	out := make([]cache.Pending, 0, len(vals))
	for k, v := range vals {
		p, err := cache.DecodePending(k, v)
		if err != nil {
			return nil, fmt.Errorf("pending changes: %w", err)
		}
		out = append(out, p)
	}
	sortPending(out)
	return out, nil
}

// pendingBatch is how many fields one HMGET of PendingOf asks for.
const pendingBatch = 1000

// PendingOf returns the pending changes of one group or user, by group
// then user. A value that does not decode is left out, as in bbolt: it
// cannot be sent, and the pair's next write replaces it.
func (s *Store) PendingOf(ctx context.Context, kind cache.Kind, id string) ([]cache.Pending, error) {
	others, err := s.client.SMembers(ctx, s.keys.queued(kind, id)).Result()
	if err != nil {
		return nil, fmt.Errorf("pending changes of %s %s: %w", kind, id, err)
	}
	if len(others) == 0 {
		return nil, nil
	}
	fields := make([]string, len(others))
	for i, o := range others {
		fields[i] = pairField(kind, id, o)
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, 0, (len(fields)+pendingBatch-1)/pendingBatch)
	for chunk := range slices.Chunk(fields, pendingBatch) {
		cmds = append(cmds, pipe.HMGet(ctx, s.keys.pending(), chunk...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("pending changes of %s %s: %w", kind, id, err)
	}
	out := make([]cache.Pending, 0, len(fields))
	for i, cmd := range cmds {
		for j, v := range cmd.Val() {
			str, ok := v.(string)
			if !ok {
				continue // settled between the two reads
			}
			if p, err := cache.DecodePending(fields[i*pendingBatch+j], str); err == nil {
				out = append(out, p)
			}
		}
	}
	sortPending(out)
	return out, nil
}

// pairField is the field of the pending change between record id of kind
// and other, an id of the other kind.
func pairField(kind cache.Kind, id, other string) string {
	if kind == cache.KindGroup {
		return cache.PendingKey(id, other)
	}
	return cache.PendingKey(other, id)
}

func sortPending(ps []cache.Pending) {
	slices.SortFunc(ps, func(a, b cache.Pending) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.User, b.User))
	})
}

// ClaimPending claims the free, due changes among pairs, in one script.
func (s *Store) ClaimPending(ctx context.Context, pairs []cache.Pending, now, until time.Time) ([]cache.Pending, error) {
	if len(pairs) == 0 {
		return nil, ctx.Err()
	}
	args := make([]any, 0, 2+len(pairs))
	args = append(args, ms(now), ms(until))
	for _, p := range pairs {
		args = append(args, cache.PendingKey(p.Group, p.User))
	}
	vals, err := s.write(ctx, claimScript, []string{s.keys.pending()}, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim pending changes: %w", err)
	}
	if len(vals)%2 != 0 {
		return nil, fmt.Errorf("claim pending changes: malformed script answer")
	}
	var out []cache.Pending
	for i := 0; i < len(vals); i += 2 {
		p, err := cache.DecodePending(vals[i], vals[i+1])
		if err != nil {
			return nil, fmt.Errorf("claim pending changes: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// SettlePending applies each outcome by cache.SettleRule, all in one
// script.
func (s *Store) SettlePending(ctx context.Context, outcomes []cache.Outcome) error {
	if len(outcomes) == 0 {
		return ctx.Err()
	}
	keys := make([]string, 0, 1+2*len(outcomes))
	keys = append(keys, s.keys.pending())
	args := make([]any, 0, 8*len(outcomes))
	for _, o := range outcomes {
		c := o.Change
		dir, att := "-", "0"
		if c.Add {
			dir = "+"
		}
		if c.Attempted {
			att = "1"
		}
		keys = append(keys, s.keys.queued(cache.KindGroup, c.Group), s.keys.queued(cache.KindUser, c.User))
		args = append(args, cache.PendingKey(c.Group, c.User), c.Group, c.User, int(o.Result), dir, att, ms(o.Due), ms(c.Claimed))
	}
	if err := s.write(ctx, settleScript, keys, args...).Err(); err != nil {
		return fmt.Errorf("settle pending changes: %w", err)
	}
	return nil
}

// AddFailure records f, dropping the oldest beyond cache.MaxFailures.
func (s *Store) AddFailure(ctx context.Context, f cache.Failure) error {
	v, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	if err := s.write(ctx, addFailureScript, []string{s.keys.failures()}, v, cache.MaxFailures).Err(); err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	return nil
}

// Failures returns up to limit failures, newest first.
func (s *Store) Failures(ctx context.Context, limit int) ([]cache.Failure, error) {
	stop := int64(-1)
	if limit > 0 {
		stop = int64(limit) - 1
	}
	vals, err := s.client.LRange(ctx, s.keys.failures(), 0, stop).Result()
	if err != nil {
		return nil, fmt.Errorf("failures: %w", err)
	}
	out := make([]cache.Failure, 0, len(vals))
	for _, v := range vals {
		var f cache.Failure
		if err := json.Unmarshal([]byte(v), &f); err != nil {
			return nil, fmt.Errorf("failures: %w", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// deleteArgs returns the keys and arguments deleteScript needs to drop the
// pending changes of a record of kind: the other side's index sets and the
// pairs' fields, for the ids listed in the record's own set now (the
// script checks that no other has joined since).
func (s *Store) deleteArgs(ctx context.Context, kind cache.Kind, id string) (keys []string, others, fields []any, err error) {
	ids, err := s.client.SMembers(ctx, s.keys.queued(kind, id)).Result()
	if err != nil {
		return nil, nil, nil, err
	}
	otherKind := cache.KindGroup
	if kind == cache.KindGroup {
		otherKind = cache.KindUser
	}
	for _, o := range ids {
		keys = append(keys, s.keys.queued(otherKind, o))
		others = append(others, o)
		fields = append(fields, pairField(kind, id, o))
	}
	return keys, others, fields, nil
}
