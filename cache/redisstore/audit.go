package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

// The audit log is the stream {p}:audit. An entry's stream id is
// "<ms>-<seq>" with ms its Time in Unix milliseconds, raised to the last
// id's ms when that is later (stream ids only grow), so a time window is
// an XRANGE and retention is XTRIM MINID: Redis drops whole entries from
// the front, costing what it removes. Trimming is exact (no "~"), so that
// both stores keep the same entries; the head is all it touches.
//
// An id is never earlier than its entry's Time, and only later when an
// entry is appended after one with a later Time (replicas with skewed
// clocks, or a caller that set Time long before appending). AuditLog
// reads auditSlack past the window's end to find those, and filters and
// orders by Time.
func (k keys) audit() string { return k.p + "audit" }

// auditSlack is how much later than its Time an entry's stream id may be
// and still be found by a window that ends at that Time.
const auditSlack = time.Hour

// auditPage is how many stream entries AuditLog reads per round trip.
const auditPage = 1000

// appendAuditScript: KEYS = audit stream; ARGV = MINID cutoff (ms), then
// (ms, JSON entry) per entry.
var appendAuditScript = redis.NewScript(`
local lms, lseq = -1, 0
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then
  local id = last[1][1]
  local dash = string.find(id, '-', 1, true)
  lms = tonumber(string.sub(id, 1, dash - 1))
  lseq = tonumber(string.sub(id, dash + 1))
end
for i = 2, #ARGV, 2 do
  local ms, seq = tonumber(ARGV[i]), 0
  if ms <= lms then
    ms, seq = lms, lseq + 1
  end
  redis.call('XADD', KEYS[1], string.format('%d-%d', ms, seq), 'e', ARGV[i + 1])
  lms, lseq = ms, seq
end
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
return 0
`)

var _ cache.Audit = (*Store)(nil)

// AppendAudit adds entries to the stream and trims what is past the
// retention, in one script.
func (s *Store) AppendAudit(ctx context.Context, entries ...cache.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	entries = slices.Clone(entries) // Time is filled in below
	now := time.Now().UTC()
	var newest time.Time
	args := make([]any, 1, 1+2*len(entries))
	for i := range entries {
		if entries[i].Time.IsZero() {
			entries[i].Time = now
		}
		if entries[i].Time.After(newest) {
			newest = entries[i].Time
		}
		v, err := json.Marshal(entries[i])
		if err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		args = append(args, max(entries[i].Time.UnixMilli(), 0), v)
	}
	args[0] = max(newest.Add(-s.auditRetention).UnixMilli(), 0)
	if err := s.write(ctx, appendAuditScript, []string{s.keys.audit()}, args...).Err(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// AuditLog reads q's window from the stream, a page at a time: oldest
// first, or newest first when q has a Limit, so that it stops there.
func (s *Store) AuditLog(ctx context.Context, q cache.AuditQuery) ([]cache.AuditEntry, error) {
	lo, hi := "-", "+"
	if !q.Since.IsZero() {
		lo = strconv.FormatInt(max(q.Since.UnixMilli(), 0), 10)
	}
	if !q.Until.IsZero() {
		hi = strconv.FormatInt(max(q.Until.Add(auditSlack).UnixMilli(), 0), 10)
	}
	var out []cache.AuditEntry
	for {
		var msgs []redis.XMessage
		var err error
		if q.Limit > 0 {
			msgs, err = s.client.XRevRangeN(ctx, s.keys.audit(), hi, lo, auditPage).Result()
		} else {
			msgs, err = s.client.XRangeN(ctx, s.keys.audit(), lo, hi, auditPage).Result()
		}
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		for _, m := range msgs {
			raw, _ := m.Values["e"].(string)
			var e cache.AuditEntry
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				return nil, fmt.Errorf("audit log: entry %s: %w", m.ID, err)
			}
			if q.Matches(e) {
				out = append(out, e)
			}
		}
		if len(msgs) < auditPage || (q.Limit > 0 && len(out) >= q.Limit) {
			break
		}
		// The next page starts past the last id read ("(" = exclusive).
		if q.Limit > 0 {
			hi = "(" + msgs[len(msgs)-1].ID
		} else {
			lo = "(" + msgs[len(msgs)-1].ID
		}
	}
	return cache.SortAudit(out, q), nil
}
