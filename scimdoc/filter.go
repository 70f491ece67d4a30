package scimdoc

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"
)

// Filter is a compiled SCIM filter (RFC 7644 §3.4.2.2), evaluated over the
// resources the store keeps. Attribute names are case-insensitive; string
// comparisons honour each attribute's caseExact; dateTime attributes
// (meta.created, meta.lastModified) compare as instants.
type Filter struct {
	kind Kind
	expr filter.Expression
}

func invalidFilter(format string, args ...any) error {
	return Errorf(ScimTypeInvalidFilter, format, args...)
}

// CompileFilter parses and checks a filter for a resource kind. Unknown
// attributes and operators are invalidFilter errors.
func CompileFilter(kind Kind, raw string) (*Filter, error) {
	if err := checkExpr("filter", raw, MaxFilterLength, ScimTypeInvalidFilter); err != nil {
		return nil, err
	}
	expr, ok := parseSimpleEq(raw)
	if !ok {
		var err error
		if expr, err = filter.ParseFilter([]byte(raw)); err != nil {
			return nil, invalidFilter("the filter %q is not valid SCIM filter syntax", raw)
		}
	}
	f := &Filter{kind: kind, expr: expr}
	if err := f.check(expr); err != nil {
		return nil, err
	}
	return f, nil
}

// simpleEq matches the filter IdPs send on every sync, `attr eq "value"`
// (attr a plain name, optionally with one sub-attribute), so that hot lookup
// skips the general parser, which costs most of a lookup's CPU.
var simpleEq = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)?)\s+(?i:eq)\s+("(?:[^"\\]|\\.)*")\s*$`)

func parseSimpleEq(raw string) (filter.Expression, bool) {
	m := simpleEq.FindStringSubmatch(raw)
	if m == nil {
		return nil, false
	}
	var value string
	if err := json.Unmarshal([]byte(m[2]), &value); err != nil {
		return nil, false
	}
	name, sub, hasSub := strings.Cut(m[1], ".")
	ap := filter.AttributePath{AttributeName: name}
	if hasSub {
		ap.SubAttribute = &sub
	}
	return &filter.AttributeExpression{AttributePath: ap, Operator: filter.EQ, CompareValue: value}, true
}

// resolved is an attribute path resolved against the schema.
type resolved struct {
	attr      *Attr
	sub       *Attr  // sub-attribute, if the path names one
	extension string // URN of the extension holding attr, or ""
}

// leaf is the attribute whose values a comparison sees.
func (r resolved) leaf() *Attr {
	if r.sub != nil {
		return r.sub
	}
	// A complex attribute compared as a whole means its value
	// sub-attribute: emails co "x", or Entra's manager eq "id".
	if r.attr.Type == AttrComplex {
		if v, ok := r.attr.Sub("value"); ok {
			return v
		}
	}
	return r.attr
}

func (f *Filter) resolve(p filter.AttributePath) (resolved, error) {
	var r resolved
	name := p.AttributeName
	switch {
	case p.URIPrefix != nil:
		s, ok := schemaFor(f.kind, *p.URIPrefix)
		if !ok {
			return r, invalidFilter("unknown schema %q in filter", *p.URIPrefix)
		}
		a, ok := s.Attr(name)
		if !ok {
			return r, invalidFilter("unknown attribute %q in filter", p.String())
		}
		r.attr = a
		if s.Extension {
			r.extension = s.URN
		}
	default:
		a, ok := LookupAttr(f.kind, name)
		if !ok {
			return r, invalidFilter("unknown attribute %q in filter", p.String())
		}
		r.attr = a
		for _, s := range Schemas(f.kind) {
			if _, core := s.Attr(name); core && !s.Extension {
				break
			}
			if _, ext := s.Attr(name); ext && s.Extension {
				r.extension = s.URN
				break
			}
		}
	}
	if p.SubAttribute != nil {
		sub, ok := r.attr.Sub(*p.SubAttribute)
		if !ok {
			return r, invalidFilter("unknown sub-attribute %q in filter", p.String())
		}
		r.sub = sub
	}
	return r, nil
}

