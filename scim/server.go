package scim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

const contentType = "application/scim+json"

// BasePath is where the SCIM endpoints live.
const BasePath = "/scim/v2"

// Config configures the HTTP surface.
type Config struct {
	// StaticTokens are the static bearer tokens IdPs may present, by
	// caller name and SHA-256 digest (NewStaticToken makes one from a
	// token); Server.SetStaticTokens replaces them. At least one static
	// token, an OAuth client or an OIDC issuer is required.
	StaticTokens []StaticToken
	// OIDCIssuer and OIDCAudience, when set, also accept JWTs from that
	// issuer for that audience, signed with an asymmetric algorithm. Zero:
	// off.
	OIDCIssuer, OIDCAudience string
	// OIDCRequiredClaims are claims such a JWT must also carry with these
	// values (a list claim: among its values). Zero: none.
	OIDCRequiredClaims map[string]string
	// OIDCName is the caller name of requests with such a JWT. Zero →
	// DefaultOIDCName.
	OIDCName string
	// OAuthClients may get access tokens at OAuthTokenPath with the client
	// credentials grant; each client's id is its caller name. Zero: the
	// endpoint answers 404.
	OAuthClients []OAuthClient
	// OAuthTokenTTL is the lifetime of those access tokens. Zero → 1h.
	OAuthTokenTTL time.Duration
	// OAuthSigningKey signs and verifies them (HMAC-SHA256, at least 32
	// bytes); replicas that verify each other's tokens share it. Zero: a
	// random key for this Server.
	OAuthSigningKey []byte
	// Now is the clock of token lifetimes (issued access tokens, OIDC
	// JWTs). Zero → time.Now.
	Now func() time.Time
	// MaxBodyBytes caps request bodies; larger ones get 413. Zero → 8 MiB
	// (an Okta group PUT carries every member).
	MaxBodyBytes int64
	// UserNameImmutable makes /Schemas describe userName as immutable: the
	// provisioner refuses a change of it (SCIM_BRIDGE_USERNAME_CHANGE=refuse).
	// By default a change is accepted, and userName is readWrite.
	UserNameImmutable bool
	// Extensions are custom schema extensions /Schemas and /ResourceTypes
	// list (SCIM_BRIDGE_SCHEMA_EXTENSIONS). Zero: only the bridge's own
	// schemas; attributes of undeclared custom extensions are kept all the
	// same.
	Extensions []scimdoc.Extension
	// MaxResults caps count on list requests. Zero → 1000.
	MaxResults int
	// MaxBulkOperations caps the operations of one /Bulk request (RFC 7644
	// §3.7.4 maxOperations); more get 413. Zero → 1000. The request's
	// size is capped by MaxBodyBytes (maxPayloadSize).
	MaxBulkOperations int
	// BaseURL is the public URL of BasePath for meta.location, e.g.
	// https://bridge.example/scim/v2. Zero: locations are relative.
	BaseURL string
	// Ready reports, for /readyz, whether the bridge should be sent
	// requests and the state of what it depends on (see ReadyHandler). It
	// gets a context with a deadline, and logs the causes of a failed
	// check itself: Server does not log a not-ready answer. Zero: always
	// ready.
	Ready func(ctx context.Context) Readiness
	// RequestTimeout bounds one SCIM request, waits for the UiPath budget
	// included; past it the IdP is told to retry. Zero → 50s (IdPs give up
	// on a request after about a minute).
	RequestTimeout time.Duration
	// HTTPClient is used for OIDC discovery. Zero → a client with a 10s
	// timeout.
	HTTPClient *http.Client
	// Observe, when set, is told about every request below BasePath once
	// it is answered, for metrics. It is called on the request's goroutine,
	// so it must be quick and safe for concurrent use. Zero: no
	// observations.
	Observe func(RequestObservation)
}

// RequestObservation describes one answered SCIM request (a request below
// BasePath). Every label is drawn from a small fixed set, never from an
// id, a userName or anything else a request carries, so it is safe as a
// metric label. The zero value is no observation; Server never reports
// one.
type RequestObservation struct {
	// IdP names the client from its User-Agent: "okta", "entra" or
	// "other".
	IdP string
	// Caller is the configured name of the credential the request
	// authenticated with (a static token's name, an OAuth client's id, the
	// OIDC caller name); empty when authentication refused it.
	Caller string
	// Method is the HTTP method if SCIM uses it (GET, POST, PUT, PATCH,
	// DELETE, HEAD), else "other".
	Method string
	// Resource is the SCIM resource type or endpoint the path names
	// (Users, Groups, ServiceProviderConfig, Schemas, ResourceTypes, Bulk,
	// Me), else "other".
	Resource string
	// Code is the HTTP status answered (200 if the handler wrote none).
	Code int
	// Duration is the time from the request's arrival to its answer.
	Duration time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 8 << 20
	}
	if c.MaxResults <= 0 {
		c.MaxResults = 1000
	}
	if c.MaxBulkOperations <= 0 {
		c.MaxBulkOperations = 1000
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 50 * time.Second
	}
	if c.OIDCName == "" {
		c.OIDCName = DefaultOIDCName
	}
	if c.OAuthTokenTTL <= 0 {
		c.OAuthTokenTTL = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.BaseURL == "" {
		c.BaseURL = BasePath
	}
	return c
}

