package scimdoc

import "strings"

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
	if nestsDeeper(raw, "([", ")]", MaxNesting) {
		return Errorf(scimType, "the %s nests parentheses or brackets more than %d deep", what, MaxNesting)
	}
	return nil
}

// CheckJSONDepth refuses, as invalidSyntax, a JSON document that nests
// objects and arrays deeper than MaxJSONDepth. It only counts; whether the
// document is valid JSON is for the decoder to say.
func CheckJSONDepth(body []byte) error {
	if nestsDeeper(body, "{[", "}]", MaxJSONDepth) {
		return Errorf(ScimTypeInvalidSyntax, "the JSON document nests objects and arrays more than %d deep", MaxJSONDepth)
	}
	return nil
}

// nestsDeeper reports whether the opening characters in opens nest deeper
// than limit in s, counting none inside double-quoted strings (a backslash
// escapes the next character there). Filters, paths and JSON share that
// string syntax.
func nestsDeeper[T string | []byte](s T, opens, closes string, limit int) bool {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case strings.IndexByte(opens, c) >= 0:
			if depth++; depth > limit {
				return true
			}
		case strings.IndexByte(closes, c) >= 0:
			depth--
		}
	}
	return false
}
