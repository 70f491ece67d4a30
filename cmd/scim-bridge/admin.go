package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/config"
)

// adminStatusPath is where the admin listener serves the status report.
const adminStatusPath = "/admin/v1/status"

// adminTimeout bounds reading a status report, on either side.
const adminTimeout = 10 * time.Second

// adminHandler serves the admin listener (SCIM_BRIDGE_ADMIN_LISTEN):
// /metrics, unauthenticated as on the SCIM listener (its labels carry no
// ids, names or tokens), and the admin API under /admin/, which needs one
// of the admin tokens as a bearer token when any is set. Config.Validate
// only lets it listen beyond loopback with tokens. Its errors are plain
// JSON, {"error": "..."}: it is no SCIM endpoint.
type adminHandler struct {
	hashes  [][sha256.Size]byte // of the admin tokens
	metrics http.Handler
	status  func(context.Context) (statusReport, error)
	log     *slog.Logger
}

func newAdminHandler(tokens []config.Secret, metrics http.Handler, status func(context.Context) (statusReport, error), log *slog.Logger) *adminHandler {
	h := &adminHandler{metrics: metrics, status: status, log: log}
	for _, t := range tokens {
		h.hashes = append(h.hashes, sha256.Sum256([]byte(t.Reveal())))
	}
	return h
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == metricsPath {
		if !readOnly(w, r) {
			return
		}
		h.metrics.ServeHTTP(w, r)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim-bridge admin"`)
		adminError(w, http.StatusUnauthorized, "a valid admin bearer token is required (SCIM_BRIDGE_ADMIN_TOKENS)")
		return
	}
	if r.URL.Path != adminStatusPath {
		adminError(w, http.StatusNotFound, "no such admin endpoint")
		return
	}
	if !readOnly(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	rep, err := h.status(ctx)
	if err != nil {
		h.log.WarnContext(ctx, "status report failed", "error", err)
		adminError(w, http.StatusServiceUnavailable, "status unavailable: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
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
