package emulator

import (
	"strconv"
	"time"
)

// limiter is a fixed-window counter per HTTP method, per organization, as
// UiPath Automation Cloud enforces (upstream-api.md §10). A window opens with
// the first call after the previous one closed. Guarded by Server.mu.
type limiter struct {
	windows map[string]*window
}

type window struct {
	start time.Time
	count int
}

// allow counts an API call with the given method. When the method's budget
// for the current window is spent it returns false and the time until the
// window resets.
func (s *Server) allow(method string) (time.Duration, bool) {
	limit, ok := s.cfg.Limits[method]
	if !ok || limit < 0 {
		return 0, true
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.lim.windows[method]
	if w == nil || !now.Before(w.start.Add(s.cfg.Window)) {
		w = &window{start: now}
		s.lim.windows[method] = w
	}
	if w.count >= limit {
		return w.start.Add(s.cfg.Window).Sub(now), false
	}
	w.count++
	return 0, true
}

// retryAfterSeconds renders d as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}
