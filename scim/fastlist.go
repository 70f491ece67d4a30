package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
)

// answerLookup serves the request IdPs send on every sync,
// GET /Users?filter=userName eq "…" (or externalId), without decoding the
// stored document into a map and encoding it again: its top-level members
// are copied as they are stored, and the server-owned ones (id, schemas,
// meta, groups) added. It reports false when the request is not of that
// shape or the store cannot answer it in one round trip; answerList then
// serves it. The answer is the same JSON object answerList writes.
func (h *resourceHandler) answerLookup(w http.ResponseWriter, r *http.Request, p listParams, f *mapping.Filter) bool {
	if h.kind.cacheKind != cache.KindUser || !f.IndexOnly() || p.sortBy != "" ||
		len(p.proj.include) > 0 || len(p.proj.exclude) > 0 || p.startIndex != 1 || p.count < 1 {
		return false
	}
	attr, value := f.IndexHint()
	rec, groups, found, ok, err := h.s.prov.LookupUser(r.Context(), attr, value)
	if !ok && err == nil {
		return false
	}
	if err != nil {
		h.fail(w, r, err)
		return true
	}
	var buf bytes.Buffer
	n := "0"
	if found {
		n = "1"
	}
	buf.WriteString(`{"schemas":["` + listResponseSchema + `"],"totalResults":` + n + `,"startIndex":1,"itemsPerPage":` + n + `,"Resources":[`)
	if found {
		if !h.appendUser(&buf, rec, groups) {
			return false
		}
	}
	buf.WriteString("]}\n")
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(buf.Bytes())
	return true
}

// appendUser writes a user's SCIM representation: the stored attributes
// plus id, schemas, meta, groups and, when absent, active:true.
func (h *resourceHandler) appendUser(buf *bytes.Buffer, rec cache.Record, groups []string) bool {
	var attrs map[string]json.RawMessage
	if len(rec.Resource) > 0 {
		if err := json.Unmarshal(rec.Resource, &attrs); err != nil {
			return false
		}
	}
	for _, k := range []string{"id", "schemas", "meta", "groups"} {
		if _, clash := attrs[k]; clash {
			return false // not the shape the bridge stores: let answerList render it
		}
	}
	buf.WriteByte('{')
	field := func(k string, v []byte) {
		if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '{' {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.Quote(k))
		buf.WriteByte(':')
		buf.Write(v)
	}
	schemas := `["` + h.kind.schema.ID + `"`
	for k, v := range attrs {
		field(k, v)
		for _, e := range h.kind.extensions {
			if k == e.ID {
				schemas += `,"` + e.ID + `"`
			}
		}
	}
	if _, ok := attrs["active"]; !ok {
		field("active", []byte("true"))
	}
	field("id", []byte(strconv.Quote(rec.ID)))
	field("schemas", []byte(schemas+"]"))
	meta, _ := json.Marshal(map[string]any{
		"resourceType": h.kind.name,
		"created":      rec.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": rec.Modified.UTC().Format(time.RFC3339Nano),
		"version":      mapping.Version(rec),
		"location":     h.s.cfg.BaseURL + "/" + h.kind.endpoint + "/" + rec.ID,
	})
	field("meta", meta)
	if len(groups) > 0 {
		list := make([]map[string]string, 0, len(groups))
		for _, g := range groups {
			list = append(list, map[string]string{"value": g, "type": "direct", "$ref": "../Groups/" + g})
		}
		b, _ := json.Marshal(list)
		field("groups", b)
	}
	buf.WriteByte('}')
	return true
}
