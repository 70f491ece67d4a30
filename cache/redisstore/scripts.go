package redisstore

import "github.com/redis/go-redis/v9"

// The write scripts. Each declares every key it touches in KEYS (all under
// one hash tag) and validates everything before its first write, so a
// rejected call writes nothing. Results: 0 done, 1 id taken, 2 index value
// taken, -1 no record, -2 version changed (the caller retries).
//
// Index lists in KEYS come in groups whose sizes are passed in ARGV.

// createScript: KEYS = rec, seq, order, claim..., userGroups...;
// ARGV = id, json, #claim, #userGroups.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local nc, nu = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 4, 3 + nc do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 2 end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[2])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
for i = 4, 3 + nc do redis.call('SET', KEYS[i], ARGV[1]) end
for i = 4 + nc, 3 + nc + nu do redis.call('SADD', KEYS[i], ARGV[1]) end
return 0
`)

// updateScript: KEYS = rec, claim..., release..., addTo..., removeFrom...;
// ARGV = id, expected version, new version, json, #claim, #release, #add,
// #remove.
var updateScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[2] then return -2 end
local nc, nr, na, nm = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local i = 2
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
for j = i, i + na - 1 do redis.call('SADD', KEYS[j], ARGV[1]) end
i = i + na
for j = i, i + nm - 1 do redis.call('SREM', KEYS[j], ARGV[1]) end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4])
return 0
`)

// deleteScript: KEYS = rec, order, release..., removeFrom...;
// ARGV = id, expected version, #release, #remove.
var deleteScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[2] then return -2 end
local nr, nm = tonumber(ARGV[3]), tonumber(ARGV[4])
for j = 3, 2 + nr do
  if redis.call('GET', KEYS[j]) == ARGV[1] then redis.call('DEL', KEYS[j]) end
end
for j = 3 + nr, 2 + nr + nm do redis.call('SREM', KEYS[j], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
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
