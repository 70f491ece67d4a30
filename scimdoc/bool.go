package scimdoc

import "strings"

// Bool reads a SCIM boolean: a JSON boolean, or the string forms Entra ID
// sends ("True", "False", in any case, surrounding spaces ignored). ok is
// false for anything else. Every rule that reads a boolean from a document
// (PATCH values, filters, primary flags, active) goes through it.
func Bool(v any) (b, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch s := strings.TrimSpace(x); {
		case strings.EqualFold(s, "true"):
			return true, true
		case strings.EqualFold(s, "false"):
			return false, true
		}
	}
	return false, false
}
