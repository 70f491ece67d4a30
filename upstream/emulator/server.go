package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a Server. Every zero value selects production-like
// behaviour.
type Config struct {
	// PartitionID is the organization GUID. Zero → a random GUID.
	PartitionID string
	// ClientID is the external application's id. Zero → "emulator-client".
	ClientID string
	// ClientSecret is the external application's secret. Zero →
	// "emulator-secret".
	ClientSecret string
	// GrantedScopes are the scopes the application may receive. Zero →
	// PM.User PM.Group (resource scopes, which satisfy both the .Read and
	// the .Write check), what an administrator grants the bridge.
	GrantedScopes []string
	// TokenTTL is the access-token lifetime. Zero → 1h.
	TokenTTL time.Duration
	// Limits are the calls allowed per HTTP method per Window. The map is
	// merged over the defaults GET 300, POST 24000, PUT 160, PATCH 160,
	// DELETE 160; a negative value makes that method unlimited; methods
	// absent from both are unlimited.
	Limits map[string]int
	// Window is the rate-limit window. Zero → 5m.
	Window time.Duration
	// DisableRateLimits turns rate limiting off. The zero value keeps limits
	// on, like production.
	DisableRateLimits bool
	// Latency is added to every API call (not token calls). Zero → none.
	Latency time.Duration
	// Now is the clock for timestamps, token expiry and rate windows. Zero →
	// time.Now.
	Now func() time.Time
	// MaxRequestLog caps the call log (Requests, CountRequests): past it the
	// oldest quarter is dropped, so that a long-running emulator does not
	// grow without end. Zero → unlimited, as tests that count every call
	// need.
	MaxRequestLog int
}

var defaultLimits = map[string]int{
	http.MethodGet:    300,
	http.MethodPost:   24000,
	http.MethodPut:    160,
	http.MethodPatch:  160,
	http.MethodDelete: 160,
}

func (c Config) withDefaults() Config {
	if c.PartitionID == "" {
		c.PartitionID = uuid.NewString()
	} else if id, ok := parseGUID(c.PartitionID); ok {
		c.PartitionID = id
	}
	if c.ClientID == "" {
		c.ClientID = "emulator-client"
	}
	if c.ClientSecret == "" {
		c.ClientSecret = "emulator-secret"
	}
	if len(c.GrantedScopes) == 0 {
		c.GrantedScopes = []string{"PM.User", "PM.Group"}
	} else {
		c.GrantedScopes = append([]string(nil), c.GrantedScopes...)
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	limits := make(map[string]int, len(defaultLimits)+len(c.Limits))
	for m, n := range defaultLimits {
		limits[m] = n
	}
	for m, n := range c.Limits {
		if n != 0 {
			limits[strings.ToUpper(m)] = n
		}
	}
	c.Limits = limits
	if c.Window <= 0 {
		c.Window = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Request is one entry of the call log.
type Request struct {
	Method string
	Path   string
	Query  string
	Status int
	At     time.Time
	// Call is the call's sequence number: every call the emulator serves,
	// token calls included, is numbered from 1 in arrival order. The
	// membership log (MembershipLog) names calls by it.
	Call int
}

// Server is the emulator. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	key    []byte // HS256 signing key, per server
	routes []route

	mu     sync.Mutex // guards everything below
	st     *state
	reqs   []Request
	calls  int // calls numbered so far (Request.Call)
	memLog []MembershipOp
	faults []*faultRec
	lim    limiter
}

// New returns an emulator with the built-in Everyone and Administrators
// groups and no users. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	s := &Server{
		cfg: cfg,
		log: logger,
		key: key,
		st:  newState(cfg.Now()),
		lim: limiter{windows: map[string]*window{}},
	}
	s.routes = s.apiRoutes()
	return s
}

// PartitionID returns the organization GUID (lower case).
func (s *Server) PartitionID() string { return s.cfg.PartitionID }

