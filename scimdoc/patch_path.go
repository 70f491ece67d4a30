package scimdoc

import (
	"maps"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// ignoredValueKeys are keys of a path-less value map that are skipped: Okta
// sends the group's id in a rename, and meta and schemas are server-owned.
var ignoredValueKeys = []string{"id", "meta", "schemas"}

// resolve maps a parsed path onto the schema. scope, when set, is the
// extension whose object a value map belongs to; names are then looked up in
// it alone.
func (p *patcher) resolve(path *filter.Path, scope *Schema) (target, *Error) {
	if path == nil {
		return target{}, Errorf(ScimTypeInvalidPath, "empty path")
	}
	ap := path.AttributePath
	name, attrSub := ap.AttributeName, ap.SubAttribute
	if ap.URIPrefix != nil {
		if scope != nil {
			return target{}, Errorf(ScimTypeInvalidPath, "%q inside %s", path.String(), scope.URN)
		}
		uri := *ap.URIPrefix
		if s, ok := SchemaByURN(p.kind, uri); ok {
			scope = s
		} else if s, ok := wholeSchema(p.kind, uri+":"+name); ok {
			// The parser splits "urn:…:User" into prefix and the name
			// "User"; "urn:…:User.department" is Entra's pre-2019 form.
			if path.ValueExpression != nil || path.SubAttribute != nil {
				return target{}, Errorf(ScimTypeInvalidPath, "unsupported path %q", path.String())
			}
			if attrSub == nil {
				if !s.Extension {
					return target{}, Errorf(ScimTypeInvalidPath, "cannot address the core schema %s", s.URN)
				}
				return target{ext: s}, nil
			}
			scope, name, attrSub = s, *attrSub, nil
		} else if s, ok := customSchema(p.kind, uri); ok {
			// Entra's custom attribute: "urn:…:acme:2.0:User:costCenter".
			scope = s
		} else {
			return target{}, Errorf(ScimTypeInvalidPath, "unknown schema in path %q", path.String())
		}
	}
	var a *Attr
	var ok bool
	if scope != nil {
		a, ok = scope.Attr(name)
	} else {
		a, ok = LookupAttr(p.kind, name)
	}
	if !ok {
		return target{}, Errorf(ScimTypeInvalidPath, "unknown attribute %q on %s", name, p.kind)
	}
	if a.Mutability == MutabilityReadOnly {
		return target{}, Errorf(ScimTypeMutability, "attribute %q is read-only", a.Name)
	}
	if attrSub != nil && path.ValueExpression != nil {
		return target{}, Errorf(ScimTypeInvalidPath, "unsupported path %q", path.String())
	}
	t := target{attr: a, filter: path.ValueExpression}
	if attrSub == nil {
		attrSub = path.SubAttribute
	}
	if attrSub != nil {
		if a.Type != AttrComplex {
			return target{}, Errorf(ScimTypeInvalidPath, "attribute %q has no sub-attributes", a.Name)
		}
		sub, ok := a.Sub(*attrSub)
		if !ok {
			return target{}, Errorf(ScimTypeInvalidPath, "unknown sub-attribute %q of %q", *attrSub, a.Name)
		}
		t.sub = sub
	}
	if t.filter != nil {
		if !a.MultiValued {
			return target{}, Errorf(ScimTypeInvalidPath, "value filter on single-valued attribute %q", a.Name)
		}
		if err := checkFilter(a, t.filter); err != nil {
			return target{}, err
		}
	}
	return t, nil
}

// wholeSchema returns the schema a whole URN names: the core schema, one of
// the bridge's extensions or a custom extension (extensionSchema).
func wholeSchema(kind Kind, urn string) (*Schema, bool) {
	if s, ok := SchemaByURN(kind, urn); ok {
		return s, true
	}
	return extensionSchema(kind, urn)
}

// applyValueMap applies a path-less add or replace (RFC 7644 §3.5.2.1,
// §3.5.2.3). Each key is itself a path: a plain or dotted name, a
// URN-prefixed name, or an extension URN mapping to an object. A null value
// unassigns the key. Keys are applied in sorted order, so "name" comes
// before "name.givenName".
func (p *patcher) applyValueMap(res map[string]any, op string, scope *Schema, m map[string]any) *Error {
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		v := m[k]
		if scope == nil {
			if slices.ContainsFunc(ignoredValueKeys, func(s string) bool { return strings.EqualFold(s, k) }) {
				continue
			}
			if s, ok := wholeSchema(p.kind, k); ok {
				if !s.Extension {
					// {"urn:…:core:2.0:User": {...}}: the same keys, unprefixed.
					inner, ok := v.(map[string]any)
					if !ok {
						return Errorf(ScimTypeInvalidValue, "%s needs an object value", s.URN)
					}
					if err := p.applyValueMap(res, op, nil, inner); err != nil {
						return err
					}
					continue
				}
				if err := p.applyTarget(res, op, target{ext: s}, v); err != nil {
					return err
				}
				continue
			}
		}
		path, err := ParsePath(k)
		if err != nil {
			return Errorf(ScimTypeInvalidPath, "cannot parse attribute name %q", k)
		}
		if path.ValueExpression != nil {
			return Errorf(ScimTypeInvalidPath, "value filter in attribute name %q", k)
		}
		t, perr := p.resolve(path, scope)
		if perr != nil {
			return perr
		}
		if err := p.applyTarget(res, op, t, v); err != nil {
			return err
		}
	}
	return nil
}

// foldLookup finds name in m case-insensitively, preferring an exact match.
func foldLookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func foldGet(m map[string]any, name string) any {
	v, _ := foldLookup(m, name)
	return v
}

// foldSet stores v under the canonical name, dropping other spellings.
func foldSet(m map[string]any, name string, v any) {
	for k := range m {
		if k != name && strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
	m[name] = v
}

func foldDelete(m map[string]any, name string) {
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}
