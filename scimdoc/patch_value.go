package scimdoc

import (
	"maps"
	"reflect"
	"slices"
	"strings"
)

// coerceScalar checks a value against a simple attribute's type. Booleans
// also accept the strings Entra sends ("True", "False").
func coerceScalar(a *Attr, v any) (any, *Error) {
	switch a.Type {
	case AttrBoolean:
		if b, ok := Bool(v); ok {
			return b, nil
		}
		return nil, Errorf(ScimTypeInvalidValue, "%q must be a boolean", a.Name)
	case AttrComplex:
		return coerceComplexValue(a, v)
	case AttrAny:
		return copyValue(v), nil
	default:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, Errorf(ScimTypeInvalidValue, "%q must be a string", a.Name)
	}
}

func isActive(a *Attr) bool {
	return a.Schema == UserSchemaURN && a.Name == "active"
}

func isManager(a *Attr) bool {
	return a.Schema == EnterpriseUserSchemaURN && a.Name == "manager"
}

func isMembers(a *Attr) bool {
	return a.Schema == GroupSchemaURN && a.Name == "members"
}

// coerceComplexValue canonicalises the sub-attribute names of an object
// value and checks their types. Null sub-values are kept as nil: merging
// treats them as "unassign". The manager also accepts Entra's bare id and
// the older one-element array.
func coerceComplexValue(a *Attr, v any) (map[string]any, *Error) {
	if isManager(a) {
		if l, ok := v.([]any); ok {
			if len(l) == 0 {
				return nil, Errorf(ScimTypeInvalidValue, "%q needs a value", a.Name)
			}
			v = l[0]
		}
		if s, ok := v.(string); ok {
			v = map[string]any{"value": s}
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(ScimTypeInvalidValue, "%q needs an object value", a.Name)
	}
	out := make(map[string]any, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		sub, ok := a.Sub(k)
		if !ok {
			return nil, Errorf(ScimTypeInvalidPath, "unknown sub-attribute %q of %q", k, a.Name)
		}
		if m[k] == nil {
			out[sub.Name] = nil
			continue
		}
		cv, err := coerceScalar(sub, m[k])
		if err != nil {
			return nil, err
		}
		out[sub.Name] = cv
	}
	return out, nil
}

// replacesWhole reports whether a complex value replaces the stored object
// instead of merging into it: a manager with a new value must not keep the
// old manager's $ref and displayName.
func replacesWhole(a *Attr, v map[string]any) bool {
	return isManager(a) && v["value"] != nil
}

// mergeInto copies src's sub-attributes into dst; nil unassigns.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			foldDelete(dst, k)
		} else {
			foldSet(dst, k, v)
		}
	}
}

// coerceList reads the value of add/replace on a multi-valued attribute:
// an array of objects, or a single object.
func coerceList(a *Attr, v any) ([]any, *Error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case []map[string]any:
		for _, m := range x {
			items = append(items, m)
		}
	case map[string]any:
		items = []any{x}
	default:
		return nil, Errorf(ScimTypeInvalidValue, "%q needs an array of objects", a.Name)
	}
	out := make([]any, 0, len(items))
	for _, it := range items {
		e, err := coerceEntry(a, it)
		if err != nil {
			return nil, err
		}
		if len(e) > 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

// coerceEntry reads one new entry of a multi-valued attribute, dropping
// null sub-attributes (Entra's "$ref": null).
func coerceEntry(a *Attr, v any) (map[string]any, *Error) {
	m, err := coerceComplexValue(a, v)
	if err != nil {
		return nil, err
	}
	maps.DeleteFunc(m, func(_ string, v any) bool { return v == nil })
	if err := checkEntry(a, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkEntry enforces that every group member names a user.
func checkEntry(a *Attr, m map[string]any) *Error {
	if !isMembers(a) {
		return nil
	}
	if s, ok := m["value"].(string); !ok || s == "" {
		return Errorf(ScimTypeInvalidValue, "every member needs a non-empty value")
	}
	return nil
}

// listOf reads a stored multi-valued attribute; anything else is empty.
func listOf(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []map[string]any:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = m
		}
		return out
	}
	return nil
}

// indexOfEntry returns the index in list of an entry equal to e: same
// value (compared as the value sub-attribute says) when both have one,
// otherwise deep-equal.
func indexOfEntry(a *Attr, list []any, e map[string]any) int {
	vs, _ := a.Sub("value")
	for i, x := range list {
		xm, ok := x.(map[string]any)
		if !ok {
			continue
		}
		xv, yv := foldGet(xm, "value"), foldGet(e, "value")
		if vs != nil && xv != nil && yv != nil {
			if valuesMatch(vs, xv, yv) {
				return i
			}
			continue
		}
		if equalValues(xm, e) {
			return i
		}
	}
	return -1
}

// dedupe drops later entries that repeat an earlier one (RFC 7643 §2.4:
// a multi-valued attribute SHOULD NOT hold two identical values): same
// value and same type, compared as the sub-attributes say, or deep-equal
// when the entries have no value. A dropped repeat that was primary makes
// the entry it repeats primary. It is the one rule for request bodies
// (Validate) and PATCH replace.
func dedupe(a *Attr, items []any) []any {
	out := make([]any, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			out = append(out, it)
			continue
		}
		i := slices.IndexFunc(out, func(x any) bool {
			xm, ok := x.(map[string]any)
			return ok && sameEntry(a, xm, m)
		})
		if i < 0 {
			out = append(out, it)
			continue
		}
		if isPrimary(m) && !isPrimary(out[i]) {
			kept := copyValue(out[i]).(map[string]any)
			foldSet(kept, "primary", true)
			out[i] = kept
		}
	}
	return out
}

