package scim

import (
	"encoding/json"
	"net/http"
	"strings"

	escim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/scimdoc"
)

var (
	userSchema       = schema.CoreUserSchema()
	enterpriseSchema = schema.ExtensionEnterpriseUser()
	groupSchema      = schema.CoreGroupSchema()
)

// externalIDAttr is the common externalId attribute, which the core schemas
// do not list (RFC 7643 §3.1).
var externalIDAttr = schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
	CaseExact:  true,
	Mutability: schema.AttributeMutabilityReadWrite(),
	Name:       "externalId",
	Uniqueness: schema.AttributeUniquenessNone(),
}))

func withExternalID(s schema.Schema) schema.Schema {
	attrs := make([]schema.CoreAttribute, len(s.Attributes), len(s.Attributes)+1)
	copy(attrs, s.Attributes)
	s.Attributes = append(attrs, externalIDAttr)
	return s
}

func resourceTypes() []escim.ResourceType {
	return []escim.ResourceType{
		{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Description: optional.NewString("User Account"),
			Schema:      userSchema,
			SchemaExtensions: []escim.SchemaExtension{
				{Schema: enterpriseSchema},
			},
		},
		{
			ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
			Description: optional.NewString("Group"),
			Schema:      groupSchema,
		},
	}
}

// newDiscovery serves /Schemas and /ResourceTypes through elimity (the
// resource endpoints never reach it).
func newDiscovery(cfg Config) (http.Handler, error) {
	srv, err := escim.NewServer(&escim.ServerArgs{
		ServiceProviderConfig: &escim.ServiceProviderConfig{MaxResults: cfg.MaxResults, SupportFiltering: true, SupportPatch: true},
		ResourceTypes:         resourceTypes(),
	})
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// serviceProviderConfig tells IdPs what the bridge supports (RFC 7643 §5).
func (s *Server) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) {
	body := map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/scim-bridge/scim-bridge#readme",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
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

// validate checks a POST/PUT body against the kind's schema.
func validate(kind scimdoc.Kind, m map[string]any) (map[string]any, error) {
	core, exts := withExternalID(userSchema), []schema.Schema{enterpriseSchema}
	if kind == scimdoc.KindGroup {
		core, exts = withExternalID(groupSchema), nil
	}
	scimdoc.NormalizeResource(m)
	if !hasSchema(m, core.ID) {
		return nil, scimdoc.Errorf(scimdoc.ScimTypeInvalidSyntax, "The \"schemas\" attribute must list %s.", core.ID)
	}
	attrs, serr := core.Validate(m)
	if serr != nil {
		return nil, scimdoc.Errorf(string(serr.ScimType), "%s", serr.Detail)
	}
	for _, ext := range exts {
		for k, v := range m {
			if !strings.EqualFold(k, ext.ID) || v == nil {
				continue
			}
			extAttrs, serr := ext.ValidateExtension(v)
			if serr != nil {
				return nil, scimdoc.Errorf(string(serr.ScimType), "%s: %s", ext.ID, serr.Detail)
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
				return true
			}
		}
	}
	return false
}
