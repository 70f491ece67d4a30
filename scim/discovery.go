package scim

import (
	"encoding/json"
	"net/http"

	escim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
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