// Server is the bridge's http.Handler.
type Server struct {
	cfg       Config
	resources []mapping.Resource
	log       *slog.Logger
	auth      *authenticator
	router    *mux.Router
	disc      *discovery
	// ops serves the operations of a /Bulk request: the resource routes
	// alone, without the middleware the /Bulk request itself went through.
	ops *mux.Router
}

// New returns the HTTP surface for the provisioner's resources, one
// endpoint each (mapping.Provisioner's Users and Groups).
func New(cfg Config, resources []mapping.Resource, logger *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = slog.New(LogHandler(logger.Handler()))
	auth, err := newAuthenticator(cfg, logger)
	if err != nil {
		return nil, err
	}
	disc := newDiscovery(cfg)
	s := &Server{cfg: cfg, resources: resources, log: logger, auth: auth, disc: disc}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	r := mux.NewRouter()
	r.Handle("/healthz", HealthHandler())
	r.Handle("/readyz", ReadyHandler(s.cfg.Ready))
	r.Handle(OAuthTokenPath, s.oauthToken())

	api := r.PathPrefix(BasePath).Subrouter()
	api.Use(s.authenticate, s.limitBody, s.deadline)
	s.resourceRoutes(api)
	api.HandleFunc("/.search", s.rootSearch).Methods(http.MethodPost)
	api.HandleFunc("/.search", methodNotAllowed)
	api.HandleFunc("/ServiceProviderConfig", s.serviceProviderConfig).Methods(http.MethodGet)
	api.HandleFunc("/ServiceProviderConfig", methodNotAllowed)
	api.HandleFunc("/Bulk", s.bulk).Methods(http.MethodPost)
	api.HandleFunc("/Bulk", methodNotAllowed)
	api.PathPrefix("/Me").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError{Status: http.StatusNotImplemented, Detail: "/Me is not supported by this service provider (see /ServiceProviderConfig)."})
	})
	api.HandleFunc("/Schemas", s.disc.listSchemas).Methods(http.MethodGet)
	api.HandleFunc("/Schemas/{id}", s.disc.listSchemas).Methods(http.MethodGet)
	api.HandleFunc("/ResourceTypes", s.disc.listResourceTypes).Methods(http.MethodGet)
	api.HandleFunc("/ResourceTypes/{id}", s.disc.listResourceTypes).Methods(http.MethodGet)
	for _, path := range []string{"/Schemas", "/Schemas/{id}", "/ResourceTypes", "/ResourceTypes/{id}"} {
		api.HandleFunc(path, methodNotAllowed)
	}
	api.PathPrefix("/").HandlerFunc(notFound)
	// Outside BasePath too (/metrics, /admin/ are the admin listener's):
	// a SCIM 404, not the router's plain-text one.
	r.NotFoundHandler = http.HandlerFunc(notFound)
	s.router = r

	ops := mux.NewRouter()
	sub := ops.PathPrefix(BasePath).Subrouter()
	s.resourceRoutes(sub)
	ops.PathPrefix("/").HandlerFunc(notFound)
	s.ops = ops
}

