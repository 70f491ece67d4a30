package redisstore

import "github.com/redis/go-redis/v9"

// The write scripts. Each declares every key it touches in KEYS (all under
// one hash tag) and validates everything before its first write, so a
// rejected call writes nothing. Results: 0 done, 1 id taken, 2 index value
// taken, -1 no record, -2 version changed (the caller retries).
//
// Index lists in KEYS come in groups whose sizes are passed in ARGV.

// createScript: KEYS = rec, seq, order, members, claim..., userGroups...,
// externalId set; ARGV = id, json, #claim, #userGroups, member ids... (one
// per userGroups key, in the same order), and last "1" if the record has
// an externalId (else "0"). Claims are unique (the name); the externalId
// set is shared.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local nc, nu = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 5, 4 + nc do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 2 end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[2])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
if ARGV[#ARGV] == '1' then redis.call('ZADD', KEYS[#KEYS], seq, ARGV[1]) end
for i = 5, 4 + nc do redis.call('SET', KEYS[i], ARGV[1]) end
for j = 1, nu do
  redis.call('SADD', KEYS[4 + nc + j], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[4 + j])
end
return 0
`)

// updateScript: KEYS = rec, members, claim..., release..., removeFrom...,
// addTo..., and for a group: pending, the group's queue set, the removed
// users' queue sets..., the added users' queue sets...; then, last: order,
// the old externalId's set, the new externalId's set. ARGV = id, expected
// version, new version, json, #claim, #release, #remove, #add, queue mode
// ("" a user: no queue; "0" a delta UiPath confirmed; "1" a delta to
// queue), now (ms), removed member ids..., added member ids... (one per
// removeFrom / addTo key, in the same order), and for a group the pairs'
// fields (cache.PendingKey) in the same order; then, last, "1" if the
// new record has an externalId (else "0"). Claims and releases are the
// unique keys: the name, and a legacy externalId key (released only). The
// record leaves the old externalId's set and joins (again, harmlessly)
// the new one's, scored by its creation sequence: that also moves a
// record written by an older version into the shared index. Removals run
// before additions, so an id in both ends up a member; each pair's pending
// change follows cache.QueueRule in that order, and is worked out before
// the first write.
var updateScript = redis.NewScript(pendingLua + `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[2] then return -2 end
local nc, nr, nm, na = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local i = 3
for j = i, i + nc - 1 do
  local owner = redis.call('GET', KEYS[j])
  if owner and owner ~= ARGV[1] then return 2 end
end
local qk, order, old, new = i + nc + nr + nm + na, {}, {}, {}
if ARGV[9] ~= '' then
  local now, queue = tonumber(ARGV[10]), ARGV[9] == '1'
  for j = 1, nm + na do
    local f, dir = ARGV[10 + nm + na + j], '+'
    if j <= nm then dir = '-' end
    if old[f] == nil then
      old[f] = pread(KEYS[qk], f)
      new[f] = old[f]
      order[#order + 1] = j
    end
    new[f] = queueRule(new[f], dir, now, ARGV[10], queue)
  end
end
for j = i, i + nc - 1 do redis.call('SET', KEYS[j], ARGV[1]) end
i = i + nc
for j = i, i + nr - 1 do
  if redis.call('GET', KEYS[j]) == ARGV[1] then redis.call('DEL', KEYS[j]) end
end
i = i + nr
for j = 0, nm - 1 do
  redis.call('SREM', KEYS[i + j], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[11 + j])
end
for j = 0, na - 1 do
  redis.call('SADD', KEYS[i + nm + j], ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[11 + nm + j])
end
for _, j in ipairs(order) do
  local f = ARGV[10 + nm + na + j]
  if new[f] ~= old[f] then
    pput(KEYS[qk], f, KEYS[qk + 1], ARGV[10 + j], KEYS[qk + 1 + j], ARGV[1], new[f])
  end
end
local nk = #KEYS
redis.call('ZREM', KEYS[nk - 1], ARGV[1])
if ARGV[#ARGV] == '1' then
  redis.call('ZADD', KEYS[nk], redis.call('ZSCORE', KEYS[nk - 2], ARGV[1]) or 0, ARGV[1])
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4])
return 0
`)

// deleteScript: KEYS = rec, order, members, release..., removeFrom...,
// pending, the record's queue set, the queue sets of the other side of its
// pending changes..., and last its externalId's set; ARGV = id, expected version, #release, #remove,
// #queued, the other side's ids... (one per queue set key), the pairs'
// fields... (cache.PendingKey, same order). The record's pending changes
// go with it; if its queue set holds an id not given (a change queued
// since the client read it), nothing is written and the caller retries.
var deleteScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[2] then return -2 end
local nr, nm, nq = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local qk, given = 4 + nr + nm, {}
for j = 1, nq do given[ARGV[5 + j]] = true end
for _, other in ipairs(redis.call('SMEMBERS', KEYS[qk + 1])) do
  if not given[other] then return -2 end
end
for j = 4, 3 + nr do
  if redis.call('GET', KEYS[j]) == ARGV[1] then redis.call('DEL', KEYS[j]) end
end
for j = 4 + nr, 3 + nr + nm do redis.call('SREM', KEYS[j], ARGV[1]) end
for j = 1, nq do
  redis.call('HDEL', KEYS[qk], ARGV[5 + nq + j])
  redis.call('SREM', KEYS[qk + 1 + j], ARGV[1])
end
redis.call('ZREM', KEYS[#KEYS], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[3], KEYS[qk + 1])
return 0
`)

// Script results.
const (
	resOK       = 0
	resIDTaken  = 1
	resIndex    = 2
	resNoRecord = -1
	resChanged  = -2
)
