package jsonscan

import (
	"encoding/json"
	"unicode/utf8"
)

// EachMember calls fn for every member of the JSON object doc, in document
// order, with the member's key as written (quoted, escapes kept), its
// unescaped value, and the raw member value. doc must be valid JSON: the
// store validated it when it decoded the record. It reports false when doc
// is not an object; it walks the document once and allocates only for keys
// that contain escapes (or bytes encoding/json would replace).
func EachMember(doc []byte, fn func(rawKey []byte, key string, val []byte)) bool {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return false
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return skipSpace(doc, i+1) == len(doc)
	}
	for i < len(doc) {
		if doc[i] != '"' {
			return false
		}
		end := endOfString(doc, i)
		if end < 0 {
			return false
		}
		rawKey := doc[i:end]
		var key string
		if hasByte(rawKey, '\\') || !utf8.Valid(rawKey) {
			if err := json.Unmarshal(rawKey, &key); err != nil {
				return false
			}
		} else {
			key = string(rawKey[1 : len(rawKey)-1])
		}
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return false
		}
		i = skipSpace(doc, i+1)
		end = endOfValue(doc, i)
		if end < 0 {
			return false
		}
		fn(rawKey, key, doc[i:end])
		i = skipSpace(doc, end)
		if i >= len(doc) {
			return false
		}
		switch doc[i] {
		case ',':
			i = skipSpace(doc, i+1)
		case '}':
			return skipSpace(doc, i+1) == len(doc)
		default:
			return false
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// endOfString returns the index just past the string starting at b[i]
// (a '"'), or -1.
func endOfString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// endOfValue returns the index just past the value starting at b[i], or -1.
func endOfValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := endOfString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

// AppendString appends s as a JSON string, escaped as encoding/json does
// (HTML characters included).
func AppendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// String returns the string a JSON string value (quotes included) holds;
// false if val is not a string.
func String(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	if inner := val[1 : len(val)-1]; !hasByte(inner, '\\') && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		return "", false
	}
	return s, true
}
