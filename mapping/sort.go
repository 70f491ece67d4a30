package mapping

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scim-bridge/scim-bridge/cache"
)

// Sort orders list results by one attribute (RFC 7644 §3.4.2.3). Resources
// without a value sort last when ascending and first when descending; ties
// keep the store's stable order.
type Sort struct {
	r    resolved
	desc bool
}

// CompileSort checks sortBy and sortOrder ("ascending", the default, or
// "descending") for a resource kind.
func CompileSort(kind ResourceKind, sortBy, sortOrder string) (*Sort, error) {
	ap, err := filter.ParseAttrPath([]byte(strings.TrimSpace(sortBy)))
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, ScimType: ScimTypeInvalidValue, Detail: fmt.Sprintf("sortBy %q is not an attribute path", sortBy)}
	}
	r, err := (&Filter{kind: kind}).resolve(ap)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, ScimType: ScimTypeInvalidValue, Detail: fmt.Sprintf("sortBy %q names no attribute of this resource", sortBy)}
	}
	if r.leaf().Type == AttrComplex {
		return nil, &Error{Status: http.StatusBadRequest, ScimType: ScimTypeInvalidValue, Detail: fmt.Sprintf("sortBy %q is complex: name one of its sub-attributes", sortBy)}
	}
	s := &Sort{r: r}
	switch strings.ToLower(strings.TrimSpace(sortOrder)) {
	case "", "ascending":
	case "descending":
		s.desc = true
	default:
		return nil, &Error{Status: http.StatusBadRequest, ScimType: ScimTypeInvalidValue, Detail: fmt.Sprintf("sortOrder must be ascending or descending, got %q", sortOrder)}
	}
	return s, nil
}

// key is the value a resource sorts by: its primary (else first) value.
func (s *Sort) key(res map[string]any) (any, bool) {
	if s.r.attr.MultiValued && s.r.attr.Type == AttrComplex {
		entries := s.r.entries(res)
		for _, e := range entries {
			if b, _ := asBool(foldGet(e, "primary")); b {
				if v, ok := foldLookup(e, s.r.leaf().Name); ok && present(v) {
					return v, true
				}
			}
		}
	}
	for _, v := range s.r.values(res) {
		if present(v) {
			return v, true
		}
	}
	return nil, false
}

func (s *Sort) compare(a, b any) int {
	leaf := s.r.leaf()
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		if leaf.Type == AttrDateTime {
			tx, err1 := time.Parse(time.RFC3339Nano, x)
			ty, err2 := time.Parse(time.RFC3339Nano, y)
			if err1 == nil && err2 == nil {
				return tx.Compare(ty)
			}
		}
		if !leaf.CaseExact {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		return strings.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	fx, _ := number(a)
	fy, _ := number(b)
	switch {
	case fx < fy:
		return -1
	case fx > fy:
		return 1
	}
	return 0
}

// listSorted scans every record of a kind, keeps the matches and returns the
// requested window in sort order.
func (p *Provisioner) listSorted(ctx context.Context, kind cache.Kind, q Query) (ListResult, error) {
	type row struct {
		item  Item
		key   any
		has   bool
		order int
	}
	var rows []row
	for offset := 0; ; offset += scanPage {
		if err := ctx.Err(); err != nil {
			return ListResult{}, err
		}
		page, err := p.store.List(ctx, kind, offset, scanPage)
		if err != nil {
			return ListResult{}, fmt.Errorf("list %ss: %w", kind, err)
		}
		for _, rec := range page.Records {
			attrs, err := p.render(ctx, rec)
			if err != nil {
				return ListResult{}, err
			}
			full := withCommon(attrs, rec)
			if q.Match != nil && !safeMatch(q.Match, full) {
				continue
			}
			k, has := q.Sort.key(full)
			rows = append(rows, row{item: Item{Record: rec, Attrs: attrs}, key: k, has: has, order: len(rows)})
		}
		if len(page.Records) < scanPage {
			break
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		if a.has != b.has {
			// Missing values last when ascending, first when descending.
			if a.has == !q.Sort.desc {
				return -1
			}
			return 1
		}
		c := 0
		if a.has {
			c = q.Sort.compare(a.key, b.key)
		}
		if q.Sort.desc {
			c = -c
		}
		if c == 0 {
			return a.order - b.order
		}
		return c
	})
	res := ListResult{Total: len(rows), Items: []Item{}}
	for i := q.Offset; i < len(rows) && len(res.Items) < q.Count; i++ {
		res.Items = append(res.Items, rows[i].item)
	}
	return res, nil
}
