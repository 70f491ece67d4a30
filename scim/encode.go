package scim

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/jsonscan"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// appendResource appends an item's SCIM representation, as proj shows it,
// to buf. It is the one place a resource is written out, for single
// answers and lists alike.
//
// When the whole resource is asked for, the stored document's top-level
// members are copied as stored, without decoding the document into a map
// and encoding it again (the lookup IdPs send on every sync is answered
// this way), and the server-owned members are written after them. That is
// an optimisation of the general path below, which it must equal
// (TestAppendResourceFastEqualsGeneral).
func (h *resourceHandler) appendResource(buf []byte, it mapping.Item, proj scimdoc.Projection) ([]byte, error) {
	if proj.Whole() {
		if out, ok := h.appendStored(buf, it); ok {
			return out, nil
		}
	}
	attrs, err := it.Attrs()
	if err != nil {
		return buf, err
	}
	b, err := json.Marshal(proj.Apply(h.representation(it, attrs)))
	if err != nil {
		return buf, err
	}
	return append(buf, b...), nil
}

// appendStored is appendResource's fast path. It reports false when the
// stored document is not of the shape the bridge stores (not an object, or
// holding a server-owned attribute); the general path then renders it.
func (h *resourceHandler) appendStored(buf []byte, it mapping.Item) ([]byte, bool) {
	start := len(buf)
	buf = append(buf, '{')
	present := make([]bool, len(h.rt.Extensions))
	var custom []string
	clash, active := false, false
	if len(it.Doc) > 0 {
		ok := jsonscan.EachMember(it.Doc, func(rawKey []byte, key string, val []byte) {
			switch key {
			case "id", "schemas", "meta", "groups", "members":
				clash = true
			case "active":
				active = true
			}
			known := false
			for i, e := range h.rt.Extensions {
				if key == e.URN {
					present[i], known = true, true
				}
			}
			if !known && len(val) > 0 && val[0] == '{' && scimdoc.IsExtensionKey(it.Kind, key) {
				custom = append(custom, key)
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
	switch it.Kind {
	case scimdoc.KindUser:
		if !active {
			buf = append(buf, `"active":true,`...)
		}
	case scimdoc.KindGroup:
		buf = append(buf, `"members":[`...)
		for i, m := range it.Members {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"$ref":`...)
			buf = jsonscan.AppendString(buf, h.s.cfg.BaseURL+"/Users/"+m)
			buf = append(buf, `,"type":"User","value":`...)
			buf = jsonscan.AppendString(buf, m)
			buf = append(buf, '}')
		}
		buf = append(buf, "],"...)
	}
	buf = append(buf, `"id":`...)
	buf = jsonscan.AppendString(buf, it.ID)
	buf = append(buf, `,"schemas":[`...)
	buf = jsonscan.AppendString(buf, h.rt.Schema.URN)
	for i, e := range h.rt.Extensions {
		if present[i] {
			buf = append(buf, ',')
			buf = jsonscan.AppendString(buf, e.URN)
		}
	}
	slices.Sort(custom)
	for _, urn := range custom {
		buf = append(buf, ',')
		buf = jsonscan.AppendString(buf, urn)
	}
	buf = append(buf, `],"meta":{"resourceType":`...)
	buf = jsonscan.AppendString(buf, h.rt.Name)
	buf = append(buf, `,"created":"`...)
	buf = it.Created.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","lastModified":"`...)
	buf = it.Modified.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","version":`...)
	buf = jsonscan.AppendString(buf, it.Version)
	buf = append(buf, `,"location":`...)
	buf = jsonscan.AppendString(buf, h.location(it.ID))
	buf = append(buf, '}')
	if len(it.Groups) > 0 {
		buf = append(buf, `,"groups":[`...)
		for i, g := range it.Groups {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"$ref":`...)
			buf = jsonscan.AppendString(buf, h.s.cfg.BaseURL+"/Groups/"+g.ID)
			if g.Display != "" {
				buf = append(buf, `,"display":`...)
				buf = jsonscan.AppendString(buf, g.Display)
			}
			buf = append(buf, `,"type":"direct","value":`...)
			buf = jsonscan.AppendString(buf, g.ID)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	return append(buf, '}'), true
}
