package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/gorilla/mux"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
)

// resourceKind describes one resource endpoint.
type resourceKind struct {
	endpoint   string // "Users"
	name       string // "User" (meta.resourceType)
	cacheKind  cache.Kind
	patchKind  mapping.ResourceKind
	schema     schema.Schema // validation schema (with externalId)
	extensions []schema.Schema
}

func (k resourceKind) schemaURNs() []string {
	out := []string{k.schema.ID}
	for _, e := range k.extensions {
		out = append(out, e.ID)
	}
	return out
}

var (
	kindUsers = resourceKind{
		endpoint: "Users", name: "User", cacheKind: cache.KindUser, patchKind: mapping.KindUser,
		schema:     withExternalID(userSchema),
		extensions: []schema.Schema{enterpriseSchema},
	}
	kindGroups = resourceKind{
		endpoint: "Groups", name: "Group", cacheKind: cache.KindGroup, patchKind: mapping.KindGroup,
		schema: withExternalID(groupSchema),
	}
)

// resourceHandler serves one resource endpoint.
type resourceHandler struct {
	s    *Server
	kind resourceKind
}

func (h *resourceHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, toSCIMError(err, loggerFrom(r.Context(), h.s.log)))
}

// readBody reads a request body within the size limit.
func readBody(r *http.Request) ([]byte, *apiError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("Request body is larger than the %d-byte limit.", mbe.Limit)}
		}
		e := badRequest(mapping.ScimTypeInvalidSyntax, "The request body could not be read.")
		return nil, &e
	}
	return body, nil
}

func decodeObject(body []byte) (map[string]any, *apiError) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || m == nil {
		e := badRequest(mapping.ScimTypeInvalidSyntax, "The request body must be a JSON object.")
		return nil, &e
	}
	if d.More() {
		e := badRequest(mapping.ScimTypeInvalidSyntax, "The request body must hold exactly one JSON object.")
		return nil, &e
	}
	return m, nil
}

// readResource decodes, normalises and validates a POST/PUT body.
func (h *resourceHandler) readResource(r *http.Request) (map[string]any, *apiError) {
	body, aerr := readBody(r)
	if aerr != nil {
		return nil, aerr
	}
	m, aerr := decodeObject(body)
	if aerr != nil {
		return nil, aerr
	}
	normalizeResource(m)
	if !hasSchema(m, h.kind.schema.ID) {
		e := badRequest(mapping.ScimTypeInvalidSyntax, "The \"schemas\" attribute must list %s.", h.kind.schema.ID)
		return nil, &e
	}
	attrs, serr := h.kind.schema.Validate(m)
	if serr != nil {
		e := badRequest(string(serr.ScimType), "%s", serr.Detail)
		return nil, &e
	}
	for _, ext := range h.kind.extensions {
		for k, v := range m {
			if !strings.EqualFold(k, ext.ID) || v == nil {
				continue
			}
			extAttrs, serr := ext.ValidateExtension(v)
			if serr != nil {
				e := badRequest(string(serr.ScimType), "%s: %s", ext.ID, serr.Detail)
				return nil, &e
			}
			if len(extAttrs) > 0 {
				attrs[ext.ID] = extAttrs
			}
		}
	}
	return jsonRoundTrip(attrs), nil
}

// jsonRoundTrip turns validated attributes (json.Number and friends) into
// plain decoded JSON, the form the bridge core stores and patches.
func jsonRoundTrip(m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return m
	}
	return out
}

func hasSchema(m map[string]any, urn string) bool {
	for k, v := range m {
		if !strings.EqualFold(k, "schemas") {
			continue
		}
		list, _ := v.([]any)
		for _, s := range list {
			if str, ok := s.(string); ok && strings.EqualFold(str, urn) {
				m[k] = v
				return true
			}
		}
	}
	return false
}

