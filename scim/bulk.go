package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// The Bulk message schemas (RFC 7644 §3.7).
const (
	bulkRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// bulkRefPrefix marks a reference to the resource another operation of
// the same request creates (RFC 7644 §3.7.2).
const bulkRefPrefix = "bulkId:"

type bulkRequest struct {
	Schemas      []string        `json:"schemas"`
	FailOnErrors *int            `json:"failOnErrors"`
	Operations   []bulkOperation `json:"Operations"`
}

type bulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`

	// data is Data decoded, when it references a bulkId; refs are the
	// bulkIds the path and data reference.
	data any
	refs []string
}

// bulkResult is one operation's entry in the BulkResponse (RFC 7644
// §3.7.3). Response is sent for a failed operation only: a success says
// where the resource is and its version, which is what a client needs of
// it, and keeps the answer to a request of a thousand creates small.
type bulkResult struct {
	Location string          `json:"location,omitempty"`
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// bulk serves POST /Bulk (RFC 7644 §3.7). The operations run in order,
// each through the very handler a single request to its path reaches (the
// resource routes without the middleware: the /Bulk request was already
// authenticated, its body limited and its deadline set), so validation,
// ETags, projection and errors are those of single requests.
//
// A request that is not a well-formed BulkRequest fails as a whole with
// 400 invalidSyntax before any operation runs, and one with more than
// Config.MaxBulkOperations operations with 413; otherwise the answer is
// 200 with one result per operation run. With failOnErrors N, processing
// stops after the Nth failed operation, and the operations after it are
// neither run nor listed.
//
// A reference "bulkId:x" (as a whole value, within a PATCH operation's
// path, or in the operation's path) is replaced by the id that the POST
// with bulkId x created earlier in the request. A reference to a bulkId no
// earlier operation created (unknown, failed, or created by a later
// operation) gives its operation 409 Conflict, the status RFC 7644 §3.7.1
// gives a reference the service provider cannot resolve; circular
// references are such references, and their detail says so.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := s.readBulk(r)
	if err != nil {
		writeError(w, toSCIMError(ctx, err, s.log))
		return
	}
	circular := circularOps(req.Operations)
	created := make(map[string]string) // bulkId → id
	results := make([]bulkResult, 0, len(req.Operations))
	failures := 0
	for i, op := range req.Operations {
		if ctx.Err() != nil {
			// Out of time: what ran is answered; the rest did not run.
			s.log.WarnContext(ctx, "bulk request out of time", "operations_run", i, "operations", len(req.Operations))
			break
		}
		res := s.runBulkOperation(r, op, created, circular[i])
		results = append(results, res)
		if res.Status[0] >= '4' {
			failures++
			if req.FailOnErrors != nil && failures >= *req.FailOnErrors {
				break
			}
		}
	}
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"schemas":    []string{bulkResponseSchema},
		"Operations": results,
	})
}

// readBulk reads and checks a BulkRequest as a whole.
func (s *Server) readBulk(r *http.Request) (bulkRequest, error) {
	var req bulkRequest
	body, err := readBody(r)
	if err != nil {
		return req, err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "The request body must be a BulkRequest JSON object.")
	}
	if !slices.Contains(req.Schemas, bulkRequestSchema) {
		return req, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "schemas must hold %q.", bulkRequestSchema)
	}
	if len(req.Operations) == 0 {
		return req, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "A BulkRequest needs at least one operation in Operations.")
	}
	if n := len(req.Operations); n > s.cfg.MaxBulkOperations {
		return req, apiError{Status: http.StatusRequestEntityTooLarge, ScimType: scimdoc.ScimTypeTooMany,
			Detail: fmt.Sprintf("The request has %d operations; maxOperations is %d.", n, s.cfg.MaxBulkOperations)}
	}
	if req.FailOnErrors != nil && *req.FailOnErrors < 1 {
		return req, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "failOnErrors must be a positive integer.")
	}
	bulkIDs := make(map[string]bool)
	for i := range req.Operations {
		op := &req.Operations[i]
		if err := checkBulkOperation(op, i, bulkIDs); err != nil {
			return req, err
		}
	}
	return req, nil
}

// checkBulkOperation checks one operation's form and collects its
// references; bulkIDs are those of the operations before it.
func checkBulkOperation(op *bulkOperation, i int, bulkIDs map[string]bool) error {
	bad := func(format string, args ...any) error {
		return scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "Operations[%d]: "+format, append([]any{i}, args...)...)
	}
	op.Method = strings.ToUpper(op.Method)
	switch op.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return bad("method must be POST, PUT, PATCH or DELETE, not %q.", op.Method)
	}
	if !strings.HasPrefix(op.Path, "/") {
		return bad("path must be a resource endpoint or resource, such as /Users or /Users/{id}.")
	}
	if _, err := url.Parse(op.Path); err != nil {
		return bad("path %q is not a URL path.", op.Path)
	}
	if op.Method == http.MethodPost {
		if op.BulkID == "" {
			return bad("a POST needs a bulkId.")
		}
	}
	if op.BulkID != "" {
		if bulkIDs[op.BulkID] {
			return bad("bulkId %q is used by an earlier operation; bulkIds must be unique.", op.BulkID)
		}
		bulkIDs[op.BulkID] = true
	}
	hasData := len(op.Data) > 0 && !bytes.Equal(op.Data, []byte("null"))
	if op.Method != http.MethodDelete && !hasData {
		return bad("a %s needs data.", op.Method)
	}
	op.refs = embeddedRefs(op.Path, nil)
	if hasData && bytes.Contains(op.Data, []byte(bulkRefPrefix)) {
		d := json.NewDecoder(bytes.NewReader(op.Data))
		d.UseNumber()
		if err := d.Decode(&op.data); err != nil {
			return bad("data is not JSON.")
		}
		op.refs = dataRefs(op.data, "", op.refs)
	}
	return nil
}

// runBulkOperation runs one operation through the resource routes and
// reports its result.
func (s *Server) runBulkOperation(r *http.Request, op bulkOperation, created map[string]string, circular bool) bulkResult {
	res := bulkResult{Method: op.Method, BulkID: op.BulkID}
	fail := func(e apiError) bulkResult {
		res.Status = strconv.Itoa(e.Status)
		res.Response, _ = json.Marshal(e)
		return res
	}
	for _, ref := range op.refs {
		if _, ok := created[ref]; ok {
			continue
		}
		detail := fmt.Sprintf("bulkId %q names no resource created by an earlier operation of this request (it is unknown, its operation failed, or it comes later).", ref)
		if circular {
			detail = fmt.Sprintf("bulkId %q is part of a circular reference between operations of this request, which cannot be resolved.", ref)
		}
		return fail(apiError{Status: http.StatusConflict, Detail: detail})
	}
	path := replaceRefs(op.Path, created, false)
	u, _ := url.Parse(path) // checked in checkBulkOperation; replacing refs keeps it a path
	body := []byte(op.Data)
	if op.data != nil {
		var err error
		if body, err = json.Marshal(resolveRefs(op.data, "", created)); err != nil {
			return fail(toSCIMError(r.Context(), err, s.log))
		}
	}
	if op.Method != http.MethodPost {
		res.Location = s.cfg.BaseURL + u.Path
	}

	sub, err := http.NewRequestWithContext(r.Context(), op.Method, BasePath+u.Path, bytes.NewReader(body))
	if err != nil {
		return fail(apiError{Status: http.StatusBadRequest, ScimType: scimdoc.ScimTypeInvalidSyntax, Detail: "path is not a URL path."})
	}
	sub.URL.RawQuery = u.RawQuery
	sub.Header.Set("Content-Type", contentType)
	if op.Version != "" {
		sub.Header.Set("If-Match", op.Version)
	}
	rec := &bulkRecorder{header: make(http.Header)}
	s.ops.ServeHTTP(rec, sub)

	res.Status = strconv.Itoa(rec.code())
	if rec.code() >= 400 {
		res.Response = json.RawMessage(bytes.TrimSpace(rec.body.Bytes()))
		if op.Method == http.MethodPost {
			res.Location = ""
		}
		return res
	}
	res.Version = rec.header.Get("ETag")
	if loc := rec.header.Get("Location"); loc != "" {
		res.Location = loc
	}
	if op.Method == http.MethodPost {
		var doc struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &doc)
		if doc.ID != "" {
			created[op.BulkID] = doc.ID
		}
	}
	return res
}

// bulkRecorder keeps what a handler answers to one bulk operation.
type bulkRecorder struct {
	header http.Header
	firstStatus
	body bytes.Buffer
}

func (w *bulkRecorder) Header() http.Header { return w.header }

func (w *bulkRecorder) WriteHeader(code int) { w.note(code) }

func (w *bulkRecorder) Write(b []byte) (int, error) {
	w.note(http.StatusOK)
	return w.body.Write(b)
}
