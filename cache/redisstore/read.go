package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/jsonscan"
)

// fieldData and fieldVersion are the fields of a record hash.
const (
	fieldData    = "d"
	fieldVersion = "v"
)

func decode(data string) (cache.Record, error) {
	b := []byte(data)
	if rec, ok := decodeFast(b); ok {
		return rec, nil
	}
	var rec cache.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return cache.Record{}, fmt.Errorf("decode record: %w", err)
	}
	return rec, nil
}

// decodeFast decodes what encode writes in one pass over the document,
// without reflection: a record is read on every lookup. It reports false
// for anything it does not expect (decode then uses encoding/json, which
// also gives the error), so it never answers differently from it.
func decodeFast(b []byte) (cache.Record, bool) {
	if !json.Valid(b) {
		return cache.Record{}, false
	}
	var rec cache.Record
	ok := true
	str := func(val []byte) string {
		s, good := jsonscan.String(val)
		ok = ok && good
		return s
	}
	walked := jsonscan.EachMember(b, func(_ []byte, key string, val []byte) {
		switch key {
		case "kind":
			rec.Kind = cache.Kind(str(val))
		case "id":
			rec.ID = str(val)
		case "name":
			rec.Name = str(val)
		case "externalId":
			rec.ExternalID = str(val)
		case "resource":
			rec.Resource = json.RawMessage(val) // as encoding/json does, null included
		case "created":
			ok = ok && rec.Created.UnmarshalJSON(val) == nil
		case "modified":
			ok = ok && rec.Modified.UnmarshalJSON(val) == nil
		case "version":
			n, err := strconv.ParseInt(string(val), 10, 64)
			rec.Version, ok = n, ok && err == nil
		case "deprovisioned":
			rec.Deprovisioned, ok = string(val) == "true", ok && (string(val) == "true" || string(val) == "false")
		case "readopted":
			rec.Readopted, ok = string(val) == "true", ok && (string(val) == "true" || string(val) == "false")
		case "imported":
			rec.Imported, ok = string(val) == "true", ok && (string(val) == "true" || string(val) == "false")
		default: // members (not in encode's output) and anything unknown
			ok = false
		}
	})
	return rec, walked && ok
}

// encode returns the JSON kept in a record hash: the record without its
// members, which live in their own set.
func encode(rec cache.Record) ([]byte, error) {
	rec.Members = nil
	return json.Marshal(rec)
}

// withMembers decodes a record and sets its members, sorted.
func withMembers(data string, members []string) (cache.Record, error) {
	rec, err := decode(data)
	if err != nil {
		return cache.Record{}, err
	}
	if rec.Kind == cache.KindGroup && len(members) > 0 {
		slices.Sort(members)
		rec.Members = slices.Clip(members) // an append must not reach past it
	}
	return rec, nil
}

// notFound turns redis.Nil into cache.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, redis.Nil) {
		return cache.ErrNotFound
	}
	return err
}

// get reads a record and, if members is set and it is a group, its member
// set, atomically.
func (s *Store) get(ctx context.Context, kind cache.Kind, id string, members bool) (cache.Record, error) {
	if !members || kind != cache.KindGroup {
		data, err := s.client.HGet(ctx, s.keys.record(kind, id), fieldData).Result()
		if err != nil {
			return cache.Record{}, notFound(err)
		}
		return decode(data)
	}
	var data *redis.StringCmd
	var set *redis.StringSliceCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		data = p.HGet(ctx, s.keys.record(kind, id), fieldData)
		set = p.SMembers(ctx, s.keys.members(kind, id))
		return nil
	})
	if err != nil {
		return cache.Record{}, notFound(err)
	}
	return withMembers(data.Val(), set.Val())
}

