package upstream

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The API sends enums as numbers, though its Swagger and docs list strings
// (upstream-api.md §0). The decoders below accept both; an unknown string
// decodes as -1.

var (
	userTypeNames = map[string]int{"user": 0, "robot": 1, "directoryuser": 2, "directorygroup": 3,
		"robotaccount": 4, "application": 5}
	userCategoryNames = map[string]int{"local": 0, "linkedlocal": 1, "directory": 2}
	groupTypeNames    = map[string]int{"builtin": 0, "custom": 1}
)

// decodeEnum reads a number or a name from raw; absent and null give 0.
func decodeEnum(raw json.RawMessage, names map[string]int) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, err
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	if n, ok := names[strings.ToLower(s)]; ok {
		return n, nil
	}
	return -1, nil
}

// UnmarshalJSON decodes a user, accepting type and category as numbers or
// names.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	aux := struct {
		*plain
		Type     json.RawMessage `json:"type"`
		Category json.RawMessage `json:"category"`
	}{plain: (*plain)(u)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var err error
	if u.Type, err = decodeEnum(aux.Type, userTypeNames); err != nil {
		return err
	}
	u.Category, err = decodeEnum(aux.Category, userCategoryNames)
	return err
}

// UnmarshalJSON decodes a group, accepting type as a number or a name.
func (g *Group) UnmarshalJSON(b []byte) error {
	type plain Group
	aux := struct {
		*plain
		Type json.RawMessage `json:"type"`
	}{plain: (*plain)(g)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var err error
	g.Type, err = decodeEnum(aux.Type, groupTypeNames)
	return err
}

// UnmarshalJSON decodes a member reference, accepting the user type as a
// number or a name.
func (m *MemberRef) UnmarshalJSON(b []byte) error {
	type plain MemberRef
	aux := struct {
		*plain
		Type json.RawMessage `json:"type"`
	}{plain: (*plain)(m)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var err error
	m.Type, err = decodeEnum(aux.Type, userTypeNames)
	return err
}
