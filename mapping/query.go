package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// scanPage is how many records a filtered or sorted scan reads per store
// call.
const scanPage = 500

// list answers a list request from the store; it never scans UiPath.
func (p *Provisioner) list(ctx context.Context, kind cache.Kind, req ListRequest) (ListResult, error) {
	source := func(each func([]Item) error) error { return p.scan(ctx, kind, each) }
	if req.Filter != nil {
		if attr, value := req.Filter.IndexHint(); attr != "" {
			// An equality on an indexed attribute narrows the candidates
			// to the few records the store's indexes name: the lookup IdPs
			// make on every sync. They are then filtered, sorted and paged
			// as a scan's would be.
			items, err := p.lookup(ctx, kind, attr, value)
			if err != nil {
				return ListResult{}, err
			}
			if req.Sort == nil {
				return p.filterItems(items, req, req.Filter.IndexOnly())
			}
			source = func(each func([]Item) error) error { return each(items) }
		}
	}
	if req.Sort != nil {
		return p.listSorted(req, source)
	}
	if req.Filter == nil {
		page, err := p.store.List(ctx, kind, req.Offset, req.Count)
		if err != nil {
			return ListResult{}, fmt.Errorf("list %ss: %w", kind, err)
		}
		items, err := p.listItems(ctx, page.Records)
		return ListResult{Total: page.Total, Items: items}, err
	}
	res := ListResult{Items: []Item{}}
	err := p.scan(ctx, kind, func(items []Item) error {
		part, err := p.filterItems(items, ListRequest{Filter: req.Filter, Offset: req.Offset - res.Total, Count: req.Count - len(res.Items)}, false)
		res.Total += part.Total
		res.Items = append(res.Items, part.Items...)
		return err
	})
	if err != nil {
		return ListResult{}, err
	}
	return res, nil
}

// scan reads every record of a kind, a store page at a time, and hands
// each page to each as list items.
func (p *Provisioner) scan(ctx context.Context, kind cache.Kind, each func([]Item) error) error {
	for offset := 0; ; offset += scanPage {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := p.store.List(ctx, kind, offset, scanPage)
		if err != nil {
			return fmt.Errorf("list %ss: %w", kind, err)
		}
		items, err := p.listItems(ctx, page.Records)
		if err != nil {
			return err
		}
		if err := each(items); err != nil {
			return err
		}
		if len(page.Records) < scanPage {
			return nil
		}
	}
}

// lookup finds the records an indexed equality names: by "id",
// "userName" or "displayName" (unique: at most one), by "externalId"
// (shared: every record that carries it, in the store's order), or for
// groups by scimdoc.HintMemberValue (the groups whose members hold the
// value, by the store's user → group index, in id order). Users come with
// their groups; a store that can (cache.LookupGrouper) answers a userName
// lookup's record and groups in one round trip.
func (p *Provisioner) lookup(ctx context.Context, kind cache.Kind, attr, value string) ([]Item, error) {
	var recs []cache.Record
	switch strings.ToLower(attr) {
	case "id":
		rec, err := p.store.Get(ctx, kind, value)
		if errors.Is(err, cache.ErrNotFound) {
			return []Item{}, nil
		}
		if err != nil {
			return nil, err
		}
		recs = []cache.Record{rec}
	case "username", "displayname":
		if lg, ok := p.store.(cache.LookupGrouper); ok && kind == cache.KindUser {
			rec, groups, err := lg.LookupWithGroups(ctx, kind, cache.IndexName, value)
			if errors.Is(err, cache.ErrNotFound) {
				return []Item{}, nil
			}
			if err != nil {
				return nil, err
			}
			return []Item{itemOf(rec, groupRefs(groups))}, nil
		}
		rec, err := p.store.Lookup(ctx, kind, cache.IndexName, value)
		if errors.Is(err, cache.ErrNotFound) {
			return []Item{}, nil
		}
		if err != nil {
			return nil, err
		}
		recs = []cache.Record{rec}
	case "externalid":
		var err error
		if recs, err = p.store.Find(ctx, kind, cache.IndexExternalID, value); err != nil {
			return nil, err
		}
	case scimdoc.HintMemberValue:
		ids, err := p.store.GroupsOf(ctx, value)
		if err != nil {
			return nil, fmt.Errorf("groups of %s: %w", value, err)
		}
		for _, id := range ids {
			rec, err := p.store.Get(ctx, cache.KindGroup, id)
			if errors.Is(err, cache.ErrNotFound) {
				continue // deleted since
			}
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		}
	default:
		return nil, fmt.Errorf("mapping: %q is not an indexed attribute", attr)
	}
	return p.listItems(ctx, recs)
}

