package scim

import (
	"strings"
)

// bulkId references (RFC 7644 §3.7.2). A reference is "bulkId:" and the
// bulkId: as a whole string value (a member's value, a PATCH value), or
// embedded in an operation's path ("/Groups/bulkId:x") or a PATCH
// operation's path (`members[value eq "bulkId:x"]`), where the bulkId
// ends at the first character that cannot continue a path segment or a
// filter's string.

// refEnd returns the length of the embedded bulkId at the start of s.
func refEnd(s string) int {
	if i := strings.IndexAny(s, " \t\"']/?)"); i >= 0 {
		return i
	}
	return len(s)
}

// embeddedRefs appends the bulkIds referenced within s to refs.
func embeddedRefs(s string, refs []string) []string {
	for {
		i := strings.Index(s, bulkRefPrefix)
		if i < 0 {
			return refs
		}
		s = s[i+len(bulkRefPrefix):]
		n := refEnd(s)
		refs = append(refs, s[:n])
		s = s[n:]
	}
}

// replaceRefs replaces the references in s with the ids created for them;
// exact: s is a whole value, referencing at most one bulkId.
func replaceRefs(s string, created map[string]string, exact bool) string {
	if exact {
		if id, ok := created[strings.TrimPrefix(s, bulkRefPrefix)]; ok && strings.HasPrefix(s, bulkRefPrefix) {
			return id
		}
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, bulkRefPrefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i+len(bulkRefPrefix):]
		n := refEnd(s)
		if id, ok := created[s[:n]]; ok {
			b.WriteString(id)
		} else {
			b.WriteString(bulkRefPrefix + s[:n])
		}
		s = s[n:]
	}
}

// dataRefs appends the bulkIds an operation's decoded data references to
// refs; key is the member name v is the value of.
func dataRefs(v any, key string, refs []string) []string {
	switch v := v.(type) {
	case string:
		switch {
		case strings.EqualFold(key, "path"):
			return embeddedRefs(v, refs)
		case strings.HasPrefix(v, bulkRefPrefix):
			return append(refs, strings.TrimPrefix(v, bulkRefPrefix))
		}
	case []any:
		for _, e := range v {
			refs = dataRefs(e, key, refs)
		}
	case map[string]any:
		for k, e := range v {
			refs = dataRefs(e, k, refs)
		}
	}
	return refs
}

// resolveRefs returns v with the references dataRefs finds replaced by
// the ids created for them.
func resolveRefs(v any, key string, created map[string]string) any {
	switch v := v.(type) {
	case string:
		return replaceRefs(v, created, !strings.EqualFold(key, "path"))
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolveRefs(e, key, created)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = resolveRefs(e, k, created)
		}
		return out
	}
	return v
}

// circularOps reports, per operation, whether it is part of a circular
// chain of bulkId references: it references (through other operations'
// references) its own bulkId.
func circularOps(ops []bulkOperation) []bool {
	byID := make(map[string]int, len(ops))
	for i, op := range ops {
		if op.BulkID != "" {
			byID[op.BulkID] = i
		}
	}
	next := func(i int) []int {
		var out []int
		for _, ref := range ops[i].refs {
			if j, ok := byID[ref]; ok {
				out = append(out, j)
			}
		}
		return out
	}
	out := make([]bool, len(ops))
	for i := range ops {
		if len(ops[i].refs) == 0 {
			continue
		}
		seen := make(map[int]bool)
		stack := next(i)
		for len(stack) > 0 && !out[i] {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if j == i {
				out[i] = true
			}
			if !seen[j] {
				seen[j] = true
				stack = append(stack, next(j)...)
			}
		}
	}
	return out
}
