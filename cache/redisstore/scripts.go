package redisstore

import "github.com/redis/go-redis/v9"

// The write scripts. Each declares every key it touches in KEYS (all under
// one hash tag) and validates everything before its first write, so a
// rejected call writes nothing. Results: 0 done, 1 id taken, 2 index value
// taken, -1 no record, -2 version changed (the caller retries).
//
// Index lists in KEYS come in groups whose sizes are passed in ARGV.

// createScript: KEYS = rec, seq, order, members, claim..., userGroups...;
// ARGV = id, json, #claim, #userGroups, member ids... (one per userGroups
// key, in the same order).
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local nc, nu = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 5, 4 + nc do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 2 end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[2])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
for i = 5, 4 + nc do redis.call('SET', KEYS[i], ARGV[1]) end
for j = 1, nu do
  redis.call('SADD', KEYS[4 + nc + j], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[4 + j])
end
return 0
`)

// updateScript: KEYS = rec, members, claim..., release..., removeFrom...,
// addTo...; ARGV = id, expected version, new version, json, #claim,
// #release, #remove, #add, removed member ids..., added member ids... (one
// per removeFrom / addTo key, in the same order). Removals run before
// additions, so an id in both ends up a member.
var updateScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[2] then return -2 end
local nc, nr, nm, na = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local i = 3
for j = i, i + nc - 1 do
  local owner = redis.call('GET', KEYS[j])
  if owner and owner ~= ARGV[1] then return 2 end
end
for j = i, i + nc - 1 do redis.call('SET', KEYS[j], ARGV[1]) end
i = i + nc
for j = i, i + nr - 1 do
  if redis.call('GET', KEYS[j]) == ARGV[1] then redis.call('DEL', KEYS[j]) end
end
i = i + nr
for j = 0, nm - 1 do
  redis.call('SREM', KEYS[i + j], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[9 + j])
end
for j = 0, na - 1 do
  redis.call('SADD', KEYS[i + nm + j], ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[9 + nm + j])
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4])
return 0
`)

// deleteScript: KEYS = rec, order, members, release..., removeFrom...;
// ARGV = id, expected version, #release, #remove.
var deleteScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[2] then return -2 end
local nr, nm = tonumber(ARGV[3]), tonumber(ARGV[4])
for j = 4, 3 + nr do
  if redis.call('GET', KEYS[j]) == ARGV[1] then redis.call('DEL', KEYS[j]) end
end
for j = 4 + nr, 3 + nr + nm do redis.call('SREM', KEYS[j], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[3])
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
