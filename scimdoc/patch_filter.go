package scimdoc

import (
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// applyFiltered applies an operation on a value path such as
// `emails[type eq "work"].value` or `members[value eq "X"]` (RFC 7644
// §3.5.2). Add and replace that match nothing create the entry from the
// filter's eq comparisons (what Entra expects of
// `emails[type eq "work"].value`); remove that matches nothing is a no-op.
func (p *patcher) applyFiltered(res map[string]any, op string, t target, value any) *Error {
	a := t.attr
	cont := p.container(res, a, op != opRemove)
	list := slices.Clone(listOf(foldGet(cont, a.Name)))
	var matches []int
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && matchFilter(a, m, t.filter) {
			matches = append(matches, i)
		}
	}
	if op == opRemove {
		if len(matches) == 0 {
			return nil
		}
		if t.sub != nil {
			for _, i := range matches {
				foldDelete(list[i].(map[string]any), t.sub.Name)
			}
		} else {
			list = slices.DeleteFunc(list, func(e any) bool {
				m, ok := e.(map[string]any)
				return ok && matchFilter(a, m, t.filter)
			})
		}
		foldSet(cont, a.Name, list)
		return nil
	}

	var v any
	var err *Error
	if t.sub != nil {
		v, err = coerceScalar(t.sub, value)
	} else {
		v, err = coerceComplexValue(a, value)
	}
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		entry, ok := entryFromFilter(a, t.filter)
		if !ok {
			return Errorf(ScimTypeNoTarget, "no %q entry matches [%v] and none can be created from it", a.Name, t.filter)
		}
		setEntry(entry, t.sub, v)
		if err := checkEntry(a, entry); err != nil {
			return err
		}
		list = append(list, entry)
		matches = []int{len(list) - 1}
	} else {
		for _, i := range matches {
			entry := list[i].(map[string]any)
			if op == opReplace && t.sub == nil {
				// RFC 7644 §3.5.2.3: matching values are replaced; keep
				// what the filter pinned (e.g. type "work").
				entry, _ = entryFromFilter(a, t.filter)
				if entry == nil {
					entry = map[string]any{}
				}
				list[i] = entry
			}
			setEntry(entry, t.sub, v)
			if err := checkEntry(a, entry); err != nil {
				return err
			}
		}
	}
	winner := -1
	for _, i := range matches {
		if isPrimary(list[i]) {
			winner = i
		}
	}
	enforcePrimary(list, winner)
	foldSet(cont, a.Name, list)
	return nil
}

// setEntry sets sub to v in entry, or merges the object v when sub is nil.
func setEntry(entry map[string]any, sub *Attr, v any) {
	if sub != nil {
		foldSet(entry, sub.Name, v)
		return
	}
	m, _ := v.(map[string]any)
	mergeInto(entry, m)
}

// checkFilter validates a value filter once, so that evaluation cannot
// fail: only sub-attributes of a, known operators, and/or/not.
func checkFilter(a *Attr, e filter.Expression) *Error {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if x == nil {
			break
		}
		sub, err := filterAttr(a, x.AttributePath)
		if err != nil {
			return err
		}
		if !orderable(sub, x.Operator) {
			return Errorf(ScimTypeInvalidPath, "%s cannot compare %q, a %s", x.Operator, x.AttributePath.String(), sub.Type)
		}
		switch filter.CompareOperator(strings.ToLower(string(x.Operator))) {
		case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.PR,
			filter.GT, filter.GE, filter.LT, filter.LE:
			return nil
		}
		return Errorf(ScimTypeInvalidPath, "unsupported operator %q", x.Operator)
	case *filter.LogicalExpression:
		if x == nil {
			break
		}
		if !strings.EqualFold(string(x.Operator), string(filter.AND)) && !strings.EqualFold(string(x.Operator), string(filter.OR)) {
			return Errorf(ScimTypeInvalidPath, "unsupported logical operator %q", x.Operator)
		}
		if err := checkFilter(a, x.Left); err != nil {
			return err
		}
		return checkFilter(a, x.Right)
	case *filter.NotExpression:
		if x == nil {
			break
		}
		return checkFilter(a, x.Expression)
	}
	return Errorf(ScimTypeInvalidPath, "unsupported value filter on %q", a.Name)
}

// orderable reports whether op may compare values of a: gt, ge, lt and le
// have no meaning for booleans and binary values, and RFC 7644 §3.4.2.2
// makes them a 400 invalidFilter there.
func orderable(a *Attr, op filter.CompareOperator) bool {
	switch filter.CompareOperator(strings.ToLower(string(op))) {
	case filter.GT, filter.GE, filter.LT, filter.LE:
		return a.Type != AttrBoolean && a.Type != AttrBinary
	}
	return true
}

