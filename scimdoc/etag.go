package scimdoc

import (
	"strconv"
	"strings"
)

// ETag is the entity tag of a resource at a version (RFC 7644 §3.14): a
// weak tag of the version counter, W/"n".
func ETag(version int64) string {
	return `W/"` + strconv.FormatInt(version, 10) + `"`
}

// MatchETag reports whether an If-Match or If-None-Match header names etag.
// The header is a comma-separated list of tags or "*" (any version); a tag
// matches with or without its weak prefix, since a SCIM client echoes
// what it was given and some drop the W/. It is the one parser of those
// headers: every verb checks them through it.
func MatchETag(header, etag string) bool {
	bare := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag || strings.TrimPrefix(t, "W/") == bare {
			return true
		}
	}
	return false
}