// Get returns the record of kind with id, or cache.ErrNotFound.
func (s *Store) Get(ctx context.Context, kind cache.Kind, id string) (cache.Record, error) {
	rec, err := s.get(ctx, kind, id, true)
	if err != nil {
		return cache.Record{}, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	return rec, nil
}

// lookupScript reads an index entry and the record it names in one round
// trip (the record key shares the index key's hash slot) and, when asked,
// the group's members and the user's group ids as well. It answers false
// when either is missing, else {data, #members, members..., groups...}.
// KEYS[1] index; ARGV[1] record key prefix, ARGV[2] data field, ARGV[3]
// user→groups key prefix or "", ARGV[4] member set key prefix or "".
var lookupScript = redis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
local data = redis.call('HGET', ARGV[1] .. id, ARGV[2])
if not data then return false end
local out = {data, '0'}
if ARGV[4] ~= '' then
  local members = redis.call('SMEMBERS', ARGV[4] .. id)
  for _, m in ipairs(members) do table.insert(out, m) end
  out[2] = tostring(#members)
end
if ARGV[3] ~= '' then
  for _, g in ipairs(redis.call('SMEMBERS', ARGV[3] .. id)) do table.insert(out, g) end
end
return out
`)

// Lookup returns the record of kind whose name equals value, compared
// case-insensitively, or cache.ErrNotFound. Index entry and record are
// read atomically in one round trip. Other indexes are not unique: Find
// serves them.
func (s *Store) Lookup(ctx context.Context, kind cache.Kind, index cache.Index, value string) (cache.Record, error) {
	rec, _, err := s.lookup(ctx, kind, index, value, false)
	return rec, err
}

// LookupWithGroups is Lookup that also returns GroupsOf the found record
// (sorted), in the same round trip; it implements cache.LookupGrouper.
func (s *Store) LookupWithGroups(ctx context.Context, kind cache.Kind, index cache.Index, value string) (cache.Record, []string, error) {
	return s.lookup(ctx, kind, index, value, true)
}

func (s *Store) lookup(ctx context.Context, kind cache.Kind, index cache.Index, value string, withGroups bool) (cache.Record, []string, error) {
	if index != cache.IndexName {
		if index == cache.IndexExternalID {
			return cache.Record{}, nil, fmt.Errorf("lookup %s: index %q is not unique: use Find", kind, index)
		}
		return cache.Record{}, nil, fmt.Errorf("lookup %s: unknown index %q", kind, index)
	}
	key := s.keys.name(kind, value)
	// The record must still be filed under key: its name folded as the
	// index folds names (cache.IndexName: strings.ToLower).
	matches := func(r cache.Record) bool { return s.keys.name(kind, r.Name) == key }
	if key == "" {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, cache.ErrNotFound)
	}
	ugPrefix := ""
	if withGroups {
		ugPrefix = s.keys.userGroups("")
	}
	membersPrefix := ""
	if kind == cache.KindGroup {
		membersPrefix = s.keys.members(kind, "")
	}
	vals, err := s.lookups.run(ctx, key, s.keys.record(kind, ""), fieldData, ugPrefix, membersPrefix)
	if err != nil {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, notFound(err))
	}
	if len(vals) == 0 {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, cache.ErrNotFound)
	}
	n, err := strconv.Atoi(vals[1])
	if err != nil || n < 0 || 2+n > len(vals) {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: malformed script answer", kind, index)
	}
	rec, err := withMembers(vals[0], vals[2:2+n])
	if err != nil {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, err)
	}
	if !matches(rec) {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, cache.ErrNotFound)
	}
	groups := vals[2+n:]
	slices.Sort(groups)
	return rec, groups, nil
}

// findScript reads the records that carry one externalId, atomically, in
// one round trip: the ids in the shared index (in creation order) and the
// one a legacy key names, if any (a record an older version wrote and
// nothing has rewritten since). It answers, per record found, {id, seq,
// data, #members, members...}. KEYS[1] the shared index, KEYS[2] the
// legacy key, KEYS[3] the order; ARGV[1] record key prefix, ARGV[2] data
// field, ARGV[3] member set key prefix or "".
var findScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local legacy = redis.call('GET', KEYS[2])
if legacy then ids[#ids + 1] = legacy end
local out = {}
for _, id in ipairs(ids) do
  local data = redis.call('HGET', ARGV[1] .. id, ARGV[2])
  if data then
    out[#out + 1] = id
    out[#out + 1] = redis.call('ZSCORE', KEYS[3], id) or '0'
    out[#out + 1] = data
    if ARGV[3] ~= '' then
      local members = redis.call('SMEMBERS', ARGV[3] .. id)
      out[#out + 1] = tostring(#members)
      for _, m in ipairs(members) do out[#out + 1] = m end
    else
      out[#out + 1] = '0'
    end
  end
end
return out
`)

// Find returns the records of kind whose index value equals value, in
// creation order; empty if none. Index entries and records are read
// atomically in one round trip.
func (s *Store) Find(ctx context.Context, kind cache.Kind, index cache.Index, value string) ([]cache.Record, error) {
	switch index {
	case cache.IndexName:
		rec, err := s.Lookup(ctx, kind, index, value)
		if errors.Is(err, cache.ErrNotFound) {
			return []cache.Record{}, nil
		}
		if err != nil {
			return nil, err
		}
		return []cache.Record{rec}, nil
	case cache.IndexExternalID:
	default:
		return nil, fmt.Errorf("find %s: unknown index %q", kind, index)
	}
	if value == "" {
		return []cache.Record{}, nil
	}
	membersPrefix := ""
	if kind == cache.KindGroup {
		membersPrefix = s.keys.members(kind, "")
	}
	keys := []string{s.keys.extIDs(kind, value), s.keys.legacyExt(kind, value), s.keys.order(kind)}
	vals, err := findScript.Run(ctx, s.client, keys, s.keys.record(kind, ""), fieldData, membersPrefix).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("find %s %s: %w", kind, index, notFound(err))
	}
	var all []cache.Found[float64]
	seen := map[string]bool{}
	for i := 0; i < len(vals); {
		if i+4 > len(vals) {
			return nil, fmt.Errorf("find %s %s: malformed script answer", kind, index)
		}
		id, data := vals[i], vals[i+2]
		seq, err1 := strconv.ParseFloat(vals[i+1], 64)
		n, err2 := strconv.Atoi(vals[i+3])
		if err1 != nil || err2 != nil || n < 0 || i+4+n > len(vals) {
			return nil, fmt.Errorf("find %s %s: malformed script answer", kind, index)
		}
		members := vals[i+4 : i+4+n]
		i += 4 + n
		if seen[id] {
			continue // a legacy key that names a record the shared index has
		}
		seen[id] = true
		rec, err := withMembers(data, members)
		if err != nil {
			return nil, fmt.Errorf("find %s %s: record %s: %w", kind, index, id, err)
		}
		if rec.ExternalID != value {
			continue // a stale legacy key
		}
		all = append(all, cache.Found[float64]{Seq: seq, Rec: rec})
	}
	return cache.InFindOrder(all), nil
}

