package scim

import (
	"net/http"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/jsonscan"
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
	var buf []byte
	n := "0"
	if found {
		n = "1"
	}
	buf = append(buf, `{"schemas":["`+listResponseSchema+`"],"totalResults":`+n+`,"startIndex":1,"itemsPerPage":`+n+`,"Resources":[`...)
	if found {
		var ok bool
		if buf, ok = h.appendUser(buf, rec, groups); !ok {
			return false
		}
	}
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(buf)
	return true
}

// appendUser appends a user's SCIM representation: the stored attributes,
// in stored order, plus id, schemas, meta, groups and, when absent,
// active:true. It reports false when the stored document is not of the
// shape the bridge stores (not an object, or holding a server-owned
// attribute); answerList then renders it.
func (h *resourceHandler) appendUser(buf []byte, rec cache.Record, groups []string) ([]byte, bool) {
	start := len(buf)
	buf = append(buf, '{')
	var present [4]bool // which of h.kind.extensions the document holds
	clash, active := false, false
	if len(rec.Resource) > 0 {
		ok := jsonscan.EachMember(rec.Resource, func(rawKey []byte, key string, val []byte) {
			switch key {
			case "id", "schemas", "meta", "groups":
				clash = true
			case "active":
				active = true
			}
			for i, e := range h.kind.extensions {
				if key == e.ID && i < len(present) {
					present[i] = true
				}
			}
			if len(buf) > start+1 {
				buf = append(buf, ',')
			}
			buf = append(buf, rawKey...)
			buf = append(buf, ':')
			buf = append(buf, val...)
		})
		if !ok || clash {
			return buf[:start], false
		}
	}
	if len(buf) > start+1 {
		buf = append(buf, ',')
	}
	if !active {
		buf = append(buf, `"active":true,`...)
	}
	buf = append(buf, `"id":`...)
	buf = jsonscan.AppendString(buf, rec.ID)
	buf = append(buf, `,"schemas":["`+h.kind.schema.ID+`"`...)
	for i, e := range h.kind.extensions {
		if i >= len(present) {
			return buf[:start], false // more extensions than this path knows
		}
		if present[i] {
			buf = append(buf, `,"`+e.ID+`"`...)
		}
	}
	buf = append(buf, `],"meta":{"resourceType":`...)
	buf = jsonscan.AppendString(buf, h.kind.name)
	buf = append(buf, `,"created":"`...)
	buf = rec.Created.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","lastModified":"`...)
	buf = rec.Modified.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","version":`...)
	buf = jsonscan.AppendString(buf, mapping.Version(rec))
	buf = append(buf, `,"location":`...)
	buf = jsonscan.AppendString(buf, h.s.cfg.BaseURL+"/"+h.kind.endpoint+"/"+rec.ID)
	buf = append(buf, '}')
	if len(groups) > 0 {
		buf = append(buf, `,"groups":[`...)
		for i, g := range groups {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"$ref":`...)
			buf = jsonscan.AppendString(buf, "../Groups/"+g)
			buf = append(buf, `,"type":"direct","value":`...)
			buf = jsonscan.AppendString(buf, g)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	return append(buf, '}'), true
}
