package scim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/mapping"
)

const listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// listParams is a parsed list or search request.
type listParams struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex int // 1-based
	count      int
	proj       projection
}

func (h *resourceHandler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := listParams{filter: q.Get("filter"), sortBy: q.Get("sortBy"), sortOrder: q.Get("sortOrder"), startIndex: 1, count: h.s.cfg.MaxResults}
	var aerr *apiError
	if p.startIndex, aerr = intParam(q.Get("startIndex"), 1, "startIndex"); aerr != nil {
		writeError(w, *aerr)
		return
	}
	if p.count, aerr = intParam(q.Get("count"), h.s.cfg.MaxResults, "count"); aerr != nil {
		writeError(w, *aerr)
		return
	}
	if p.proj, aerr = projectionFromQuery(r); aerr != nil {
		writeError(w, *aerr)
		return
	}
	h.answerList(w, r, p)
}

// search serves POST /{endpoint}/.search (RFC 7644 §3.4.3).
func (h *resourceHandler) search(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(r)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	var req struct {
		Filter             string   `json:"filter"`
		SortBy             string   `json:"sortBy"`
		SortOrder          string   `json:"sortOrder"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, badRequest(mapping.ScimTypeInvalidSyntax, "The search request must be a SearchRequest JSON object."))
		return
	}
	p := listParams{filter: req.Filter, sortBy: req.SortBy, sortOrder: req.SortOrder, startIndex: 1, count: h.s.cfg.MaxResults}
	if req.StartIndex != nil && *req.StartIndex > 1 {
		p.startIndex = *req.StartIndex
	}
	if req.Count != nil {
		p.count = max(0, *req.Count)
	}
	p.proj = projection{include: req.Attributes, exclude: req.ExcludedAttributes}
	h.answerList(w, r, p)
}

func (h *resourceHandler) answerList(w http.ResponseWriter, r *http.Request, p listParams) {
	if p.startIndex < 1 {
		p.startIndex = 1
	}
	p.count = min(max(p.count, 0), h.s.cfg.MaxResults)
	query := mapping.Query{Offset: p.startIndex - 1, Count: p.count}
	if p.filter != "" {
		f, err := mapping.CompileFilter(h.kind.patchKind, p.filter)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if h.answerLookup(w, r, p, f) {
			return
		}
		query.IndexAttr, query.IndexValue = f.IndexHint()
		if !f.IndexOnly() {
			query.Match = f.Match
		}
	}
	if p.sortBy != "" {
		srt, err := mapping.CompileSort(h.kind.patchKind, p.sortBy, p.sortOrder)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		query.Sort = srt
	}
	res, err := h.s.prov.List(r.Context(), h.kind.cacheKind, query)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resources := make([]any, 0, len(res.Items))
	for _, it := range res.Items {
		resources = append(resources, p.proj.apply(h.representation(r, it.Record, it.Attrs)))
	}
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"schemas":      []string{listResponseSchema},
		"totalResults": res.Total,
		"startIndex":   p.startIndex,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	})
}

func intParam(raw string, def int, name string) (int, *apiError) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		e := badRequest(mapping.ScimTypeInvalidValue, "%s must be an integer, got %q.", name, raw)
		return 0, &e
	}
	return n, nil
}

// projection applies attributes / excludedAttributes (RFC 7644 §3.4.2.5).
// id and schemas are always returned.
type projection struct {
	include, exclude []string
}

func projectionFromQuery(r *http.Request) (projection, *apiError) {
	q := r.URL.Query()
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return projection{include: split(q.Get("attributes")), exclude: split(q.Get("excludedAttributes"))}, nil
}

func (p projection) apply(res map[string]any) map[string]any {
	if len(p.include) == 0 && len(p.exclude) == 0 {
		return res
	}
	if len(p.include) > 0 {
		out := map[string]any{"id": res["id"], "schemas": res["schemas"]}
		for _, a := range p.include {
			ext, top, sub := splitAttr(a)
			src, dst := res, out
			if ext != "" {
				e, _ := lookupFold(res, ext)
				em, ok := e.(map[string]any)
				if !ok {
					continue
				}
				if top == "" { // the whole extension
					out[mapping.EnterpriseUserSchemaURN] = em
					continue
				}
				d, _ := out[mapping.EnterpriseUserSchemaURN].(map[string]any)
				if d == nil {
					d = map[string]any{}
					out[mapping.EnterpriseUserSchemaURN] = d
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
		ext, top, sub := splitAttr(a)
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
func splitAttr(a string) (ext, top, sub string) {
	lower := strings.ToLower(a)
	ent := strings.ToLower(mapping.EnterpriseUserSchemaURN)
	switch {
	case lower == ent:
		return mapping.EnterpriseUserSchemaURN, "", ""
	case strings.HasPrefix(lower, ent+":"):
		ext, a = mapping.EnterpriseUserSchemaURN, a[len(ent)+1:]
	case strings.HasPrefix(lower, "urn:"):
		if i := strings.LastIndex(a, ":"); i > 0 {
			a = a[i+1:]
		}
	}
	top, sub, _ = strings.Cut(a, ".")
	return ext, top, sub
}
