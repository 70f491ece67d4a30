package scimdoc

import "fmt"

// Bounds on what a client may send. Every parser of client input that
// recurses (filters, attribute paths, JSON documents) is bounded by these,
// so that no request, however hostile, can exhaust the bridge's stack or
// memory: a request past a bound is refused with a 400 before it is
// parsed. Real IdP traffic stays far below them (Okta's and Entra's
// filters are one or two comparisons, their documents nest three levels).
const (
	// MaxFilterLength bounds a filter (RFC 7644 §3.4.2.2), in bytes.
	MaxFilterLength = 4096
	// MaxPathLength bounds an attribute path: a PATCH path (§3.5.2) or
	// sortBy (§3.4.2.3), in bytes.
	MaxPathLength = 512
	// MaxNesting bounds the nesting of parentheses and brackets in a
	// filter or path.
	MaxNesting = 16
	// MaxJSONDepth bounds the nesting of objects and arrays in a request
	// body.
	MaxJSONDepth = 32
)

// checkExpr refuses a filter or path longer than maxLen bytes or nesting
// parentheses and brackets deeper than MaxNesting (outside string
// literals), with an error of scimType.
func checkExpr(what, raw string, maxLen int, scimType string) error {
	if len(raw) > maxLen {
		return Errorf(scimType, "the %s is %d bytes long; the limit is %d", what, len(raw), maxLen)
	}
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '(' || c == '[':
			if depth++; depth > MaxNesting {
				return Errorf(scimType, "the %s nests parentheses or brackets more than %d deep", what, MaxNesting)
			}
		case c == ')' || c == ']':
			depth--
		}
	}
	return nil
}

// CheckJSONDepth refuses, as invalidSyntax, a JSON document that nests
// objects and arrays deeper than MaxJSONDepth. It only counts; whether the
// document is valid JSON is for the decoder to say.
func CheckJSONDepth(body []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range body {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > MaxJSONDepth {
				return Errorf(ScimTypeInvalidSyntax, "%s", fmt.Sprintf("the JSON document nests objects and arrays more than %d deep", MaxJSONDepth))
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