// resourceRoutes adds each resource's endpoint to r: the routes a single
// request reaches, and the only ones a /Bulk operation reaches.
func (s *Server) resourceRoutes(r *mux.Router) {
	for _, res := range s.resources {
		rt := res.Kind().ResourceType()
		h := &resourceHandler{s: s, res: res, rt: rt, patchNoContent: rt.Kind == scimdoc.KindGroup}
		base := rt.Endpoint
		r.HandleFunc(base, h.list).Methods(http.MethodGet)
		r.HandleFunc(base, h.create).Methods(http.MethodPost)
		r.HandleFunc(base+"/.search", h.search).Methods(http.MethodPost)
		r.HandleFunc(base+"/{id}", h.get).Methods(http.MethodGet)
		r.HandleFunc(base+"/{id}", h.replace).Methods(http.MethodPut)
		r.HandleFunc(base+"/{id}", h.patch).Methods(http.MethodPatch)
		r.HandleFunc(base+"/{id}", h.delete).Methods(http.MethodDelete)
		r.HandleFunc(base, methodNotAllowed)
		r.HandleFunc(base+"/{id}", methodNotAllowed)
	}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, apiError{Status: http.StatusNotFound, Detail: "No such SCIM endpoint: " + r.URL.Path})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 64 {
		id = newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	sw := &statusWriter{ResponseWriter: w}
	idp := idpOf(r.UserAgent())
	info := &requestInfo{id: id, idp: idp, resource: resourceOf(r.URL.Path)}
	ctx := withRequest(r.Context(), info)
	// The audit log names the request, the IdP and (authenticate adds it)
	// the caller of every change made for it.
	ctx = mapping.WithActor(ctx, mapping.Actor{RequestID: id, IdP: idp})
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "panic serving request", "panic", fmt.Sprint(v), "method", r.Method, "path", r.URL.Path)
			if sw.firstStatus == 0 {
				writeError(sw, apiError{Status: http.StatusInternalServerError, Detail: "Internal error; see the bridge log."})
			}
		}
		if !strings.HasPrefix(r.URL.Path, BasePath) {
			return
		}
		if s.cfg.Observe != nil {
			s.cfg.Observe(RequestObservation{
				IdP:      idp,
				Caller:   info.caller,
				Method:   methodOf(r.Method),
				Resource: resourceOf(r.URL.Path),
				Code:     sw.code(),
				Duration: time.Since(start),
			})
		}
		if s.log.Enabled(ctx, slog.LevelInfo) {
			s.log.InfoContext(ctx, "scim request", "method", r.Method, "path", r.URL.Path, "status", sw.code(),
				"duration_ms", time.Since(start).Milliseconds())
		}
	}()
	s.router.ServeHTTP(sw, r.WithContext(ctx))
}

// SetStaticTokens replaces the static bearer tokens
// (Config.StaticTokens): from its return on, requests are authenticated against
// tokens alone. It is safe to call while serving.
func (s *Server) SetStaticTokens(tokens []StaticToken) { s.auth.setTokens(tokens) }

// limitBody answers 413 for bodies over the limit; handlers read through
// http.MaxBytesReader so a body without Content-Length is capped too.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			writeError(w, apiError{Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("Request body is larger than the %d-byte limit.", s.cfg.MaxBodyBytes)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// deadline bounds a SCIM request's work, so that waiting for UiPath's rate
// budget ends in a 429 the IdP can honour rather than in its own timeout.
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, apiError{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not supported on " + r.URL.Path})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	firstStatus
}

func (w *statusWriter) WriteHeader(code int) {
	w.note(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.note(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// firstStatus is the status a handler answered: the first one it set, or
// 200 once it wrote a body without setting one (net/http's rule). Zero:
// nothing written yet.
type firstStatus int

// note records code unless a status is already set.
func (s *firstStatus) note(code int) {
	if *s == 0 {
		*s = firstStatus(code)
	}
}

// code is the status answered, 200 if the handler wrote nothing.
func (s firstStatus) code() int {
	if s == 0 {
		return http.StatusOK
	}
	return int(s)
}

// requestIDs makes request ids: a random per-process prefix and a
// counter, so that naming a request costs no system call.
var requestIDs struct {
	once   sync.Once
	prefix string
	n      atomic.Uint64
}

func newRequestID() string {
	requestIDs.once.Do(func() {
		var b [4]byte
		_, _ = rand.Read(b[:])
		requestIDs.prefix = hex.EncodeToString(b[:])
	})
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(requestIDs.n.Add(1)))
	return requestIDs.prefix + hex.EncodeToString(b[:])
}

// idpOf names the IdP from its User-Agent, for logs and metrics.
func idpOf(ua string) string {
	switch {
	case strings.Contains(ua, "Okta"):
		return "okta"
	case strings.Contains(ua, "Azure"), strings.Contains(ua, "Microsoft"):
		return "entra"
	}
	return "other"
}

// resourceOf names the SCIM resource type of a path below BasePath, from a
// fixed set so that a metric label cannot grow with what clients send.
func resourceOf(path string) string {
	rest := strings.TrimPrefix(path, BasePath+"/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	switch rest {
	case "Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes", "Bulk", "Me":
		return rest
	}
	return "other"
}

// methodOf keeps the method label to the methods SCIM uses.
func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
		return m
	}
	return "other"
}