// listItems makes items of records as a list shows them: a user's groups
// without display.
func (p *Provisioner) listItems(ctx context.Context, recs []cache.Record) ([]Item, error) {
	items := make([]Item, 0, len(recs))
	for _, rec := range recs {
		var groups []string
		if rec.Kind == cache.KindUser {
			var err error
			if groups, err = p.store.GroupsOf(ctx, rec.ID); err != nil {
				return nil, fmt.Errorf("groups of %s: %w", rec.ID, err)
			}
		}
		items = append(items, itemOf(rec, groupRefs(groups)))
	}
	return items, nil
}

// matches reports whether an item satisfies the request's filter. A filter
// that is only the index equality the item was found by matches without
// being evaluated (the item's document is not even decoded).
func matches(it Item, f *scimdoc.Filter, indexed bool) (bool, error) {
	if f == nil || (indexed && f.IndexOnly()) {
		return true, nil
	}
	attrs, err := it.Attrs()
	if err != nil {
		return false, err
	}
	return f.Match(it.WithCommon(attrs)), nil
}

// filterItems keeps the items that match, counts them, and returns the ones
// inside the page window. indexed says the items are exactly what the
// filter's index equality found (see matches).
func (p *Provisioner) filterItems(items []Item, req ListRequest, indexed bool) (ListResult, error) {
	res := ListResult{Items: []Item{}}
	for _, it := range items {
		ok, err := matches(it, req.Filter, indexed)
		if err != nil {
			return ListResult{}, err
		}
		if !ok {
			continue
		}
		if res.Total >= req.Offset && len(res.Items) < req.Count {
			res.Items = append(res.Items, it)
		}
		res.Total++
	}
	return res, nil
}

// listSorted reads the candidates source yields (every record of a kind,
// or those an index named), keeps the matches and returns the requested
// window in sort order (RFC 7644 §3.4.2.3).
func (p *Provisioner) listSorted(req ListRequest, source func(each func([]Item) error) error) (ListResult, error) {
	type row struct {
		item  Item
		key   any
		has   bool
		order int
	}
	var rows []row
	err := source(func(items []Item) error {
		for _, it := range items {
			attrs, err := it.Attrs()
			if err != nil {
				return err
			}
			full := it.WithCommon(attrs)
			if req.Filter != nil && !req.Filter.Match(full) {
				continue
			}
			k, has := req.Sort.Key(full)
			rows = append(rows, row{item: it, key: k, has: has, order: len(rows)})
		}
		return nil
	})
	if err != nil {
		return ListResult{}, err
	}
	desc := req.Sort.Descending()
	slices.SortStableFunc(rows, func(a, b row) int {
		if a.has != b.has {
			// Missing values last when ascending, first when descending.
			if a.has == !desc {
				return -1
			}
			return 1
		}
		c := 0
		if a.has {
			c = req.Sort.Compare(a.key, b.key)
		}
		if desc {
			c = -c
		}
		if c == 0 {
			return a.order - b.order
		}
		return c
	})
	res := ListResult{Total: len(rows), Items: []Item{}}
	for i := req.Offset; i < len(rows) && len(res.Items) < req.Count; i++ {
		res.Items = append(res.Items, rows[i].item)
	}
	return res, nil
}