// sameEntry reports whether two entries of a are the same value in the
// sense of RFC 7643 §2.4: equal value and equal type.
func sameEntry(a *Attr, x, y map[string]any) bool {
	xv, yv := foldGet(x, "value"), foldGet(y, "value")
	if xv == nil || yv == nil {
		return equalValues(x, y)
	}
	vs, _ := a.Sub("value")
	if !valuesMatch(vs, xv, yv) {
		return false
	}
	ts, _ := a.Sub("type")
	xt, yt := foldGet(x, "type"), foldGet(y, "type")
	if xt == nil || yt == nil {
		return xt == nil && yt == nil
	}
	return valuesMatch(ts, xt, yt)
}

func valuesMatch(sub *Attr, x, y any) bool {
	if sub != nil && sub.Type == AttrBoolean {
		bx, ok1 := Bool(x)
		by, ok2 := Bool(y)
		return ok1 && ok2 && bx == by
	}
	sx, ok1 := x.(string)
	sy, ok2 := y.(string)
	if ok1 && ok2 {
		if sub != nil && sub.CaseExact {
			return sx == sy
		}
		return strings.EqualFold(sx, sy)
	}
	return equalValues(x, y)
}

// removeEntries removes the entries of a multi-valued attribute that match
// one of the objects in value: Entra's legacy member removal
// {"op":"Remove","path":"members","value":[{"value":"X"}]} removes X only,
// never the whole list.
func removeEntries(cont map[string]any, a *Attr, value any) *Error {
	items, err := coerceList(a, value)
	if err != nil {
		return err
	}
	old, had := foldLookup(cont, a.Name)
	if !had || len(items) == 0 {
		return nil
	}
	list := listOf(old)
	kept := make([]any, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if ok && slices.ContainsFunc(items, func(p any) bool { return entryMatches(a, m, p.(map[string]any)) }) {
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) != len(list) {
		foldSet(cont, a.Name, kept)
	}
	return nil
}

// entryMatches reports whether entry matches pattern: by value when the
// pattern has one (Entra's {"$ref":…,"value":…}), otherwise by every
// sub-attribute of pattern.
func entryMatches(a *Attr, entry, pattern map[string]any) bool {
	if pv, ok := pattern["value"]; ok {
		sub, _ := a.Sub("value")
		ev, ok := foldLookup(entry, "value")
		return ok && valuesMatch(sub, ev, pv)
	}
	for k, pv := range pattern {
		ev, ok := foldLookup(entry, k)
		if !ok {
			return false
		}
		sub, _ := a.Sub(k)
		if !valuesMatch(sub, ev, pv) {
			return false
		}
	}
	return true
}

// lastPrimary returns the index of the last entry at or after from whose
// primary is true, or -1.
func lastPrimary(list []any, from int) int {
	for i := len(list) - 1; i >= from && i >= 0; i-- {
		if isPrimary(list[i]) {
			return i
		}
	}
	return -1
}

func isPrimary(e any) bool {
	m, ok := e.(map[string]any)
	if !ok {
		return false
	}
	b, ok := Bool(foldGet(m, "primary"))
	return ok && b
}

// enforcePrimary keeps primary true on the entry at winner only (RFC 7643
// §2.4: at most one primary). A negative winner changes nothing.
func enforcePrimary(list []any, winner int) {
	if winner < 0 {
		return
	}
	for i, e := range list {
		if i != winner && isPrimary(e) {
			foldSet(e.(map[string]any), "primary", false)
		}
	}
}

// copyValue deep-copies decoded JSON, keeping the Go types it finds.
func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = copyValue(e)
		}
		return s
	case []map[string]any:
		s := make([]map[string]any, len(x))
		for i, e := range x {
			s[i], _ = copyValue(e).(map[string]any)
		}
		return s
	}
	return v
}

// equalValues reports whether two decoded JSON values are equal, treating
// []any and []map[string]any alike and a nil map like an empty one.
func equalValues(x, y any) bool {
	switch a := x.(type) {
	case map[string]any:
		b, ok := y.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equalValues(av, bv) {
				return false
			}
		}
		return true
	case []any, []map[string]any:
		la, lb := listOf(x), listOf(y)
		if lb == nil && !isList(y) {
			return false
		}
		if len(la) != len(lb) {
			return false
		}
		for i := range la {
			if !equalValues(la[i], lb[i]) {
				return false
			}
		}
		return true
	}
	switch y.(type) {
	case map[string]any, []any, []map[string]any:
		return false
	}
	return reflect.DeepEqual(x, y)
}

func isList(v any) bool {
	switch v.(type) {
	case []any, []map[string]any:
		return true
	}
	return false
}
