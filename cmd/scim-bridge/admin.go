package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
)

// adminStatusPath is where the admin listener serves the status report.
const adminStatusPath = "/admin/v1/status"

// adminReconcilePath runs a reconciliation pass (POST) and answers its
// report.
const adminReconcilePath = "/admin/v1/reconcile"

// adminAPI is what the admin API serves, from the running bridge.
type adminAPI struct {
	status    func(context.Context) (statusReport, error)
	reconcile func(context.Context, mapping.ReconcileOptions) (mapping.ReconcileReport, error)
}

// adminAuditPath is where the admin listener serves the audit log
// (?since=&until=&user=&limit=; see auditQueryOf).
const adminAuditPath = "/admin/v1/audit"

// adminTimeout bounds reading a status report, on either side.
const adminTimeout = 10 * time.Second

// adminHandler serves the admin listener (SCIM_BRIDGE_ADMIN_LISTEN):
// /metrics, unauthenticated (its labels carry no ids, names or tokens; the
// SCIM listener does not serve it), /healthz and /readyz as on the SCIM
// listener, and the admin API under /admin/, which needs one of the admin
// tokens as a bearer token when any is set. Config.Validate
// only lets it listen beyond loopback with tokens. Its errors are plain
// JSON, {"error": "..."}: it is no SCIM endpoint.
type adminHandler struct {
	hashes  [][sha256.Size]byte // of the admin tokens
	metrics http.Handler
	api     adminAPI
	// audit reads the audit log; nil: /admin/v1/audit is not served.
	audit cache.Audit
	// healthz and readyz serve the probes; nil: not served.
	healthz, readyz http.Handler
	log             *slog.Logger
}

func newAdminHandler(tokens []config.Secret, metrics http.Handler, api adminAPI, log *slog.Logger) *adminHandler {
	h := &adminHandler{metrics: metrics, api: api, log: log}
	for _, t := range tokens {
		h.hashes = append(h.hashes, sha256.Sum256([]byte(t.Reveal())))
	}
	return h
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == metricsPath:
		if readOnly(w, r) {
			h.metrics.ServeHTTP(w, r)
		}
		return
	case r.URL.Path == "/healthz" && h.healthz != nil:
		h.healthz.ServeHTTP(w, r)
		return
	case r.URL.Path == "/readyz" && h.readyz != nil:
		h.readyz.ServeHTTP(w, r)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim-bridge admin"`)
		adminError(w, http.StatusUnauthorized, "a valid admin bearer token is required (SCIM_BRIDGE_ADMIN_TOKENS)")
		return
	}
	switch {
	case r.URL.Path == adminAuditPath && h.audit != nil:
		if readOnly(w, r) {
			h.serveAudit(w, r)
		}
	case r.URL.Path == adminStatusPath:
		h.serveStatus(w, r)
	case r.URL.Path == adminReconcilePath && h.api.reconcile != nil:
		h.serveReconcile(w, r)
	default:
		adminError(w, http.StatusNotFound, "no such admin endpoint")
	}
}

func (h *adminHandler) serveStatus(w http.ResponseWriter, r *http.Request) {
	if !readOnly(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	rep, err := h.api.status(ctx)
	if err != nil {
		h.log.WarnContext(ctx, "status report failed", "error", err)
		adminError(w, http.StatusServiceUnavailable, "status unavailable: "+err.Error())
		return
	}
	adminJSON(w, http.StatusOK, rep)
}

// serveReconcile runs one pass with the options of the query (dryRun,
// import, force: booleans; maxChanges: N or P%) and answers its report:
// 200 whether the pass found drift or was refused (the report says), 409
// when another pass is running, 503 when the pass could not run. The pass
// ends if the caller goes away, or after reconcileDeadline.
func (h *adminHandler) serveReconcile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		adminError(w, http.StatusMethodNotAllowed, r.Method+" is not supported on "+r.URL.Path+": use POST")
		return
	}
	opt, err := reconcileQuery(r.URL.Query())
	if err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), reconcileDeadline)
	defer cancel()
	liftDeadlines(w, reconcileDeadline)
	rep, err := h.api.reconcile(ctx, opt)
	switch {
	case errors.Is(err, mapping.ErrPassRunning):
		adminError(w, http.StatusConflict, err.Error())
	case err != nil:
		h.log.WarnContext(ctx, "reconciliation pass failed", "error", err)
		adminError(w, http.StatusServiceUnavailable, "reconciliation could not run: "+err.Error())
	default:
		adminJSON(w, http.StatusOK, rep)
	}
}

// liftDeadlines gives the connection of a request that runs longer than
// the listener's timeouts (newServer) d more to read and write. A pass
// repairing a few hundred drifts at 20,000 users goes at UiPath's PUT pace,
// minutes at the real limits; under the listener's ReadTimeout net/http's
// background read of the idle connection fails when the deadline passes
// and cancels the request's context (ending the pass), and under its
// WriteTimeout the report could not be written. A ResponseWriter that
// cannot set deadlines (a test's recorder) has none to lift.
func liftDeadlines(w http.ResponseWriter, d time.Duration) {
	rc := http.NewResponseController(w)
	at := time.Now().Add(d)
	_ = rc.SetReadDeadline(at)
	_ = rc.SetWriteDeadline(at)
}

func adminJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// withAudit makes h serve the audit log of a at adminAuditPath.
func (h *adminHandler) withAudit(a cache.Audit) *adminHandler {
	h.audit = a
	return h
}

// withProbes makes h serve /healthz, and /readyz with ready's report, as
// the SCIM listener does.
func (h *adminHandler) withProbes(ready func(context.Context) scim.Readiness) *adminHandler {
	h.healthz, h.readyz = scim.HealthHandler(), scim.ReadyHandler(ready)
	return h
}

// serveAudit answers GET /admin/v1/audit with {"entries": [...]}, oldest
// first.
func (h *adminHandler) serveAudit(w http.ResponseWriter, r *http.Request) {
	q, err := auditQueryOf(r.URL.Query(), time.Now())
	if err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	entries, err := h.audit.AuditLog(ctx, q)
	if err != nil {
		h.log.WarnContext(ctx, "audit log read failed", "error", err)
		adminError(w, http.StatusServiceUnavailable, "audit log unavailable: "+err.Error())
		return
	}
	if entries == nil {
		entries = []cache.AuditEntry{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(auditPage{Entries: entries})
}

// auditPage is the admin API's answer for the audit log.
type auditPage struct {
	Entries []cache.AuditEntry `json:"entries"`
}

// authorized reports whether r may use the admin API: always when no admin
// token is set (the listener is then on loopback), else when it carries
// exactly one Authorization header, a bearer token equal to one of them.
// Every token is compared, in constant time over their hashes, so neither
// which token matched nor their lengths show in the timing.
func (h *adminHandler) authorized(r *http.Request) bool {
	if len(h.hashes) == 0 {
		return true
	}
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return false
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	match := 0
	for _, want := range h.hashes {
		match |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return match == 1
}

// readOnly answers 405 to a method other than GET and HEAD, and reports
// whether the request may go on.
func readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	adminError(w, http.StatusMethodNotAllowed, r.Method+" is not supported on "+r.URL.Path)
	return false
}

func adminError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
