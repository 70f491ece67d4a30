package scimdoc

import "strings"

// serverOwned lists attributes the bridge never keeps from a request:
// server-assigned ones, the password Okta sends as a placeholder, and the
// membership attributes, which are kept apart from the document.
var serverOwned = []string{"id", "meta", "schemas", "password", "groups", "members"}

// Clean returns the attributes of a request document that the bridge
// stores: without server-owned attributes, null values, empty arrays and
// empty extension objects
// (RFC 7644 §3.5.1: null means unassigned), and with at most one
// primary:true per multi-valued attribute (RFC 7643 §2.4: the first one
// sent wins). attrs is not modified, but values are shared with it.
func Clean(attrs map[string]any) map[string]any {
	res := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if v == nil {
			continue
		}
		if l, ok := v.([]any); ok && len(l) == 0 {
			continue
		}
		if m, ok := v.(map[string]any); ok && len(m) == 0 && len(k) > 4 && strings.EqualFold(k[:4], "urn:") {
			continue // an extension whose last attribute was removed
		}
		res[k] = v
	}
	for _, k := range serverOwned {
		foldDelete(res, k)
	}
	onePrimary(res)
	return res
}

// onePrimary keeps at most one primary:true per multi-valued attribute: the
// first one sent wins, the others become false.
func onePrimary(res map[string]any) {
	for _, v := range res {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		seen := false
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			for k, pv := range m {
				if !strings.EqualFold(k, "primary") {
					continue
				}
				if b, _ := Bool(pv); b {
					if seen {
						m[k] = false
					}
					seen = true
				}
			}
		}
	}
}
