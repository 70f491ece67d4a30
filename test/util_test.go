package test

import (
	"slices"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// memberValues reads the member ids of a SCIM group body.
func memberValues(body map[string]any) []string {
	var out []string
	list, _ := body["members"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		if v, ok := mm["value"].(string); ok {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
