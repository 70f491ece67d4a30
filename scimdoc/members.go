package scimdoc

import (
	"maps"
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
	return slices.Sorted(maps.Keys(set)), true
}

func isMembersPath(p filter.AttributePath) bool {
	if p.SubAttribute != nil || !strings.EqualFold(p.AttributeName, "members") {
		return false
	}
	return p.URIPrefix == nil || strings.EqualFold(*p.URIPrefix, GroupSchemaURN)
}

// patchMemberIDs reads a PATCH member value for the fast path: one member
// object or an array of them, each holding only value, $ref, display and
// type. Anything else (a bare string, another sub-attribute) is left to
// ApplyPatch, which accepts or refuses it by the schema.
func patchMemberIDs(v any) ([]string, bool) {
	var list []any
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
		for k := range m {
			switch strings.ToLower(k) {
			case "value", "$ref", "display", "type":
			default:
				return nil, false
			}
		}
		id, err := memberID(m)
		if err != nil {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// memberID is the user id a member entry names: the non-empty string value
// of a member object (RFC 7643 §4.2).
func memberID(e any) (string, *Error) {
	m, ok := e.(map[string]any)
	if !ok {
		return "", Errorf(ScimTypeInvalidValue, "every member must be an object with a value (the user's id)")
	}
	s, _ := foldGet(m, "value").(string)
	if s = strings.TrimSpace(s); s == "" {
		return "", Errorf(ScimTypeInvalidValue, "every member needs a non-empty value (the user's id)")
	}
	return s, nil
}

// MemberIDs reads a group's members attribute (an array of member objects,
// or null) into a sorted set of user ids. It is the one reading of member
// values: POST, PUT and PATCH all go through it.
func MemberIDs(v any) ([]string, error) {
	if v == nil {
		return []string{}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, Errorf(ScimTypeInvalidValue, "members must be an array")
	}
	set := make(map[string]bool, len(list))
	for _, e := range list {
		id, err := memberID(e)
		if err != nil {
			return nil, err
		}
		set[id] = true
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// MemberList renders member ids as the members attribute.
func MemberList(ids []string) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, map[string]any{"value": id})
	}
	return out
}

// PatchGroup applies PATCH operations to a group held as its attributes
// (doc, without members) and its member set, and returns the new
// attributes, the new sorted member set and whether either changed. doc
// and members are not modified. A PATCH that only touches members (what
// Okta and Entra send on every push) is applied to the member set
// directly, at a cost in proportion to the change rather than to the
// group; anything else goes through ApplyPatch. Both give the same result
// (TestMemberOnlyPatchMatchesApplyPatch).
func PatchGroup(doc map[string]any, members []string, ops []PatchOp) (map[string]any, []string, bool, error) {
	if next, ok := memberOnlyPatch(members, ops); ok {
		return doc, next, !slices.Equal(next, members), nil
	}
	work := maps.Clone(doc)
	if work == nil {
		work = map[string]any{}
	}
	foldDelete(work, "members")
	work["members"] = MemberList(members)
	changed, err := ApplyPatch(work, ops, KindGroup)
	if err != nil || !changed {
		return doc, members, false, err
	}
	next, err := MemberIDs(foldGet(work, "members"))
	if err != nil {
		return doc, members, false, err
	}
	foldDelete(work, "members")
	return work, next, true, nil
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
