package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

// Query is a SCIM list request after the HTTP layer parsed it. Lists are
// answered from the store, never by scanning UiPath.
type Query struct {
	// IndexAttr and IndexValue, when set, name an equality the filter
	// requires on an indexed attribute ("id", "userName", "displayName",
	// "externalId"): only that record is a candidate.
	IndexAttr, IndexValue string
	// Match is the full filter; nil matches everything. It sees the
	// rendered resource plus id, externalId and meta.
	Match func(attrs map[string]any) bool
	// Sort, when set, orders the matches; nil keeps the store's stable
	// order (creation).
	Sort *Sort
	// Offset is 0-based; Count is the page size (0 = only the total).
	Offset, Count int
}

// Item is one listed resource.
type Item struct {
	Record cache.Record
	Attrs  map[string]any
}

// ListResult is a page of a list plus the number of matches.
type ListResult struct {
	Total int
	Items []Item
}

// scanPage is how many records a filtered scan reads per store call.
const scanPage = 500

// List answers a list request for users or groups.
func (p *Provisioner) List(ctx context.Context, kind cache.Kind, q Query) (ListResult, error) {
	if lg, ok := p.store.(cache.LookupGrouper); ok && kind == cache.KindUser && q.IndexAttr != "" && !strings.EqualFold(q.IndexAttr, "id") {
		// The lookup IdPs make on every sync: record and groups in one
		// store round trip.
		index := cache.IndexName
		if strings.EqualFold(q.IndexAttr, "externalId") {
			index = cache.IndexExternalID
		}
		rec, groups, err := lg.LookupWithGroups(ctx, kind, index, q.IndexValue)
		if errors.Is(err, cache.ErrNotFound) {
			return ListResult{Items: []Item{}}, nil
		}
		if err != nil {
			return ListResult{}, err
		}
		attrs, err := renderUser(rec, groups)
		if err != nil {
			return ListResult{}, err
		}
		if q.Match != nil && !safeMatch(q.Match, withCommon(attrs, rec)) {
			return ListResult{Items: []Item{}}, nil
		}
		res := ListResult{Total: 1, Items: []Item{}}
		if q.Offset == 0 && q.Count > 0 {
			res.Items = append(res.Items, Item{Record: rec, Attrs: attrs})
		}
		return res, nil
	}
	if q.IndexAttr != "" {
		rec, err := p.lookup(ctx, kind, q.IndexAttr, q.IndexValue)
		if errors.Is(err, cache.ErrNotFound) {
			return ListResult{Items: []Item{}}, nil
		}
		if err != nil {
			return ListResult{}, err
		}
		return p.filterRecords(ctx, []cache.Record{rec}, q)
	}
	if q.Sort != nil {
		return p.listSorted(ctx, kind, q)
	}
	if q.Match == nil {
		page, err := p.store.List(ctx, kind, q.Offset, q.Count)
		if err != nil {
			return ListResult{}, fmt.Errorf("list %ss: %w", kind, err)
		}
		res := ListResult{Total: page.Total, Items: make([]Item, 0, len(page.Records))}
		for _, rec := range page.Records {
			attrs, err := p.render(ctx, rec)
			if err != nil {
				return ListResult{}, err
			}
			res.Items = append(res.Items, Item{Record: rec, Attrs: attrs})
		}
		return res, nil
	}
	res := ListResult{Items: []Item{}}
	for offset := 0; ; offset += scanPage {
		if err := ctx.Err(); err != nil {
			return ListResult{}, err
		}
		page, err := p.store.List(ctx, kind, offset, scanPage)
		if err != nil {
			return ListResult{}, fmt.Errorf("list %ss: %w", kind, err)
		}
		part, err := p.filterRecords(ctx, page.Records, Query{Match: q.Match, Offset: q.Offset - res.Total, Count: q.Count - len(res.Items)})
		if err != nil {
			return ListResult{}, err
		}
		res.Total += part.Total
		res.Items = append(res.Items, part.Items...)
		if len(page.Records) < scanPage {
			return res, nil
		}
	}
}