func (f *Filter) check(e filter.Expression) error {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		r, err := f.resolve(x.AttributePath)
		if err != nil {
			return err
		}
		switch filter.CompareOperator(strings.ToLower(string(x.Operator))) {
		case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.PR, filter.GT, filter.GE, filter.LT, filter.LE:
		default:
			return invalidFilter("unsupported operator %q", x.Operator)
		}
		if r.leaf().Type == AttrComplex && r.sub == nil {
			return invalidFilter("%q is complex: compare one of its sub-attributes", x.AttributePath.String())
		}
		if !orderable(r.leaf(), x.Operator) {
			return invalidFilter("%s cannot compare %q, a %s", x.Operator, x.AttributePath.String(), r.leaf().Type)
		}
		return nil
	case *filter.ValuePath:
		r, err := f.resolve(x.AttributePath)
		if err != nil {
			return err
		}
		if r.attr.Type != AttrComplex || r.sub != nil {
			return invalidFilter("%q does not take a value filter", x.AttributePath.String())
		}
		if perr := checkFilter(r.attr, x.ValueFilter); perr != nil {
			return invalidFilter("%s", perr.Detail)
		}
		return nil
	case *filter.LogicalExpression:
		if err := f.check(x.Left); err != nil {
			return err
		}
		return f.check(x.Right)
	case *filter.NotExpression:
		return f.check(x.Expression)
	}
	return invalidFilter("unsupported filter expression")
}

// Match reports whether a resource (its SCIM attributes plus id,
// externalId and meta) satisfies the filter.
func (f *Filter) Match(res map[string]any) bool {
	return f.eval(f.expr, res)
}

func (f *Filter) eval(e filter.Expression, res map[string]any) bool {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		r, err := f.resolve(x.AttributePath)
		if err != nil {
			return false
		}
		op := filter.CompareOperator(strings.ToLower(string(x.Operator)))
		values := r.values(res)
		if op == filter.PR {
			for _, v := range values {
				if present(v) {
					return true
				}
			}
			return false
		}
		if len(values) == 0 {
			values = []any{nil}
		}
		for _, v := range values {
			if compareLeaf(r.leaf(), v, op, x.CompareValue) {
				return true
			}
		}
		return false
	case *filter.ValuePath:
		r, err := f.resolve(x.AttributePath)
		if err != nil {
			return false
		}
		for _, entry := range r.entries(res) {
			if matchFilter(r.attr, entry, x.ValueFilter) {
				return true
			}
		}
		return false
	case *filter.LogicalExpression:
		if strings.EqualFold(string(x.Operator), string(filter.AND)) {
			return f.eval(x.Left, res) && f.eval(x.Right, res)
		}
		return f.eval(x.Left, res) || f.eval(x.Right, res)
	case *filter.NotExpression:
		return !f.eval(x.Expression, res)
	}
	return false
}

func (r resolved) container(res map[string]any) map[string]any {
	if r.extension == "" {
		return res
	}
	m, _ := foldGet(res, r.extension).(map[string]any)
	return m
}

