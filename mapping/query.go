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
	if req.Filter != nil {
		if attr, value := req.Filter.IndexHint(); attr != "" {
			// An equality on an indexed attribute narrows the candidates to
			// one record: the lookup IdPs make on every sync.
			it, found, err := p.lookup(ctx, kind, attr, value)
			if err != nil || !found {
				return ListResult{Items: []Item{}}, err
			}
			return p.filterItems([]Item{it}, req)
		}
	}
	if req.Sort != nil {
		return p.listSorted(ctx, kind, req)
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
		part, err := p.filterItems(items, ListRequest{Filter: req.Filter, Offset: req.Offset - res.Total, Count: req.Count - len(res.Items)})
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

// lookup finds the one record an indexed equality names ("id",
// "userName", "displayName", "externalId"), with a user's groups. A store
// that can (cache.LookupGrouper) answers record and groups in one round
// trip.
func (p *Provisioner) lookup(ctx context.Context, kind cache.Kind, attr, value string) (Item, bool, error) {
	var rec cache.Record
	var err error
	var index cache.Index
	switch strings.ToLower(attr) {
	case "id":
		rec, err = p.store.Get(ctx, kind, value)
	case "username", "displayname":
		index = cache.IndexName
	case "externalid":
		index = cache.IndexExternalID
	default:
		return Item{}, false, fmt.Errorf("mapping: %q is not an indexed attribute", attr)
	}
	if index != "" {
		if lg, ok := p.store.(cache.LookupGrouper); ok && kind == cache.KindUser {
			rec, groups, err := lg.LookupWithGroups(ctx, kind, index, value)
			if errors.Is(err, cache.ErrNotFound) {
				return Item{}, false, nil
			}
			if err != nil {
				return Item{}, false, err
			}
			return itemOf(rec, groupRefs(groups)), true, nil
		}
		rec, err = p.store.Lookup(ctx, kind, index, value)
	}
	if errors.Is(err, cache.ErrNotFound) {
		return Item{}, false, nil
	}
	if err != nil {
		return Item{}, false, err
	}
	items, err := p.listItems(ctx, []cache.Record{rec})
	if err != nil {
		return Item{}, false, err
	}
	return items[0], true, nil
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
// inside the page window.
func (p *Provisioner) filterItems(items []Item, req ListRequest) (ListResult, error) {
	res := ListResult{Items: []Item{}}
	indexed := len(items) == 1 && req.Filter != nil && req.Filter.IndexOnly()
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

// listSorted scans every record of a kind, keeps the matches and returns
// the requested window in sort order (RFC 7644 §3.4.2.3).
func (p *Provisioner) listSorted(ctx context.Context, kind cache.Kind, req ListRequest) (ListResult, error) {
	type row struct {
		item  Item
		key   any
		has   bool
		order int
	}
	var rows []row
	err := p.scan(ctx, kind, func(items []Item) error {
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