// LookupUser answers an indexed user lookup ("userName" or "externalId")
// with the stored record and its group ids in one store round trip, for
// callers that write the stored document out without rendering it. ok is
// false when the store cannot do that in one trip; then use List.
func (p *Provisioner) LookupUser(ctx context.Context, attr, value string) (rec cache.Record, groups []string, found, ok bool, err error) {
	lg, can := p.store.(cache.LookupGrouper)
	if !can {
		return rec, nil, false, false, nil
	}
	index := cache.IndexName
	switch strings.ToLower(attr) {
	case "username":
	case "externalid":
		index = cache.IndexExternalID
	default:
		return rec, nil, false, false, nil
	}
	rec, groups, err = lg.LookupWithGroups(ctx, cache.KindUser, index, value)
	if errors.Is(err, cache.ErrNotFound) {
		return rec, nil, false, true, nil
	}
	return rec, groups, err == nil, err == nil, err
}

// filterRecords keeps the records that match, counts them, and renders the
// ones inside the page window.
func (p *Provisioner) filterRecords(ctx context.Context, recs []cache.Record, q Query) (ListResult, error) {
	res := ListResult{Items: []Item{}}
	for _, rec := range recs {
		attrs, err := p.render(ctx, rec)
		if err != nil {
			return ListResult{}, err
		}
		if q.Match != nil && !safeMatch(q.Match, withCommon(attrs, rec)) {
			continue
		}
		if res.Total >= q.Offset && len(res.Items) < q.Count {
			res.Items = append(res.Items, Item{Record: rec, Attrs: attrs})
		}
		res.Total++
	}
	return res, nil
}

// render is how a listed resource looks: like a single one, without the
// display of a user's groups (see renderUser).
func (p *Provisioner) render(ctx context.Context, rec cache.Record) (map[string]any, error) {
	if rec.Kind == cache.KindGroup {
		return p.RenderGroup(rec)
	}
	groups, err := p.store.GroupsOf(ctx, rec.ID)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", rec.ID, err)
	}
	return renderUser(rec, groups)
}

func (p *Provisioner) lookup(ctx context.Context, kind cache.Kind, attr, value string) (cache.Record, error) {
	switch strings.ToLower(attr) {
	case "id":
		return p.store.Get(ctx, kind, value)
	case "username", "displayname":
		return p.store.Lookup(ctx, kind, cache.IndexName, value)
	case "externalid":
		return p.store.Lookup(ctx, kind, cache.IndexExternalID, value)
	}
	return cache.Record{}, fmt.Errorf("mapping: %q is not an indexed attribute", attr)
}

// IndexedAttr reports whether an equality on attr can be answered from a
// store index for that kind.
func IndexedAttr(kind cache.Kind, attr string) bool {
	switch strings.ToLower(attr) {
	case "id", "externalid":
		return true
	case "username":
		return kind == cache.KindUser
	case "displayname":
		return kind == cache.KindGroup
	}
	return false
}

// withCommon adds the common attributes (id, externalId, meta) a filter
// may test.
func withCommon(attrs map[string]any, rec cache.Record) map[string]any {
	m := make(map[string]any, len(attrs)+3)
	for k, v := range attrs {
		m[k] = v
	}
	m["id"] = rec.ID
	if rec.ExternalID != "" {
		m["externalId"] = rec.ExternalID
	}
	m["meta"] = map[string]any{
		"created":      rec.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": rec.Modified.UTC().Format(time.RFC3339Nano),
		"version":      Version(rec),
	}
	return m
}

// safeMatch runs a filter, treating a panic in the evaluator (a stored value
// of an unexpected type) as "no match".
func safeMatch(match func(map[string]any) bool, attrs map[string]any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return match(attrs)
}
