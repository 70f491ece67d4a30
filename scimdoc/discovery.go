package scimdoc

import (
	"slices"
	"strings"
)

// URNs of the discovery resources (RFC 7643 §8.7.2).
const (
	schemaSchemaURN       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	resourceTypeSchemaURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
)

// allSchemas returns every schema of ResourceTypes once, in order: each
// core schema followed by its extensions, the declared ones last.
func allSchemas(exts []Extension) []*Schema {
	var out []*Schema
	seen := map[string]bool{}
	for _, rt := range resourceTypes(exts) {
		for _, s := range append([]*Schema{rt.Schema}, rt.Extensions...) {
			if !seen[s.URN] {
				seen[s.URN] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// SchemaResources renders the schemas of the bridge's resource types as
// the resources /Schemas lists (RFC 7643 §7, RFC 7644 §4): User, Enterprise
// User, Group. They come from the same tables that Validate, PATCH,
// filters and sorting use, so /Schemas says what the bridge does. baseURL
// is the service's base URL (without a trailing slash; one is trimmed) and
// makes each meta.location. Declared custom extensions (exts) follow the
// bridge's own. Every call returns new maps.
func SchemaResources(baseURL string, exts ...Extension) []map[string]any {
	baseURL = strings.TrimRight(baseURL, "/")
	var out []map[string]any
	for _, s := range allSchemas(exts) {
		attrs := make([]any, len(s.Attrs))
		for i, a := range s.Attrs {
			attrs[i] = renderAttr(a)
		}
		out = append(out, map[string]any{
			"schemas":     []any{schemaSchemaURN},
			"id":          s.URN,
			"name":        s.Name,
			"description": s.Description,
			"attributes":  attrs,
			"meta": map[string]any{
				"resourceType": "Schema",
				"location":     baseURL + "/Schemas/" + s.URN,
			},
		})
	}
	return out
}

// renderAttr is the RFC 7643 §7 representation of an attribute. caseExact
// and uniqueness are left out for complex and boolean attributes, where
// they mean nothing; canonicalValues, referenceTypes and subAttributes
// appear where set.
func renderAttr(a *Attr) map[string]any {
	m := map[string]any{
		"name":        a.Name,
		"type":        a.Type.String(),
		"multiValued": a.MultiValued,
		"required":    a.Required,
		"mutability":  a.Mutability.String(),
		"returned":    a.Returned.String(),
	}
	if a.Description != "" {
		m["description"] = a.Description
	}
	if a.Type != AttrComplex && a.Type != AttrBoolean {
		m["caseExact"] = a.CaseExact
		m["uniqueness"] = a.Uniqueness.String()
	}
	if len(a.CanonicalValues) > 0 {
		m["canonicalValues"] = stringList(a.CanonicalValues)
	}
	if len(a.ReferenceTypes) > 0 {
		m["referenceTypes"] = stringList(a.ReferenceTypes)
	}
	if len(a.SubAttrs) > 0 {
		subs := make([]any, len(a.SubAttrs))
		for i, s := range a.SubAttrs {
			subs[i] = renderAttr(s)
		}
		m["subAttributes"] = subs
	}
	return m
}

func stringList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// ResourceTypeResources renders ResourceTypes as the resources
// /ResourceTypes lists (RFC 7643 §6, RFC 7644 §4). Every extension is
// optional (required false). baseURL and exts are as for SchemaResources.
// Every call returns new maps.
func ResourceTypeResources(baseURL string, exts ...Extension) []map[string]any {
	baseURL = strings.TrimRight(baseURL, "/")
	var out []map[string]any
	for _, rt := range resourceTypes(exts) {
		exts := make([]any, len(rt.Extensions))
		for i, e := range rt.Extensions {
			exts[i] = map[string]any{"schema": e.URN, "required": false}
		}
		out = append(out, map[string]any{
			"schemas":          []any{resourceTypeSchemaURN},
			"id":               rt.Name,
			"name":             rt.Name,
			"endpoint":         rt.Endpoint,
			"description":      rt.Description,
			"schema":           rt.Schema.URN,
			"schemaExtensions": exts,
			"meta": map[string]any{
				"resourceType": "ResourceType",
				"location":     baseURL + "/ResourceTypes/" + rt.Name,
			},
		})
	}
	return out
}

// resourceTypes is ResourceTypes with the declared extensions added to the
// types they extend (a URN declared twice counts once).
func resourceTypes(exts []Extension) []ResourceType {
	rts := ResourceTypes()
	for i := range rts {
		rts[i].Extensions = slices.Clone(rts[i].Extensions)
		for _, e := range exts {
			if e.Kind() != rts[i].Kind || slices.ContainsFunc(rts[i].Extensions, func(s *Schema) bool { return strings.EqualFold(s.URN, e.URN) }) {
				continue
			}
			rts[i].Extensions = append(rts[i].Extensions, e.schema())
		}
	}
	return rts
}
