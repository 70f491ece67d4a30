package scim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// discovery serves /Schemas and /ResourceTypes (RFC 7644 §4), rendered from
// scimdoc's schema definition: the same tables that validate bodies and
// apply PATCH, filters and sorting, so what they say is what the bridge
// does.
type discovery struct {
	schemas, resourceTypes []map[string]any
}

func newDiscovery(cfg Config) *discovery {
	d := &discovery{
		schemas:       scimdoc.SchemaResources(cfg.BaseURL, cfg.Extensions...),
		resourceTypes: scimdoc.ResourceTypeResources(cfg.BaseURL, cfg.Extensions...),
	}
	if cfg.UserNameImmutable {
		setMutability(d.schemas, scimdoc.UserSchemaURN, "userName", scimdoc.MutabilityImmutable)
	}
	return d
}

// setMutability changes what /Schemas says of one top-level attribute, to
// match a policy the provisioner applies.
func setMutability(schemas []map[string]any, urn, name string, m scimdoc.Mutability) {
	for _, s := range schemas {
		if s["id"] != urn {
			continue
		}
		attrs, _ := s["attributes"].([]any)
		for _, a := range attrs {
			if attr, ok := a.(map[string]any); ok && attr["name"] == name {
				attr["mutability"] = m.String()
			}
		}
	}
}

func (d *discovery) listSchemas(w http.ResponseWriter, r *http.Request) {
	writeDiscovery(w, r, d.schemas)
}

func (d *discovery) listResourceTypes(w http.ResponseWriter, r *http.Request) {
	writeDiscovery(w, r, d.resourceTypes)
}

// writeDiscovery answers a list of discovery resources, or the one named
// by the {id} path variable (matched case-insensitively, as URNs are).
func writeDiscovery(w http.ResponseWriter, r *http.Request, all []map[string]any) {
	if id, ok := mux.Vars(r)["id"]; ok {
		for _, res := range all {
			if s, _ := res["id"].(string); strings.EqualFold(s, id) {
				w.Header().Set("Content-Type", contentType)
				_ = json.NewEncoder(w).Encode(res)
				return
			}
		}
		writeError(w, apiError{Status: http.StatusNotFound, Detail: "No such resource: " + id})
		return
	}
	n := strconv.Itoa(len(all))
	body, err := json.Marshal(all)
	if err != nil {
		writeError(w, apiError{Status: http.StatusInternalServerError, Detail: "Internal error; see the bridge log."})
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write([]byte(`{"schemas":["` + listResponseSchema + `"],"totalResults":` + n + `,"startIndex":1,"itemsPerPage":` + n + `,"Resources":`))
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("}\n"))
}

// serviceProviderConfig tells IdPs what the bridge supports (RFC 7643 §5).
func (s *Server) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) {
	body := map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/scim-bridge/scim-bridge#readme",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": s.cfg.MaxBulkOperations, "maxPayloadSize": s.cfg.MaxBodyBytes},
		"filter":           map[string]any{"supported": true, "maxResults": s.cfg.MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true,
			"description": "Authentication with a bearer token configured in SCIM_BRIDGE_TOKENS.",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.cfg.BaseURL + "/ServiceProviderConfig"},
	}
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(body)
}
