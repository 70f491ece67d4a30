package scimdoc

import "strings"

// NormalizeResource rewrites IdP dialect in a POST/PUT body into standard
// SCIM before validation:
//   - a manager sent as a bare string (seen from Entra tenants) becomes
//     {"value": "..."};
//   - string booleans ("True"/"False") in active and primary become
//     booleans.
func NormalizeResource(m map[string]any) {
	for k, v := range m {
		switch {
		case strings.EqualFold(k, EnterpriseUserSchemaURN):
			ext, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for ek, ev := range ext {
				if s, ok := ev.(string); ok && strings.EqualFold(ek, "manager") {
					if s == "" {
						delete(ext, ek)
					} else {
						ext[ek] = map[string]any{"value": s}
					}
				}
			}
		case strings.EqualFold(k, "active"):
			m[k] = boolish(v)
		case strings.EqualFold(k, "emails"), strings.EqualFold(k, "phoneNumbers"),
			strings.EqualFold(k, "addresses"), strings.EqualFold(k, "roles"),
			strings.EqualFold(k, "ims"), strings.EqualFold(k, "photos"), strings.EqualFold(k, "entitlements"):
			list, ok := v.([]any)
			if !ok {
				continue
			}
			for _, e := range list {
				if em, ok := e.(map[string]any); ok {
					for ek, ev := range em {
						if strings.EqualFold(ek, "primary") {
							em[ek] = boolish(ev)
						}
					}
				}
			}
		}
	}
}

func boolish(v any) any {
	if b, ok := Bool(v); ok {
		return b
	}
	return v
}