// List returns up to limit records of kind from offset in creation order,
// and the number of records of kind. The count and the page of ids are read
// atomically; a record deleted before its body is read is left out of the
// page.
func (s *Store) List(ctx context.Context, kind cache.Kind, offset, limit int) (cache.Page, error) {
	if offset < 0 || limit < 0 {
		return cache.Page{}, fmt.Errorf("list %s: negative offset %d or limit %d", kind, offset, limit)
	}
	order := s.keys.order(kind)
	var card *redis.IntCmd
	var rng *redis.StringSliceCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		card = p.ZCard(ctx, order)
		if limit > 0 {
			rng = p.ZRange(ctx, order, int64(offset), int64(offset+limit-1))
		}
		return nil
	})
	if err != nil {
		return cache.Page{}, fmt.Errorf("list %s: %w", kind, err)
	}
	page := cache.Page{Total: int(card.Val())}
	if rng == nil || len(rng.Val()) == 0 {
		return page, nil
	}
	ids := rng.Val()
	cmds := make([]*redis.StringCmd, len(ids))
	sets := make([]*redis.StringSliceCmd, len(ids))
	// One transaction, so that each record and its member set match.
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, s.keys.record(kind, id), fieldData)
			if kind == cache.KindGroup {
				sets[i] = p.SMembers(ctx, s.keys.members(kind, id))
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return cache.Page{}, fmt.Errorf("list %s: %w", kind, err)
	}
	page.Records = make([]cache.Record, 0, len(ids))
	for i, cmd := range cmds {
		data, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return cache.Page{}, fmt.Errorf("list %s: record %s: %w", kind, ids[i], err)
		}
		var members []string
		if sets[i] != nil {
			members = sets[i].Val()
		}
		rec, err := withMembers(data, members)
		if err != nil {
			return cache.Page{}, fmt.Errorf("list %s: record %s: %w", kind, ids[i], err)
		}
		page.Records = append(page.Records, rec)
	}
	return page, nil
}

// GroupsOf returns the sorted ids of the groups whose members include
// userID; empty if none.
func (s *Store) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	groups, err := s.client.SMembers(ctx, s.keys.userGroups(userID)).Result()
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", userID, err)
	}
	slices.Sort(groups)
	return groups, nil
}
