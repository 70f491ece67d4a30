package scim

import (
	"cmp"
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

// searchRequest is the body of POST .search (RFC 7644 §3.4.3).
type searchRequest struct {
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
}

// readSearch reads a SearchRequest into list parameters (without the
// projection, which depends on the resource type).
func readSearch(r *http.Request, maxResults int) (searchRequest, listParams, error) {
	var req searchRequest
	body, err := readBody(r)
	if err != nil {
		return req, listParams{}, err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, listParams{}, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "The search request must be a SearchRequest JSON object.")
	}
	p := listParams{filter: req.Filter, sortBy: req.SortBy, sortOrder: req.SortOrder, startIndex: 1, count: maxResults}
	if req.StartIndex != nil && *req.StartIndex > 1 {
		p.startIndex = *req.StartIndex
	}
	if req.Count != nil {
		p.count = max(0, *req.Count)
	}
	p.count = min(p.count, maxResults)
	return req, p, nil
}

// search serves POST /{endpoint}/.search (RFC 7644 §3.4.3).
func (h *resourceHandler) search(w http.ResponseWriter, r *http.Request) {
	req, p, err := readSearch(r, h.s.cfg.MaxResults)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p.proj = scimdoc.NewProjection(h.rt.Kind, req.Attributes, req.ExcludedAttributes)
	h.answerList(w, r, p)
}

// rootSearch serves POST /.search: one search over every resource type
// (RFC 7644 §3.4.3), Users then Groups, paged across both. The filter is
// compiled for each type; a type whose schema lacks an attribute it names
// has no match (a filter on userName finds users only), and a filter no
// type accepts is the first type's error. Sorting across types is not
// offered: sortBy answers 400.
func (s *Server) rootSearch(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { writeError(w, toSCIMError(r.Context(), err, s.log)) }
	req, p, err := readSearch(r, s.cfg.MaxResults)
	if err != nil {
		fail(err)
		return
	}
	if p.sortBy != "" {
		fail(scimdoc.Errorf(scimdoc.ScimTypeInvalidValue, "sortBy is not supported on a search across resource types; search /Users or /Groups to sort."))
		return
	}
	type part struct {
		h      *resourceHandler
		filter *scimdoc.Filter
	}
	var parts []part
	var firstErr error
	for _, res := range s.resources {
		h := &resourceHandler{s: s, res: res, rt: res.Kind().ResourceType()}
		var f *scimdoc.Filter
		if p.filter != "" {
			if f, err = scimdoc.CompileFilter(h.rt.Kind, p.filter); err != nil {
				firstErr = cmp.Or(firstErr, err)
				continue
			}
		}
		parts = append(parts, part{h: h, filter: f})
	}
	if len(parts) == 0 && firstErr != nil {
		fail(firstErr)
		return
	}
	offset, left, total := max(p.startIndex, 1)-1, p.count, 0
	buf := make([]byte, 0, 4096)
	n := 0
	var items []byte
	for _, pt := range parts {
		res, err := pt.h.res.List(r.Context(), mapping.ListRequest{Filter: pt.filter, Offset: offset, Count: left})
		if err != nil {
			fail(err)
			return
		}
		total += res.Total
		offset = max(0, offset-res.Total)
		proj := scimdoc.NewProjection(pt.h.rt.Kind, req.Attributes, req.ExcludedAttributes)
		for _, it := range res.Items {
			if n > 0 {
				items = append(items, ',')
			}
			if items, err = pt.h.appendResource(items, it, proj); err != nil {
				fail(err)
				return
			}
			n++
		}
		left = max(0, left-len(res.Items))
	}
	buf = appendListHead(buf, total, max(p.startIndex, 1), n)
	buf = append(buf, items...)
	writeList(w, buf)
}

// appendListHead appends a ListResponse up to its Resources array's
// opening bracket; writeList closes it and sends it.
func appendListHead(buf []byte, total, startIndex, itemsPerPage int) []byte {
	buf = append(buf, `{"schemas":["`+listResponseSchema+`"],"totalResults":`...)
	buf = strconv.AppendInt(buf, int64(total), 10)
	buf = append(buf, `,"startIndex":`...)
	buf = strconv.AppendInt(buf, int64(startIndex), 10)
	buf = append(buf, `,"itemsPerPage":`...)
	buf = strconv.AppendInt(buf, int64(itemsPerPage), 10)
	return append(buf, `,"Resources":[`...)
}

func writeList(w http.ResponseWriter, buf []byte) {
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(buf)
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
	buf = appendListHead(buf, res.Total, p.startIndex, len(res.Items))
	for i, it := range res.Items {
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, err = h.appendResource(buf, it, p.proj); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	writeList(w, buf)
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
