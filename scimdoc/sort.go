package scimdoc

import (
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"
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
func CompileSort(kind Kind, sortBy, sortOrder string) (*Sort, error) {
	if err := checkExpr("sortBy", sortBy, MaxPathLength, ScimTypeInvalidValue); err != nil {
		return nil, err
	}
	ap, err := filter.ParseAttrPath([]byte(strings.TrimSpace(sortBy)))
	if err != nil {
		return nil, Errorf(ScimTypeInvalidValue, "sortBy %q is not an attribute path", sortBy)
	}
	r, err := (&Filter{kind: kind}).resolve(ap)
	if err != nil {
		return nil, Errorf(ScimTypeInvalidValue, "sortBy %q names no attribute of this resource", sortBy)
	}
	if r.leaf().Type == AttrComplex {
		return nil, Errorf(ScimTypeInvalidValue, "sortBy %q is complex: name one of its sub-attributes", sortBy)
	}
	s := &Sort{r: r}
	switch strings.ToLower(strings.TrimSpace(sortOrder)) {
	case "", "ascending":
	case "descending":
		s.desc = true
	default:
		return nil, Errorf(ScimTypeInvalidValue, "sortOrder must be ascending or descending, got %q", sortOrder)
	}
	return s, nil
}

// Key is the value a resource sorts by: its primary (else first) value,
// and whether it has one.
func (s *Sort) Key(res map[string]any) (any, bool) {
	if s.r.attr.MultiValued && s.r.attr.Type == AttrComplex {
		entries := s.r.entries(res)
		for _, e := range entries {
			if b, _ := Bool(foldGet(e, "primary")); b {
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

// Descending reports whether the order is descending.
func (s *Sort) Descending() bool { return s.desc }

// Compare orders two keys returned by Key, ascending.
func (s *Sort) Compare(a, b any) int {
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