// Credentials returns the client id and secret the token endpoint accepts.
func (s *Server) Credentials() (clientID, clientSecret string) {
	return s.cfg.ClientID, s.cfg.ClientSecret
}

// Requests returns a copy of the call log, token calls included, in arrival
// order (the newest Config.MaxRequestLog calls when that is set).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// ResetRequests empties the call log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

// CountRequests returns how many API calls (paths under /api, not token
// calls) with the given method are in the call log.
func (s *Server) CountRequests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.reqs {
		if strings.EqualFold(r.Method, method) && isAPIPath(r.Path) {
			n++
		}
	}
	return n
}

func isAPIPath(p string) bool { return p == "/api" || strings.HasPrefix(p, "/api/") }

// ServeHTTP serves the token endpoint, OIDC discovery and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	at := s.cfg.Now()
	s.mu.Lock()
	s.calls++
	call := s.calls
	s.mu.Unlock()
	r = r.WithContext(context.WithValue(r.Context(), callKey{}, call))
	s.serve(sw, r)
	status := sw.status
	if status == 0 {
		if r.Context().Err() != nil {
			status = 499 // client went away during a delay
		} else {
			status = http.StatusOK
		}
	}
	s.mu.Lock()
	if limit := s.cfg.MaxRequestLog; limit > 0 && len(s.reqs) >= limit {
		drop := max(len(s.reqs)-limit+1, limit/4)
		s.reqs = append(s.reqs[:0], s.reqs[drop:]...)
	}
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, At: at, Call: call})
	s.mu.Unlock()
	s.log.Debug("emulator request", "method", r.Method, "path", r.URL.Path, "status", status)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	api := isAPIPath(r.URL.Path)
	if api && s.cfg.Latency > 0 {
		readBodyFirst(r)
		if !sleepCtx(r, s.cfg.Latency) {
			return
		}
	}
	f := s.takeFault(r.Method, r.URL.Path)
	if f != nil && f.Delay > 0 && !f.Late {
		readBodyFirst(r)
	}
	if f == nil {
		s.dispatch(w, r, api)
		return
	}
	if f.Late {
		// Applied after Delay whether or not anyone still waits for it.
		time.Sleep(f.Delay)
		s.dispatch(w, r.WithContext(context.WithoutCancel(r.Context())), api)
		return
	}
	if !f.AfterApply {
		if f.Delay > 0 && !sleepCtx(r, f.Delay) {
			return
		}
		if f.Status != 0 || f.Drop {
			writeFault(w, f)
			return
		}
		s.dispatch(w, r, api)
		return
	}
	// AfterApply: change state, then lose (or delay) the real answer.
	bw := newBufferWriter()
	s.dispatch(bw, r, api)
	if f.Delay > 0 && !sleepCtx(r, f.Delay) {
		return
	}
	if f.Status != 0 || f.Drop {
		writeFault(w, f)
		return
	}
	bw.copyTo(w)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, api bool) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case strings.EqualFold(p, "/connect/token"):
		s.handleToken(w, r)
	case strings.EqualFold(p, "/.well-known/openid-configuration"):
		s.handleDiscovery(w, r)
	case api:
		s.handleAPI(w, r)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// handleAPI runs the pipeline of an API call: rate limit, routing,
// authentication, scope authorization, then the endpoint.
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.DisableRateLimits {
		if retry, ok := s.allow(r.Method); !ok {
			w.Header().Set("Retry-After", retryAfterSeconds(retry))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	}
	rt, params, allow := s.match(r.Method, r.URL.Path)
	if rt == nil {
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		return
	}
	claims, reason := s.authenticate(r)
	if claims == nil {
		if reason == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+reason+`"`)
		}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !claims.allows(rt.resource, r.Method) {
		writeScopeError(w, claims.Scope, rt.resource, r.Method)
		return
	}
	rt.h(w, r, params)
}

