package scim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

const listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// listParams is a parsed list or search request.
type listParams struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex int // 1-based
	count      int
	proj       scimdoc.Projection
}

func (h *resourceHandler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := listParams{filter: q.Get("filter"), sortBy: q.Get("sortBy"), sortOrder: q.Get("sortOrder"), startIndex: 1, count: h.s.cfg.MaxResults}
	var err error
	if p.startIndex, err = intParam(q.Get("startIndex"), 1, "startIndex"); err != nil {
		h.fail(w, r, err)
		return
	}
	if p.count, err = intParam(q.Get("count"), h.s.cfg.MaxResults, "count"); err != nil {
		h.fail(w, r, err)
		return
	}
	p.proj = projectionFromQuery(h.rt.Kind, r)
	h.answerList(w, r, p)
}

// search serves POST /{endpoint}/.search (RFC 7644 §3.4.3).
func (h *resourceHandler) search(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		h.fail(w, r, err)
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
		h.fail(w, r, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "The search request must be a SearchRequest JSON object."))
		return
	}
	p := listParams{filter: req.Filter, sortBy: req.SortBy, sortOrder: req.SortOrder, startIndex: 1, count: h.s.cfg.MaxResults}
	if req.StartIndex != nil && *req.StartIndex > 1 {
		p.startIndex = *req.StartIndex
	}
	if req.Count != nil {
		p.count = max(0, *req.Count)
	}
	p.proj = scimdoc.NewProjection(h.rt.Kind, req.Attributes, req.ExcludedAttributes)
	h.answerList(w, r, p)
}

func (h *resourceHandler) answerList(w http.ResponseWriter, r *http.Request, p listParams) {
	if p.startIndex < 1 {
		p.startIndex = 1
	}
	p.count = min(max(p.count, 0), h.s.cfg.MaxResults)
	req := mapping.ListRequest{Offset: p.startIndex - 1, Count: p.count}
	var err error
	if p.filter != "" {
		if req.Filter, err = scimdoc.CompileFilter(h.rt.Kind, p.filter); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if p.sortBy != "" {
		if req.Sort, err = scimdoc.CompileSort(h.rt.Kind, p.sortBy, p.sortOrder); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	res, err := h.res.List(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	buf := make([]byte, 0, 512*(len(res.Items)+1))
	buf = append(buf, `{"schemas":["`+listResponseSchema+`"],"totalResults":`...)
	buf = strconv.AppendInt(buf, int64(res.Total), 10)
	buf = append(buf, `,"startIndex":`...)
	buf = strconv.AppendInt(buf, int64(p.startIndex), 10)
	buf = append(buf, `,"itemsPerPage":`...)
	buf = strconv.AppendInt(buf, int64(len(res.Items)), 10)
	buf = append(buf, `,"Resources":[`...)
	for i, it := range res.Items {
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, err = h.appendResource(buf, it, p.proj); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(buf)
}

func intParam(raw string, def int, name string) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return 0, scimdoc.Errorf(scimdoc.ScimTypeInvalidValue, "%s must be an integer, got %q.", name, raw)
	}
	return n, nil
}

// projectionFromQuery reads attributes / excludedAttributes from a query
// string (RFC 7644 §3.4.2.5).
func projectionFromQuery(kind scimdoc.Kind, r *http.Request) scimdoc.Projection {
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
	return scimdoc.NewProjection(kind, split(q.Get("attributes")), split(q.Get("excludedAttributes")))
}
