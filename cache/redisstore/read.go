package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

// fieldData and fieldVersion are the fields of a record hash.
const (
	fieldData    = "d"
	fieldVersion = "v"
)

func decode(data string) (cache.Record, error) {
	var rec cache.Record
	if err := json.Unmarshal([]byte(data), &rec); err != nil {
		return cache.Record{}, fmt.Errorf("decode record: %w", err)
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

func (s *Store) get(ctx context.Context, kind cache.Kind, id string) (cache.Record, error) {
	data, err := s.client.HGet(ctx, s.keys.record(kind, id), fieldData).Result()
	if err != nil {
		return cache.Record{}, notFound(err)
	}
	return decode(data)
}

// Get returns the record of kind with id, or cache.ErrNotFound.
func (s *Store) Get(ctx context.Context, kind cache.Kind, id string) (cache.Record, error) {
	rec, err := s.get(ctx, kind, id)
	if err != nil {
		return cache.Record{}, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	return rec, nil
}

// lookupScript reads an index entry and the record it names in one round
// trip (the record key shares the index key's hash slot), and, when asked,
// the user's group ids as well. It answers false when either is missing.
// KEYS[1] index; ARGV[1] record key prefix, ARGV[2] data field, ARGV[3]
// user→groups key prefix or "".
var lookupScript = redis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
local data = redis.call('HGET', ARGV[1] .. id, ARGV[2])
if not data then return false end
local out = {data}
if ARGV[3] ~= '' then
  for _, g in ipairs(redis.call('SMEMBERS', ARGV[3] .. id)) do table.insert(out, g) end
end
return out
`)

// Lookup returns the record of kind whose index value equals value (the name
// compared case-insensitively), or cache.ErrNotFound. Index entry and record
// are read atomically in one round trip.
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
	var key string
	var matches func(cache.Record) bool
	switch index {
	case cache.IndexName:
		key = s.keys.name(kind, value)
		matches = func(r cache.Record) bool { return strings.ToLower(r.Name) == strings.ToLower(value) }
	case cache.IndexExternalID:
		key = s.keys.ext(kind, value)
		matches = func(r cache.Record) bool { return r.ExternalID == value }
	default:
		return cache.Record{}, nil, fmt.Errorf("lookup %s: unknown index %q", kind, index)
	}
	if key == "" {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, cache.ErrNotFound)
	}
	ugPrefix := ""
	if withGroups {
		ugPrefix = s.keys.userGroups("")
	}
	vals, err := lookupScript.Run(ctx, s.client, []string{key}, s.keys.record(kind, ""), fieldData, ugPrefix).StringSlice()
	if err != nil {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, notFound(err))
	}
	if len(vals) == 0 {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, cache.ErrNotFound)
	}
	rec, err := decode(vals[0])
	if err != nil {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, err)
	}
	if !matches(rec) {
		return cache.Record{}, nil, fmt.Errorf("lookup %s %s: %w", kind, index, cache.ErrNotFound)
	}
	groups := vals[1:]
	slices.Sort(groups)
	return rec, groups, nil
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
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, s.keys.record(kind, id), fieldData)
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
		rec, err := decode(data)
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
