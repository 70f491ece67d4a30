package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// resourceHandler serves one resource endpoint through the provisioner's
// contract for that type; nothing in it depends on which type it is.
type resourceHandler struct {
	s   *Server
	res mapping.Resource
	rt  scimdoc.ResourceType
	// patchNoContent answers a PATCH with 204 unless the client asked for
	// attributes back (groups: Entra expects it, and a group can hold
	// thousands of members).
	patchNoContent bool
}

func (h *resourceHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, toSCIMError(r.Context(), err, h.s.log))
}

// readBody reads a request body within the size limit.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("Request body is larger than the %d-byte limit.", mbe.Limit)}
		}
		return nil, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "The request body could not be read.")
	}
	if err := scimdoc.CheckJSONDepth(body); err != nil {
		return nil, err
	}
	return body, nil
}

func decodeObject(body []byte) (map[string]any, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "The request body must be a JSON object.")
	}
	if d.More() {
		return nil, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "The request body must hold exactly one JSON object.")
	}
	return m, nil
}

// readResource decodes and validates a POST/PUT body.
func (h *resourceHandler) readResource(r *http.Request) (map[string]any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	m, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	return scimdoc.Validate(h.rt.Kind, m)
}

func (h *resourceHandler) create(w http.ResponseWriter, r *http.Request) {
	doc, err := h.readResource(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	it, err := h.res.Create(r.Context(), doc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeResource(w, r, it, http.StatusCreated)
}

func (h *resourceHandler) get(w http.ResponseWriter, r *http.Request) {
	it, err := h.res.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && scimdoc.MatchETag(inm, it.Version) {
		w.Header().Set("ETag", it.Version)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.writeResource(w, r, it, http.StatusOK)
}

func (h *resourceHandler) replace(w http.ResponseWriter, r *http.Request) {
	doc, err := h.readResource(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	it, err := h.res.Replace(r.Context(), mux.Vars(r)["id"], doc, r.Header.Get("If-Match"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeResource(w, r, it, http.StatusOK)
}

func (h *resourceHandler) patch(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ops, err := scimdoc.ParsePatch(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	it, err := h.res.Patch(r.Context(), mux.Vars(r)["id"], ops, r.Header.Get("If-Match"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.patchNoContent && r.URL.Query().Get("attributes") == "" {
		w.Header().Set("ETag", it.Version)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.writeResource(w, r, it, http.StatusOK)
}

func (h *resourceHandler) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.res.Delete(r.Context(), mux.Vars(r)["id"], r.Header.Get("If-Match")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// location is the URL of a resource.
func (h *resourceHandler) location(id string) string {
	return h.s.cfg.BaseURL + h.rt.Endpoint + "/" + id
}

// representation is the full SCIM JSON of an item (RFC 7643 §3): its
// attributes plus id, externalId, schemas and meta. "schemas" lists the
// core schema, the bridge's extensions present, then the custom extensions
// present, sorted.
func (h *resourceHandler) representation(it mapping.Item, attrs map[string]any) map[string]any {
	out := it.WithCommon(attrs)
	schemas := []string{h.rt.Schema.URN}
	var custom []string
	for k, v := range attrs {
		if _, obj := v.(map[string]any); !obj || !scimdoc.IsExtensionKey(h.rt.Kind, k) {
			continue
		}
		if slices.ContainsFunc(h.rt.Extensions, func(e *scimdoc.Schema) bool { return e.URN == k }) {
			continue
		}
		custom = append(custom, k)
	}
	for _, e := range h.rt.Extensions {
		if _, ok := attrs[e.URN]; ok {
			schemas = append(schemas, e.URN)
		}
	}
	slices.Sort(custom)
	out["schemas"] = append(schemas, custom...)
	out["meta"].(map[string]any)["location"] = h.location(it.ID)
	h.addRefs(out)
	return out
}

// addRefs completes the references of a rendered resource as /Schemas
// describes them: each group member gets "type" User and "$ref" its
// location, each of a user's groups "$ref" the group's location. The
// members' display is left out: the store keeps member ids only.
func (h *resourceHandler) addRefs(res map[string]any) {
	for _, ref := range []struct{ attr, endpoint, typ string }{
		{"members", "/Users/", "User"},
		{"groups", "/Groups/", ""},
	} {
		list, _ := res[ref.attr].([]any)
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			id, _ := m["value"].(string)
			cp := make(map[string]any, len(m)+2)
			for k, v := range m {
				cp[k] = v
			}
			cp["$ref"] = h.s.cfg.BaseURL + ref.endpoint + id
			if ref.typ != "" {
				cp["type"] = ref.typ
			}
			list[i] = cp
		}
	}
}

func (h *resourceHandler) writeResource(w http.ResponseWriter, r *http.Request, it mapping.Item, status int) {
	proj := projectionFromQuery(h.rt.Kind, r)
	buf, err := h.appendResource(nil, it, proj)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("ETag", it.Version)
	if status == http.StatusCreated {
		w.Header().Set("Location", h.location(it.ID))
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(buf, '\n'))
}
