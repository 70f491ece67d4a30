package scimdoc

import "strings"

// Projection applies attributes / excludedAttributes (RFC 7644 §3.4.2.5)
// to a rendered resource. id and schemas are always returned. The zero
// value returns resources whole.
type Projection struct {
	kind             Kind
	include, exclude []string
}

// NewProjection returns the projection of a kind's resources that
// attributes and excludedAttributes (each a list of attribute paths) ask for.
func NewProjection(kind Kind, attributes, excludedAttributes []string) Projection {
	return Projection{kind: kind, include: attributes, exclude: excludedAttributes}
}

// Whole reports whether the projection returns resources whole.
func (p Projection) Whole() bool { return len(p.include) == 0 && len(p.exclude) == 0 }

// Apply returns res as the projection shows it; res is not modified.
func (p Projection) Apply(res map[string]any) map[string]any {
	if len(p.include) == 0 && len(p.exclude) == 0 {
		return res
	}
	if len(p.include) > 0 {
		out := map[string]any{"id": res["id"], "schemas": res["schemas"]}
		for _, a := range p.include {
			ext, top, sub := p.splitAttr(a)
			src, dst := res, out
			if ext != "" {
				e, _ := lookupFold(res, ext)
				em, ok := e.(map[string]any)
				if !ok {
					continue
				}
				if top == "" { // the whole extension
					out[ext] = em
					continue
				}
				d, _ := out[ext].(map[string]any)
				if d == nil {
					d = map[string]any{}
					out[ext] = d
				}
				src, dst = em, d
			}
			selectAttr(dst, src, top, sub)
		}
		return out
	}
	out := make(map[string]any, len(res))
	for k, v := range res {
		out[k] = v
	}
	for _, a := range p.exclude {
		ext, top, sub := p.splitAttr(a)
		if strings.EqualFold(top, "id") || strings.EqualFold(top, "schemas") {
			continue
		}
		if ext == "" {
			excludeAttr(out, top, sub)
			continue
		}
		for k, v := range out {
			em, ok := v.(map[string]any)
			if !ok || !strings.EqualFold(k, ext) {
				continue
			}
			if top == "" {
				delete(out, k)
				continue
			}
			cp := make(map[string]any, len(em))
			for ek, ev := range em {
				cp[ek] = ev
			}
			excludeAttr(cp, top, sub)
			out[k] = cp
		}
	}
	return out
}

func lookupFold(m map[string]any, name string) (any, string) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, k
		}
	}
	return nil, ""
}

// selectAttr copies attribute top (or only its sub-attribute sub) from
// src into dst; for a multi-valued attribute each entry keeps only sub.
func selectAttr(dst, src map[string]any, top, sub string) {
	v, key := lookupFold(src, top)
	if key == "" {
		return
	}
	if sub == "" {
		dst[key] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		d, _ := dst[key].(map[string]any)
		if d == nil {
			d = map[string]any{}
		}
		if sv, sk := lookupFold(x, sub); sk != "" {
			d[sk] = sv
		}
		dst[key] = d
	case []any:
		prev, _ := dst[key].([]any)
		list := make([]any, len(x))
		for i, e := range x {
			entry := map[string]any{}
			if i < len(prev) {
				if pm, ok := prev[i].(map[string]any); ok {
					entry = pm
				}
			}
			if em, ok := e.(map[string]any); ok {
				if sv, sk := lookupFold(em, sub); sk != "" {
					entry[sk] = sv
				}
			}
			list[i] = entry
		}
		dst[key] = list
	}
}

// excludeAttr drops attribute top (or only its sub-attribute sub, from
// every entry of a multi-valued one) from m, copying what it changes.
func excludeAttr(m map[string]any, top, sub string) {
	v, key := lookupFold(m, top)
	if key == "" {
		return
	}
	if sub == "" {
		delete(m, key)
		return
	}
	without := func(e map[string]any) map[string]any {
		cp := make(map[string]any, len(e))
		for k, ev := range e {
			if !strings.EqualFold(k, sub) {
				cp[k] = ev
			}
		}
		return cp
	}
	switch x := v.(type) {
	case map[string]any:
		m[key] = without(x)
	case []any:
		list := make([]any, len(x))
		for i, e := range x {
			if em, ok := e.(map[string]any); ok {
				list[i] = without(em)
			} else {
				list[i] = e
			}
		}
		m[key] = list
	}
}

// splitAttr splits a requested attribute into extension URN (or ""),
// attribute and sub-attribute: "name.givenName", "urn:…:core:2.0:User:userName",
// "urn:…:enterprise:2.0:User:manager.value", or the bare extension URN
// (whole extension: top and sub empty).
func (p Projection) splitAttr(a string) (ext, top, sub string) {
	for _, s := range Schemas(p.kind) {
		switch {
		case strings.EqualFold(a, s.URN) && s.Extension:
			return s.URN, "", ""
		case len(a) > len(s.URN) && strings.EqualFold(a[:len(s.URN)], s.URN) && a[len(s.URN)] == ':':
			a = a[len(s.URN)+1:]
			if s.Extension {
				ext = s.URN
			}
			top, sub, _ = strings.Cut(a, ".")
			return ext, top, sub
		}
	}
	if s, ok := extensionSchema(p.kind, a); ok {
		return s.URN, "", ""
	}
	if len(a) > 4 && strings.EqualFold(a[:4], "urn:") {
		if i := strings.LastIndex(a, ":"); i > 0 {
			if s, ok := customSchema(p.kind, a[:i]); ok {
				ext = s.URN
			}
			a = a[i+1:]
		}
	}
	top, sub, _ = strings.Cut(a, ".")
	return ext, top, sub
}
