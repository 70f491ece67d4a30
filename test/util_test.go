package test

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
)

func itoa(n int) string { return strconv.Itoa(n) }

// lockedWriter lets concurrent handlers share one log buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns everything written so far.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.w.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}

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
