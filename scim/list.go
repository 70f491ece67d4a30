package scim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	fp "github.com/scim2/filter-parser/v2"

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
		query.Match = f.Match
		query.IndexAttr, query.IndexValue = f.IndexHint()
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

// indexHint finds an equality on an indexed attribute that the whole filter
// requires (the filter itself, or a conjunct of an "and").
func indexHint(kind resourceKind, e fp.Expression) (string, string) {
	switch x := e.(type) {
	case *fp.AttributeExpression:
		if x.Operator != fp.EQ || x.AttributePath.SubAttribute != nil {
			return "", ""
		}
		if uri := x.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, kind.schema.ID) {
			return "", ""
		}
		val, ok := x.CompareValue.(string)
		if !ok || !mapping.IndexedAttr(kind.cacheKind, x.AttributePath.AttributeName) {
			return "", ""
		}
		return x.AttributePath.AttributeName, val
	case *fp.LogicalExpression:
		if x.Operator != fp.AND {
			return "", ""
		}
		if a, v := indexHint(kind, x.Left); a != "" {
			return a, v
		}
		return indexHint(kind, x.Right)
	}
	return "", ""
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
			top, sub := splitAttr(a)
			for k, v := range res {
				if !strings.EqualFold(k, top) {
					continue
				}
				if sub == "" {
					out[k] = v
					continue
				}
				if m, ok := v.(map[string]any); ok {
					dst, _ := out[k].(map[string]any)
					if dst == nil {
						dst = map[string]any{}
					}
					for sk, sv := range m {
						if strings.EqualFold(sk, sub) {
							dst[sk] = sv
						}
					}
					out[k] = dst
				}
			}
		}
		return out
	}
	out := make(map[string]any, len(res))
	for k, v := range res {
		out[k] = v
	}
	for _, a := range p.exclude {
		top, sub := splitAttr(a)
		for k, v := range out {
			if !strings.EqualFold(k, top) || strings.EqualFold(k, "id") || strings.EqualFold(k, "schemas") {
				continue
			}
			if sub == "" {
				delete(out, k)
				continue
			}
			if m, ok := v.(map[string]any); ok {
				cp := make(map[string]any, len(m))
				for sk, sv := range m {
					if !strings.EqualFold(sk, sub) {
						cp[sk] = sv
					}
				}
				out[k] = cp
			}
		}
	}
	return out
}

// splitAttr splits "name.givenName" and
// "urn:...:enterprise:2.0:User:department" into attribute and sub-attribute.
func splitAttr(a string) (string, string) {
	if strings.HasPrefix(strings.ToLower(a), "urn:") {
		if strings.HasPrefix(strings.ToLower(a), strings.ToLower(mapping.EnterpriseUserSchemaURN)+":") {
			return mapping.EnterpriseUserSchemaURN, a[len(mapping.EnterpriseUserSchemaURN)+1:]
		}
		if i := strings.LastIndex(a, ":"); i > 0 {
			a = a[i+1:]
		}
	}
	top, sub, _ := strings.Cut(a, ".")
	return top, sub
}