// entries returns the objects of a complex attribute (one for a
// single-valued one).
func (r resolved) entries(res map[string]any) []map[string]any {
	v := foldGet(r.container(res), r.attr.Name)
	var out []map[string]any
	if r.attr.MultiValued {
		for _, e := range listOf(v) {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
	} else if m, ok := v.(map[string]any); ok {
		out = append(out, m)
	}
	return out
}

// values returns every value the path designates (several for a
// multi-valued attribute).
func (r resolved) values(res map[string]any) []any {
	if r.attr.Type == AttrComplex {
		leaf := r.leaf()
		var out []any
		for _, e := range r.entries(res) {
			if v, ok := foldLookup(e, leaf.Name); ok {
				out = append(out, v)
			}
		}
		return out
	}
	v, ok := foldLookup(r.container(res), r.attr.Name)
	if !ok {
		return nil
	}
	if r.attr.MultiValued {
		return listOf(v)
	}
	return []any{v}
}

// compareLeaf compares one value, handling dateTime attributes as instants.
func compareLeaf(a *Attr, have any, op filter.CompareOperator, want any) bool {
	if a.Type == AttrDateTime {
		hs, ok1 := have.(string)
		ws, ok2 := want.(string)
		if ok1 && ok2 {
			ht, err1 := time.Parse(time.RFC3339Nano, hs)
			wt, err2 := time.Parse(time.RFC3339Nano, ws)
			if err1 == nil && err2 == nil {
				c := ht.Compare(wt)
				switch op {
				case filter.EQ:
					return c == 0
				case filter.NE:
					return c != 0
				case filter.GT:
					return c > 0
				case filter.GE:
					return c >= 0
				case filter.LT:
					return c < 0
				case filter.LE:
					return c <= 0
				}
			}
		}
	}
	return compareValues(a, have, op, want)
}

// IndexOnly reports whether the filter is nothing but the IndexHint
// equality on a plain attribute, so a record found through the index
// matches without evaluating it. A members.value hint is narrowed by the
// membership index, and its candidates are still evaluated.
func (f *Filter) IndexOnly() bool {
	_, isAttr := f.expr.(*filter.AttributeExpression)
	attr, _ := f.hint(f.expr)
	return isAttr && attr != "" && attr != HintMemberValue
}

// HintMemberValue is the IndexHint of a group filter on a member's value,
// `members[value eq "id"]` or `members.value eq "id"`: the groups the user
// (or group) with that id belongs to.
const HintMemberValue = "members.value"

// IndexHint returns an equality on an indexed attribute ("id", "userName",
// "displayName", "externalId", or for groups HintMemberValue) that every
// match must satisfy, so the store's indexes can narrow the candidates;
// empty when there is none.
func (f *Filter) IndexHint() (attr, value string) {
	return f.hint(f.expr)
}

func (f *Filter) hint(e filter.Expression) (string, string) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if !strings.EqualFold(string(x.Operator), string(filter.EQ)) {
			return "", ""
		}
		if uri := x.AttributePath.URIPrefix; uri != nil {
			if s, ok := SchemaByURN(f.kind, *uri); !ok || s.Extension {
				return "", ""
			}
		}
		val, ok := x.CompareValue.(string)
		name := strings.ToLower(x.AttributePath.AttributeName)
		if sub := x.AttributePath.SubAttribute; sub != nil {
			if ok && f.kind == KindGroup && name == "members" && strings.EqualFold(*sub, "value") {
				return HintMemberValue, val
			}
			return "", ""
		}
		indexed := name == "id" || name == "externalid" ||
			(name == "username" && f.kind == KindUser) || (name == "displayname" && f.kind == KindGroup)
		if !ok || !indexed {
			return "", ""
		}
		return x.AttributePath.AttributeName, val
	case *filter.ValuePath:
		// members[value eq "id"], possibly and-ed with more.
		if f.kind != KindGroup || !strings.EqualFold(x.AttributePath.AttributeName, "members") ||
			x.AttributePath.SubAttribute != nil || x.AttributePath.URIPrefix != nil {
			return "", ""
		}
		return memberValueHint(x.ValueFilter)
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(x.Operator), string(filter.AND)) {
			return "", ""
		}
		if a, v := f.hint(x.Left); a != "" {
			return a, v
		}
		return f.hint(x.Right)
	}
	return "", ""
}

// memberValueHint finds `value eq "id"` that every match of a members
// value filter must satisfy.
func memberValueHint(e filter.Expression) (string, string) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		val, ok := x.CompareValue.(string)
		if ok && strings.EqualFold(string(x.Operator), string(filter.EQ)) && x.AttributePath.SubAttribute == nil &&
			strings.EqualFold(x.AttributePath.AttributeName, "value") {
			return HintMemberValue, val
		}
	case *filter.LogicalExpression:
		if strings.EqualFold(string(x.Operator), string(filter.AND)) {
			if a, v := memberValueHint(x.Left); a != "" {
				return a, v
			}
			return memberValueHint(x.Right)
		}
	}
	return "", ""
}
