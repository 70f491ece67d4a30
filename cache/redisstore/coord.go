package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

var _ cache.Locker = (*Store)(nil)

// takeScript is a sliding-log rate budget shared by every replica: it
// counts the calls of the last window (Redis' own clock, so replicas' clocks
// do not matter) and admits one more if there is room for the caller's
// class, else answers the milliseconds until there is: until the window
// holds room-1 calls, i.e. until the entry n-room (0 = oldest) leaves it. A
// priority call has room up to the limit, any other call only up to the
// limit less the reserve; with priority calls in the reserve, that entry is
// not necessarily the oldest. Both limits come in, so the choice and the
// count are one atomic step.
// KEYS[1] log; ARGV[1] limit, ARGV[2] limit for a call that is not
// priority, ARGV[3] "1" for a priority call, ARGV[4] window ms, ARGV[5]
// unique member.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[4])
local room = tonumber(ARGV[2])
if ARGV[3] == '1' then room = tonumber(ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < room then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
local leaving = redis.call('ZRANGE', KEYS[1], n - room, n - room, 'WITHSCORES')
local wait = tonumber(leaving[2]) + window - now + 1
if wait < 1 then wait = 1 end
return wait
`)

// Budget is an upstream rate budget kept in Redis, so that every replica
// sharing the Redis paces its UiPath calls together. It implements
// upstream.Budget.
type Budget struct {
	s      *Store
	limits map[string]int
	window time.Duration

	mu       sync.RWMutex
	reserved map[string]int // per method, calls only priority calls may use
}

// Budget returns a budget allowing limits[method] calls per window (plus
// pad) across every process that uses this Redis and prefix, with no
// reserve. Methods without a limit are not paced.
func (s *Store) Budget(limits map[string]int, window, pad time.Duration) *Budget {
	l := make(map[string]int, len(limits))
	for m, n := range limits {
		l[strings.ToUpper(m)] = n
	}
	return &Budget{s: s, limits: l, window: window + pad}
}

// WithReserved keeps reserved[method] of each method's calls for priority
// calls: a call that is not priority is admitted only while the window
// holds fewer than limit-reserved calls of its method, a priority call
// while it holds fewer than limit. The counts are upstream.ReservedCalls'
// (the rule is stated there once); a count that is not positive, or that
// would leave other calls no room (limit-reserved < 1), means no reserve for
// that method. Replicas sharing the budget should keep the same reserve. It
// replaces any earlier reserve and returns b.
func (b *Budget) WithReserved(reserved map[string]int) *Budget {
	r := make(map[string]int, len(reserved))
	for m, n := range reserved {
		m = strings.ToUpper(m)
		if limit := b.limits[m]; n > 0 && limit-n >= 1 {
			r[m] = n
		}
	}
	b.mu.Lock()
	b.reserved = r
	b.mu.Unlock()
	return b
}

// TryTake takes one call of method, or returns how long until there may be
// room for a call of its class (taking nothing). It implements
// upstream.Budget.
func (b *Budget) TryTake(ctx context.Context, method string, priority bool) (time.Duration, error) {
	method = strings.ToUpper(method)
	limit, ok := b.limits[method]
	if !ok || limit <= 0 {
		return 0, nil
	}
	b.mu.RLock()
	room := limit - b.reserved[method]
	b.mu.RUnlock()
	prio := 0
	if priority {
		prio = 1
	}
	ms, err := takeScript.Run(ctx, b.s.client, []string{b.s.keys.p + "budget:" + method},
		limit, room, prio, b.window.Milliseconds(), randomToken()).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisstore: budget: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// usageScript counts, for each log in KEYS, the calls of the last window
// (ARGV[1] ms) by Redis' own clock, as takeScript does, without taking or
// trimming anything.
var usageScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local from = '(' .. (now - tonumber(ARGV[1]))
local out = {}
for i, k in ipairs(KEYS) do
  out[i] = redis.call('ZCOUNT', k, from, '+inf')
end
return out
`)

// BudgetUse is one limited method's share of the shared budget's current
// window. (It has the fields of upstream.BudgetUse; this package does not
// import upstream.)
type BudgetUse struct {
	// Used is the calls of the method in the window now, by every replica,
	// priority ones included.
	Used int
	// Limit is the calls the window may hold; Reserved is the part of it
	// only priority calls may use.
	Limit, Reserved int
}

// Usage returns, for every method with a limit (upper case), the calls
// every replica made in the window now, the limit and the reserve. It
// takes nothing, so a process that only reports (status) may call it
// beside the replicas that send.
func (b *Budget) Usage(ctx context.Context) (map[string]BudgetUse, error) {
	var methods, keys []string
	for m, limit := range b.limits {
		if limit > 0 {
			methods = append(methods, m)
			keys = append(keys, b.s.keys.p+"budget:"+m)
		}
	}
	out := make(map[string]BudgetUse, len(methods))
	if len(methods) == 0 {
		return out, nil
	}
	counts, err := usageScript.Run(ctx, b.s.client, keys, b.window.Milliseconds()).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: budget usage: %w", err)
	}
	if len(counts) != len(methods) {
		return nil, fmt.Errorf("redisstore: budget usage: %d counts for %d methods", len(counts), len(methods))
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for i, m := range methods {
		out[m] = BudgetUse{Used: int(counts[i]), Limit: b.limits[m], Reserved: b.reserved[m]}
	}
	return out, nil
}

// unlockScript deletes a lock only if this holder still owns it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// extendScript renews a lock only if this holder still owns it.
var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

// Lock takes an exclusive lock on key across every process sharing this
// Redis, waiting until it is free or ctx ends. The lock lives ttl and is
// renewed every ttl/3 while held, so a crashed holder frees it after at
// most ttl. The returned function releases it.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	k := s.keys.p + "lock:" + key
	token := randomToken()
	delay := 2 * time.Millisecond
	for {
		ok, err := s.client.SetNX(ctx, k, token, ttl).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: lock %s: %w", key, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("redisstore: lock %s: %w", key, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				rctx, cancel := context.WithTimeout(context.Background(), ttl/3)
				err := extendScript.Run(rctx, s.client, []string{k}, token, ttl.Milliseconds()).Err()
				cancel()
				if err != nil && !errors.Is(err, redis.Nil) {
					s.logger.Warn("lock renewal failed", "lock", key, "error", err)
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := unlockScript.Run(rctx, s.client, []string{k}, token).Err(); err != nil && !errors.Is(err, redis.Nil) {
				s.logger.Warn("lock release failed; it expires by itself", "lock", key, "error", err)
			}
		})
	}, nil
}

func randomToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
