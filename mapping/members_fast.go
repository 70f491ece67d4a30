package mapping

import (
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// memberOnlyPatch applies a PATCH that only adds, removes or replaces group
// members (what Okta and Entra send on every membership push) directly on
// the member set, without materialising the group as a SCIM document: the
// general path copies and compares every member, which costs time in
// proportion to the group's size rather than to the change. It reports
// false when any operation is of another kind or not well formed; the
// caller then uses ApplyPatch, which also produces the right error.
func memberOnlyPatch(current []string, ops []PatchOp) ([]string, bool) {
	set := make(map[string]bool, len(current))
	for _, id := range current {
		set[id] = true
	}
	for _, op := range ops {
		if op.Path == nil || !isMembersPath(op.Path.AttributePath) || op.Path.SubAttribute != nil {
			return nil, false
		}
		switch strings.ToLower(op.Op) {
		case "add", "replace":
			if op.Path.ValueExpression != nil {
				return nil, false
			}
			replace := strings.EqualFold(op.Op, "replace")
			if replace {
				clear(set)
				if op.Value == nil {
					continue // replace with null unassigns every member
				}
			}
			ids, ok := patchMemberIDs(op.Value)
			if !ok {
				return nil, false
			}
			for _, id := range ids {
				set[id] = true
			}
		case "remove":
			switch {
			case op.Path.ValueExpression != nil:
				id, ok := valueEq(op.Path.ValueExpression)
				if !ok || op.Value != nil {
					return nil, false
				}
				delete(set, id)
			case op.Value == nil:
				clear(set)
			default:
				ids, ok := patchMemberIDs(op.Value)
				if !ok {
					return nil, false
				}
				for _, id := range ids {
					delete(set, id)
				}
			}
		default:
			return nil, false
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, true
}

func isMembersPath(p filter.AttributePath) bool {
	if p.SubAttribute != nil || !strings.EqualFold(p.AttributeName, "members") {
		return false
	}
	return p.URIPrefix == nil || strings.EqualFold(*p.URIPrefix, GroupSchemaURN)
}

// patchMemberIDs reads a member value: one {"value": id} object or an array
// of them (a "$ref", "display" or "type" beside value is allowed).
func patchMemberIDs(v any) ([]string, bool) {
	list := []any{}
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	default:
		return nil, false
	}
	ids := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		var id string
		for k, val := range m {
			switch strings.ToLower(k) {
			case "value":
				s, ok := val.(string)
				if !ok {
					return nil, false
				}
				id = strings.TrimSpace(s)
			case "$ref", "display", "type":
			default:
				return nil, false
			}
		}
		if id == "" {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// valueEq recognises the filter `value eq "id"`.
func valueEq(e filter.Expression) (string, bool) {
	x, ok := e.(*filter.AttributeExpression)
	if !ok || !strings.EqualFold(string(x.Operator), string(filter.EQ)) ||
		x.AttributePath.URIPrefix != nil || x.AttributePath.SubAttribute != nil ||
		!strings.EqualFold(x.AttributePath.AttributeName, "value") {
		return "", false
	}
	s, ok := x.CompareValue.(string)
	return s, ok
}