func filterAttr(a *Attr, ap filter.AttributePath) (*Attr, *Error) {
	if ap.URIPrefix != nil || ap.SubAttribute != nil {
		return nil, Errorf(ScimTypeInvalidPath, "unsupported attribute %q in value filter", ap.String())
	}
	sub, ok := a.Sub(ap.AttributeName)
	if !ok {
		return nil, Errorf(ScimTypeInvalidPath, "unknown sub-attribute %q of %q in value filter", ap.AttributeName, a.Name)
	}
	return sub, nil
}

// matchFilter evaluates a filter checked by checkFilter against one entry.
// Attribute names are case-insensitive; strings compare case-insensitively
// unless the sub-attribute is caseExact.
func matchFilter(a *Attr, entry map[string]any, e filter.Expression) bool {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		sub, err := filterAttr(a, x.AttributePath)
		if err != nil {
			return false
		}
		have, _ := foldLookup(entry, sub.Name)
		return compareValues(sub, have, filter.CompareOperator(strings.ToLower(string(x.Operator))), x.CompareValue)
	case *filter.LogicalExpression:
		if strings.EqualFold(string(x.Operator), string(filter.AND)) {
			return matchFilter(a, entry, x.Left) && matchFilter(a, entry, x.Right)
		}
		return matchFilter(a, entry, x.Left) || matchFilter(a, entry, x.Right)
	case *filter.NotExpression:
		return !matchFilter(a, entry, x.Expression)
	}
	return false
}

func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// compareValues applies one comparison (RFC 7644 §3.4.2.2).
func compareValues(sub *Attr, have any, op filter.CompareOperator, want any) bool {
	if op == filter.PR {
		return present(have)
	}
	if want == nil {
		switch op {
		case filter.EQ:
			return !present(have)
		case filter.NE:
			return present(have)
		}
		return false
	}
	_, haveBool := have.(bool)
	if sub.Type == AttrBoolean || (sub.Type == AttrAny && haveBool) {
		hb, ok1 := Bool(have)
		wb, ok2 := Bool(want)
		switch {
		case !ok1 || !ok2:
			return op == filter.NE
		case op == filter.EQ:
			return hb == wb
		case op == filter.NE:
			return hb != wb
		}
		return false
	}
	hs, ok1 := have.(string)
	ws, ok2 := want.(string)
	if !ok1 || !ok2 {
		hf, ok1 := number(have)
		wf, ok2 := number(want)
		if !ok1 || !ok2 {
			return op == filter.NE
		}
		return compareOrdered(op, hf, wf)
	}
	if !sub.CaseExact {
		hs, ws = strings.ToLower(hs), strings.ToLower(ws)
	}
	switch op {
	case filter.CO:
		return strings.Contains(hs, ws)
	case filter.SW:
		return strings.HasPrefix(hs, ws)
	case filter.EW:
		return strings.HasSuffix(hs, ws)
	}
	return compareOrdered(op, hs, ws)
}

func compareOrdered[T string | float64](op filter.CompareOperator, h, w T) bool {
	switch op {
	case filter.EQ:
		return h == w
	case filter.NE:
		return h != w
	case filter.GT:
		return h > w
	case filter.GE:
		return h >= w
	case filter.LT:
		return h < w
	case filter.LE:
		return h <= w
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// entryFromFilter builds the entry a filter of eq comparisons joined by and
// describes: `type eq "work"` gives {"type": "work"}. It reports false for
// any other filter.
func entryFromFilter(a *Attr, e filter.Expression) (map[string]any, bool) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if x == nil || !strings.EqualFold(string(x.Operator), string(filter.EQ)) || x.CompareValue == nil {
			return nil, false
		}
		sub, err := filterAttr(a, x.AttributePath)
		if err != nil {
			return nil, false
		}
		v, perr := coerceScalar(sub, x.CompareValue)
		if perr != nil {
			return nil, false
		}
		return map[string]any{sub.Name: v}, true
	case *filter.LogicalExpression:
		if x == nil || !strings.EqualFold(string(x.Operator), string(filter.AND)) {
			return nil, false
		}
		l, ok := entryFromFilter(a, x.Left)
		if !ok {
			return nil, false
		}
		r, ok := entryFromFilter(a, x.Right)
		if !ok {
			return nil, false
		}
		for k, v := range r {
			if lv, ok := l[k]; ok && !equalValues(lv, v) {
				return nil, false
			}
			l[k] = v
		}
		return l, true
	}
	return nil, false
}
