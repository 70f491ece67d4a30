package emulator

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Fault alters the answers to matching calls. Faults are matched in the
// order they were injected; the first match is used and consumed.
type Fault struct {
	// Method restricts the fault to one HTTP method; "" matches any.
	Method string
	// PathContains restricts the fault to paths containing it; "" matches
	// any API path (under /api; token calls are only matched explicitly).
	PathContains string
	// PathMatches, when set, restricts the fault further to paths it
	// matches (a path that contains another's, say /Group/{p}/{id} and
	// /Group/{p}/{id}/Members, is told apart this way).
	PathMatches *regexp.Regexp
	// Status is the status to answer with; 0 leaves the answer alone (use
	// with Delay).
	Status int
	// Body is an optional raw body for the fault answer.
	Body string
	// RetryAfter sets Retry-After (whole seconds, rounded up) when > 0.
	RetryAfter time.Duration
	// Delay is slept before answering; the sleep ends early if the client
	// goes away.
	Delay time.Duration
	// Times is how many matching calls the fault affects: 0 → 1, -1 →
	// every call until ClearFaults.
	Times int
	// AfterApply applies the call to state first and then sends the fault
	// answer, simulating a response lost after the change was made.
	AfterApply bool
	// Late holds the call for Delay and then applies it even when the
	// client has stopped waiting: a slow server finishing work whose
	// answer nobody reads. A client that times out cannot tell whether,
	// or when, the change happens; a later call may land before it.
	Late bool
	// Drop closes the connection instead of answering (after applying
	// the call when AfterApply is set): the client sees a transport
	// error, never a status.
	Drop bool
}

type faultRec struct {
	Fault
	left int // -1 = forever
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left == 0 {
		left = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRec{Fault: f, left: left})
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns a copy of the first fault matching the call and
// consumes one of its uses.
func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if f.PathContains == "" && !isAPIPath(path) {
			continue
		}
		if !strings.Contains(path, f.PathContains) {
			continue
		}
		if f.PathMatches != nil && !f.PathMatches.MatchString(path) {
			continue
		}
		out := f.Fault
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

func writeFault(w http.ResponseWriter, f *Fault) {
	if f.Drop {
		dropConn(w)
		return
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(f.RetryAfter))
	}
	if f.Body != "" {
		ct := "text/plain; charset=utf-8"
		if b := strings.TrimSpace(f.Body); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
			ct = "application/json; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}

// bufferWriter holds an answer so that an AfterApply fault can replace it.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferWriter() *bufferWriter { return &bufferWriter{header: http.Header{}} }

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferWriter) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// StatusDropped is the status the request log records for a call whose
// connection a Drop fault closed.
const StatusDropped = 444

// dropConn closes the client's connection without writing an answer.
func dropConn(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		sw.status = StatusDropped
	}
	if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = c.Close()
		return
	}
	// HTTP/2 or a wrapped writer: abort the handler, which resets the
	// stream without an answer.
	panic(http.ErrAbortHandler)
}