// route is one API endpoint. Pattern segments in braces are parameters;
// literal segments match case-insensitively, as in ASP.NET Core.
type route struct {
	method   string
	pattern  []string
	resource string // scope resource, e.g. "PM.User"
	h        func(http.ResponseWriter, *http.Request, map[string]string)
}

func (s *Server) apiRoutes() []route {
	r := func(method, pattern, resource string, h func(http.ResponseWriter, *http.Request, map[string]string)) route {
		return route{method: method, pattern: strings.Split(pattern, "/"), resource: resource, h: h}
	}
	const u, g = "PM.User", "PM.Group"
	return []route{
		r(http.MethodPost, "User/BulkCreate", u, s.handleBulkCreate),
		r(http.MethodGet, "User/users/{partitionGlobalId}", u, s.handleListUsers),
		r(http.MethodGet, "User/{userId}", u, s.handleGetUser),
		r(http.MethodPut, "User/{userId}", u, s.handleUpdateUser),
		r(http.MethodDelete, "User/{userId}", u, s.handleDeleteUser),
		r(http.MethodDelete, "User", u, s.handleDeleteUsers),
		r(http.MethodGet, "Group/{partitionGlobalId}", g, s.handleListGroups),
		r(http.MethodDelete, "Group/{partitionGlobalId}", g, s.handleDeleteGroups),
		r(http.MethodPut, "Group/{groupId}", g, s.handleUpdateGroup),
		r(http.MethodPost, "Group", g, s.handleCreateGroup),
		r(http.MethodGet, "Group/{partitionGlobalId}/{groupId}", g, s.handleGetGroup),
		r(http.MethodDelete, "Group/{partitionGlobalId}/{groupId}", g, s.handleDeleteGroup),
		r(http.MethodGet, "Group/{partitionGlobalId}/{groupId}/Members", g, s.handleGroupMembers),
	}
}

// match finds the route for method and path. When the path matches but the
// method does not, it returns the allowed methods. The routes with the most
// literal segments win, so GET /User/BulkCreate is 405, not a bad user id.
func (s *Server) match(method, path string) (*route, map[string]string, []string) {
	rest := strings.Trim(strings.TrimPrefix(path, "/api"), "/")
	segs := strings.Split(rest, "/")
	best := -1
	var cands []int
	for i, rt := range s.routes {
		if len(rt.pattern) != len(segs) {
			continue
		}
		lit, ok := 0, true
		for j, p := range rt.pattern {
			if strings.HasPrefix(p, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				continue
			}
			if !strings.EqualFold(p, segs[j]) {
				ok = false
				break
			}
			lit++
		}
		if !ok {
			continue
		}
		switch {
		case lit > best:
			best, cands = lit, []int{i}
		case lit == best:
			cands = append(cands, i)
		}
	}
	var allow []string
	for _, i := range cands {
		rt := &s.routes[i]
		if rt.method == method {
			params := map[string]string{}
			for j, p := range rt.pattern {
				if strings.HasPrefix(p, "{") {
					params[strings.Trim(p, "{}")] = segs[j]
				}
			}
			return rt, params, nil
		}
		allow = append(allow, rt.method)
	}
	sort.Strings(allow)
	return nil, nil, allow
}

// statusWriter records the status sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (Drop faults).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// readBodyFirst reads the request body into memory, where the handler
// then finds it. net/http cancels r.Context() when the client goes away
// only once the body has been read to its end: without this, a delayed
// call with a body would sleep out its delay and then be applied although
// its client had long given up.
func readBodyFirst(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	readers := []io.Reader{bytes.NewReader(data)}
	switch {
	case err != nil:
		readers = append(readers, errReader{err})
	case len(data) > maxBody:
		readers = append(readers, r.Body) // too large: the handler refuses it
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(readers...), r.Body}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// sleepCtx sleeps for d unless the request is cancelled first; it reports
// whether the full duration elapsed. Delays are real time, not Config.Now.
// The request body must have been read (readBodyFirst), or a client that
// goes away is not noticed.
func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
