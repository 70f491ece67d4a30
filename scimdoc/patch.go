package scimdoc

import (
	"fmt"
	"maps"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// Operation names (RFC 7644 §3.5.2), compared case-insensitively because
// Entra sends "Add", "Replace" and "Remove".
const (
	opAdd     = "add"
	opReplace = "replace"
	opRemove  = "remove"
)

// PatchOp is one PATCH operation after parsing. Path is nil when the
// request had no path. Value is the decoded JSON value (nil when absent or
// null).
type PatchOp struct {
	Op    string
	Path  *filter.Path
	Value any
}

// ParsePath parses a raw PATCH path such as `emails[type eq "work"].value`.
// It returns a *Error with ScimType "invalidPath" when raw is not a
// valid path.
func ParsePath(raw string) (*filter.Path, error) {
	if err := checkExpr("path", raw, MaxPathLength, ScimTypeInvalidPath); err != nil {
		return nil, err
	}
	if p, ok := parseSimplePath(raw); ok {
		return p, nil
	}
	p, err := filter.ParsePath([]byte(raw))
	if err != nil || p.AttributePath.AttributeName == "" {
		return nil, Errorf(ScimTypeInvalidPath, "cannot parse path %q", raw)
	}
	return &p, nil
}

// parseSimplePath parses the paths without a value filter that make up most
// PATCH traffic ("active", "name.givenName",
// "urn:…:enterprise:2.0:User:department") without the general parser, which
// costs ~100 µs a path; Entra's path-less replace parses one per key.
func parseSimplePath(raw string) (*filter.Path, bool) {
	if raw == "" || strings.ContainsAny(raw, "[] \t\"()") {
		return nil, false
	}
	var p filter.Path
	rest := raw
	if len(raw) > 4 && strings.EqualFold(raw[:4], "urn:") {
		i := strings.LastIndexByte(raw, ':')
		uri := raw[:i]
		p.AttributePath.URIPrefix = &uri
		rest = raw[i+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !simpleName(name) || (hasSub && !simpleName(sub)) {
		return nil, false
	}
	p.AttributePath.AttributeName = name
	if hasSub {
		p.AttributePath.SubAttribute = &sub
	}
	return &p, true
}

// simpleName reports whether s is an ATTRNAME of RFC 7644's grammar:
// ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA.
func simpleName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] == '$') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ApplyPatch applies ops in order to res (RFC 7644 §3.5.2) and reports
// whether the result differs from the input. The operations are atomic: on
// error res is left untouched and the error is a *Error (or, for an
// unknown kind, a plain error). Attribute names are matched
// case-insensitively and written with their canonical spelling.
//
// Beyond the RFC it accepts what Okta and Entra ID send: any case of op,
// "True"/"False" for booleans, path-less values whose keys are dotted or
// URN-prefixed paths, add on a value path that matches nothing (creates the
// entry), remove of members with a value (removes only those members), and
// the manager as a bare id or a one-element array.
func ApplyPatch(res map[string]any, ops []PatchOp, kind Kind) (changed bool, err error) {
	schemas := Schemas(kind)
	if schemas == nil {
		return false, fmt.Errorf("mapping: unknown resource kind %d", kind)
	}
	if len(ops) == 0 {
		return false, nil
	}
	if res == nil {
		return false, Errorf(ScimTypeInvalidValue, "no resource to patch")
	}
	work, _ := copyValue(res).(map[string]any)
	p := &patcher{kind: kind, core: schemas[0]}
	for i, op := range ops {
		if err := p.apply(work, op); err != nil {
			if len(ops) > 1 {
				err.Detail = fmt.Sprintf("operation %d: %s", i+1, err.Detail)
			}
			return false, err
		}
	}
	if equalValues(res, work) {
		return false, nil
	}
	clear(res)
	maps.Copy(res, work)
	return true, nil
}

// patcher applies operations for one resource kind.
type patcher struct {
	kind Kind
	core *Schema
}

// target is what a path addresses once resolved against the schema.
type target struct {
	attr   *Attr             // nil when a whole extension object is addressed
	ext    *Schema           // the extension addressed when attr is nil
	sub    *Attr             // sub-attribute, or nil
	filter filter.Expression // value filter on a multi-valued attr, or nil
}

func (p *patcher) apply(res map[string]any, op PatchOp) *Error {
	name := strings.ToLower(op.Op)
	switch name {
	case opAdd, opReplace, opRemove:
	default:
		return Errorf(ScimTypeInvalidSyntax, "unsupported op %q", op.Op)
	}
	if op.Path == nil {
		if name == opRemove {
			return Errorf(ScimTypeNoTarget, "remove needs a path")
		}
		m, ok := op.Value.(map[string]any)
		if !ok {
			return Errorf(ScimTypeInvalidValue, "%s without a path needs an object value", name)
		}
		return p.applyValueMap(res, name, nil, m)
	}
	t, err := p.resolve(op.Path, nil)
	if err != nil {
		return err
	}
	return p.applyTarget(res, name, t, op.Value)
}

// applyTarget applies op with value to a resolved target.
func (p *patcher) applyTarget(res map[string]any, op string, t target, value any) *Error {
	if t.attr != nil && isManager(t.attr) && t.sub == nil && t.filter == nil && value == "" {
		value = nil // an empty manager id unassigns the manager
	}
	if op != opRemove && value == nil {
		// RFC 7644 §3.5.2.3 and Entra's nulls: setting null unassigns.
		if t.attr != nil && t.attr.MultiValued && t.filter == nil && t.sub == nil {
			foldDelete(p.container(res, t.attr, false), t.attr.Name)
			return nil
		}
		op = opRemove
	}
	if op == opRemove && t.attr != nil && isActive(t.attr) {
		// Removing active would read as the default, true: a PATCH must
		// never re-enable an account by leaving its state out.
		return Errorf(ScimTypeInvalidValue, "active cannot be removed or set to null: send active false to deactivate the account, true to reactivate it")
	}
	if t.attr == nil {
		return p.applyExtension(res, op, t.ext, value)
	}
	a := t.attr
	switch {
	case t.filter != nil:
		return p.applyFiltered(res, op, t, value)
	case t.sub != nil && a.MultiValued:
		if op != opRemove {
			return Errorf(ScimTypeInvalidPath, "%s.%s needs a value filter", a.Name, t.sub.Name)
		}
		cont := p.container(res, a, false)
		for _, e := range listOf(foldGet(cont, a.Name)) {
			if m, ok := e.(map[string]any); ok {
				foldDelete(m, t.sub.Name)
			}
		}
		return nil
	case t.sub != nil:
		return p.applySub(res, op, a, t.sub, value)
	case op == opRemove:
		cont := p.container(res, a, false)
		if a.MultiValued && value != nil {
			return removeEntries(cont, a, value)
		}
		foldDelete(cont, a.Name)
		return nil
	case a.MultiValued:
		return p.applyList(res, op, a, value)
	case a.Type == AttrComplex:
		v, err := coerceComplexValue(a, value)
		if err != nil {
			return err
		}
		cont := p.container(res, a, true)
		old, _ := foldGet(cont, a.Name).(map[string]any)
		if old == nil || replacesWhole(a, v) {
			old = map[string]any{}
		}
		mergeInto(old, v)
		foldSet(cont, a.Name, old)
		return nil
	default:
		v, err := coerceScalar(a, value)
		if err != nil {
			return err
		}
		foldSet(p.container(res, a, true), a.Name, v)
		return nil
	}
}

// applySub sets or removes a sub-attribute of a single-valued complex
// attribute ("name.familyName"), creating the parent when needed.
func (p *patcher) applySub(res map[string]any, op string, a, sub *Attr, value any) *Error {
	if op == opRemove {
		if parent, ok := foldGet(p.container(res, a, false), a.Name).(map[string]any); ok {
			foldDelete(parent, sub.Name)
		}
		return nil
	}
	v, err := coerceScalar(sub, value)
	if err != nil {
		return err
	}
	cont := p.container(res, a, true)
	parent, _ := foldGet(cont, a.Name).(map[string]any)
	if parent == nil {
		parent = map[string]any{}
	}
	foldSet(parent, sub.Name, v)
	foldSet(cont, a.Name, parent)
	return nil
}

// applyList adds to or replaces a whole multi-valued attribute.
func (p *patcher) applyList(res map[string]any, op string, a *Attr, value any) *Error {
	items, err := coerceList(a, value)
	if err != nil {
		return err
	}
	cont := p.container(res, a, true)
	if op == opReplace {
		items = dedupe(a, items)
		enforcePrimary(items, lastPrimary(items, 0))
		foldSet(cont, a.Name, items)
		return nil
	}
	old, had := foldLookup(cont, a.Name)
	list := listOf(old)
	start := len(list)
	for _, it := range items {
		if indexOfEntry(a, list, it.(map[string]any)) < 0 {
			list = append(list, it)
		}
	}
	if !had && len(list) == 0 {
		return nil
	}
	enforcePrimary(list, lastPrimary(list, start))
	foldSet(cont, a.Name, list)
	return nil
}

// applyExtension adds to, replaces or removes a whole extension object
// (path "urn:…:enterprise:2.0:User" or the same key in a path-less value).
func (p *patcher) applyExtension(res map[string]any, op string, ext *Schema, value any) *Error {
	if op == opRemove {
		foldDelete(res, ext.URN)
		return nil
	}
	m, ok := value.(map[string]any)
	if !ok {
		return Errorf(ScimTypeInvalidValue, "%s needs an object value", ext.URN)
	}
	return p.applyValueMap(res, op, ext, m)
}

// container returns the map an attribute lives in: res for core attributes,
// the extension object for extension attributes. With create it makes a
// missing extension object; without, it may return nil, which the fold
// helpers treat as empty.
func (p *patcher) container(res map[string]any, a *Attr, create bool) map[string]any {
	if a.Schema == p.core.URN {
		return res
	}
	ext, ok := foldGet(res, a.Schema).(map[string]any)
	if !ok && create {
		ext = map[string]any{}
	}
	if ext != nil && create {
		foldSet(res, a.Schema, ext)
	}
	return ext
}