func (h *resourceHandler) create(w http.ResponseWriter, r *http.Request) {
	attrs, aerr := h.readResource(r)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	var rec cache.Record
	var err error
	if h.kind.cacheKind == cache.KindUser {
		rec, err = h.s.prov.CreateUser(r.Context(), attrs)
	} else {
		rec, err = h.s.prov.CreateGroup(r.Context(), attrs)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeResource(w, r, rec, http.StatusCreated)
}

func (h *resourceHandler) getRecord(r *http.Request, id string) (cache.Record, error) {
	if h.kind.cacheKind == cache.KindUser {
		return h.s.prov.GetUser(r.Context(), id)
	}
	return h.s.prov.GetGroup(r.Context(), id)
}

func (h *resourceHandler) get(w http.ResponseWriter, r *http.Request) {
	rec, err := h.getRecord(r, mux.Vars(r)["id"])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, mapping.Version(rec)) {
		w.Header().Set("ETag", mapping.Version(rec))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.writeResource(w, r, rec, http.StatusOK)
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag || "W/"+t == etag {
			return true
		}
	}
	return false
}

func (h *resourceHandler) replace(w http.ResponseWriter, r *http.Request) {
	attrs, aerr := h.readResource(r)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	id := mux.Vars(r)["id"]
	ifMatch := r.Header.Get("If-Match")
	var rec cache.Record
	var err error
	if h.kind.cacheKind == cache.KindUser {
		rec, err = h.s.prov.ReplaceUser(r.Context(), id, attrs, ifMatch)
	} else {
		rec, err = h.s.prov.ReplaceGroup(r.Context(), id, attrs, ifMatch)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeResource(w, r, rec, http.StatusOK)
}

func (h *resourceHandler) patch(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(r)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	ops, aerr := parsePatch(body)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	id := mux.Vars(r)["id"]
	ifMatch := r.Header.Get("If-Match")
	var rec cache.Record
	var err error
	if h.kind.cacheKind == cache.KindUser {
		rec, _, err = h.s.prov.PatchUser(r.Context(), id, ops, ifMatch)
	} else {
		rec, _, err = h.s.prov.PatchGroup(r.Context(), id, ops, ifMatch)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Groups answer 204 (as Entra expects, and a group can hold thousands
	// of members) unless the client asked for attributes back.
	if h.kind.cacheKind == cache.KindGroup && r.URL.Query().Get("attributes") == "" {
		w.Header().Set("ETag", mapping.Version(rec))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.writeResource(w, r, rec, http.StatusOK)
}

func (h *resourceHandler) delete(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if ifMatch := r.Header.Get("If-Match"); ifMatch != "" {
		rec, err := h.getRecord(r, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !etagMatches(ifMatch, mapping.Version(rec)) {
			writeError(w, apiError{Status: http.StatusPreconditionFailed, Detail: "The resource has changed: its version does not match If-Match."})
			return
		}
	}
	var err error
	if h.kind.cacheKind == cache.KindUser {
		err = h.s.prov.DeleteUser(r.Context(), id)
	} else {
		err = h.s.prov.DeleteGroup(r.Context(), id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// representation is the full SCIM JSON of a record.
func (h *resourceHandler) representation(r *http.Request, rec cache.Record, attrs map[string]any) map[string]any {
	out := make(map[string]any, len(attrs)+4)
	for k, v := range attrs {
		out[k] = v
	}
	out["id"] = rec.ID
	if rec.ExternalID != "" {
		out["externalId"] = rec.ExternalID
	}
	schemas := []string{h.kind.schema.ID}
	for _, e := range h.kind.extensions {
		if _, ok := attrs[e.ID]; ok {
			schemas = append(schemas, e.ID)
		}
	}
	out["schemas"] = schemas
	out["meta"] = map[string]any{
		"resourceType": h.kind.name,
		"created":      rec.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": rec.Modified.UTC().Format(time.RFC3339Nano),
		"version":      mapping.Version(rec),
		"location":     h.s.cfg.BaseURL + "/" + h.kind.endpoint + "/" + rec.ID,
	}
	return out
}

func (h *resourceHandler) render(r *http.Request, rec cache.Record) (map[string]any, error) {
	if rec.Kind == cache.KindGroup {
		return h.s.prov.RenderGroup(rec)
	}
	return h.s.prov.RenderUser(r.Context(), rec)
}

func (h *resourceHandler) writeResource(w http.ResponseWriter, r *http.Request, rec cache.Record, status int) {
	attrs, err := h.render(r, rec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := h.representation(r, rec, attrs)
	proj, aerr := projectionFromQuery(r)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	out = proj.apply(out)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("ETag", mapping.Version(rec))
	if status == http.StatusCreated {
		w.Header().Set("Location", h.s.cfg.BaseURL+"/"+h.kind.endpoint+"/"+rec.ID)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}
