package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// maxBody bounds request bodies; ASP.NET's default is larger, but nothing
// the bridge sends comes close.
const maxBody = 8 << 20

const (
	problemTypeBadRequest  = "https://tools.ietf.org/html/rfc7231#section-6.5.1"
	problemTypeUnsupported = "https://tools.ietf.org/html/rfc7231#section-6.5.13"
	problemTitleValidation = "One or more validation errors occurred."
	msgNotFound            = "The entity was not found."
)

// problems collects model-validation errors keyed by field, as ASP.NET's
// ModelState does.
type problems map[string][]string

func (p problems) add(field, msg string) { p[field] = append(p[field], msg) }

func (p problems) invalidValue(field, value string) {
	p.add(field, fmt.Sprintf("The value '%s' is not valid.", value))
}

func (p problems) required(field string) {
	p.add(field, fmt.Sprintf("The %s field is required.", pascal(field)))
}

func pascal(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// traceID returns a W3C trace id as ASP.NET puts in ProblemDetails.
func traceID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return "00-" + h[:32] + "-" + h[32:] + "-00"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeProblem sends a 400 validation ProblemDetails (upstream-api.md §10).
func writeProblem(w http.ResponseWriter, p problems) {
	writeProblemDetails(w, upstream.ProblemDetails{
		Type:    problemTypeBadRequest,
		Title:   problemTitleValidation,
		Status:  http.StatusBadRequest,
		TraceID: traceID(),
		Errors:  p,
	})
}

func writeProblemDetails(w http.ResponseWriter, pd upstream.ProblemDetails) {
	b, _ := json.Marshal(pd)
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.WriteHeader(pd.Status)
	_, _ = w.Write(b)
}

// writeNotFound sends the "entity was not found" answer. UNCONFIRMED
// envelope: the message is known [C2], the JSON shape is inferred from the
// errorMessage envelope of scope errors.
func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"errorMessage": msgNotFound})
}

// writeIdentityFailure sends a business-rule failure as an IdentityResult.
func writeIdentityFailure(w http.ResponseWriter, status int, errs ...upstream.IdentityError) {
	writeJSON(w, status, upstream.IdentityResult{Succeeded: false, Errors: errs})
}

func writeScopeError(w http.ResponseWriter, have, resource, method string) {
	want := resource + ".Write"
	if method == http.MethodGet || method == http.MethodHead {
		want = resource + ".Read"
	}
	msg := fmt.Sprintf("Scope(s) '%s' is(are) invalid. Expect to have '%s' or '%s'. ", have, resource, want)
	writeJSON(w, http.StatusForbidden, map[string]string{"errorMessage": msg})
}

// decodeBody reads a JSON request body into v. On failure it writes the
// ASP.NET answer (415 for a non-JSON content type, 400 ProblemDetails for an
// empty or malformed body) and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		writeProblemDetails(w, upstream.ProblemDetails{
			Type:    problemTypeUnsupported,
			Title:   "Unsupported Media Type",
			Status:  http.StatusUnsupportedMediaType,
			TraceID: traceID(),
		})
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeProblem(w, problems{"": {"The request body could not be read."}})
		return false
	}
	if len(body) > maxBody {
		writeProblem(w, problems{"": {"Request body too large."}})
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		writeProblem(w, problems{"": {"A non-empty request body is required."}})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	err = dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("the JSON value has trailing data")
		}
	}
	if err != nil {
		field, msg := "$", "The JSON value is malformed: "+err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field != "" {
				field = "$." + te.Field
			}
			msg = fmt.Sprintf("The JSON value could not be converted to %s. Path: %s", te.Type, field)
		}
		writeProblem(w, problems{field: {msg}})
		return false
	}
	return true
}

// parseGUID parses a GUID in any of .NET's accepted textual forms and
// returns it in canonical lower-case form.
func parseGUID(s string) (string, bool) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) < 32 {
		return "", false
	}
	return id.String(), true
}

// checkPartition validates a partitionGlobalId (path or body): it must be
// a GUID equal to the emulator's organization.
func (s *Server) checkPartition(p problems, value string) {
	if value == "" {
		p.required("partitionGlobalId")
		return
	}
	if id, ok := parseGUID(value); !ok || id != s.cfg.PartitionID {
		p.invalidValue("partitionGlobalId", value)
	}
}

// checkIDs validates a list of GUIDs in a body field, returning the
// canonical ids.
func checkIDs(p problems, field string, ids []string) []string {
	out := make([]string, 0, len(ids))
	for i, v := range ids {
		id, ok := parseGUID(v)
		if !ok {
			p.add(fmt.Sprintf("$.%s[%d]", field, i), fmt.Sprintf("The JSON value could not be converted to System.Guid. Path: $.%s[%d]", field, i))
			continue
		}
		out = append(out, id)
	}
	return out
}

// paging reads top and skip: top defaults to 10 and must be 0..1000, skip
// must be ≥ 0 (upstream-api.md §0).
func paging(q map[string][]string, p problems) (top, skip int) {
	top = 10
	if v := first(q, "top"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			p.invalidValue("top", v)
		case n < 0 || n > 1000:
			p.add("top", "The field Top must be between 0 and 1000.")
		default:
			top = n
		}
	}
	if v := first(q, "skip"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			p.invalidValue("skip", v)
		case n < 0:
			p.add("skip", "The field Skip must be between 0 and 2147483647.")
		default:
			skip = n
		}
	}
	return top, skip
}

// first returns the first value of a query parameter, matching its name
// case-insensitively as ASP.NET does.
func first(q map[string][]string, name string) string {
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func page[T any](all []T, top, skip int) []T {
	if skip >= len(all) {
		return []T{}
	}
	all = all[skip:]
	if top < len(all) {
		all = all[:top]
	}
	return append([]T{}, all...)
}
