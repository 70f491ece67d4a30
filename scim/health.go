package scim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Readiness is what /readyz reports. The zero value is not ready.
type Readiness struct {
	// Ready reports whether the bridge should be sent requests: /readyz
	// answers 200 if so, else 503.
	Ready bool
	// Draining reports that the process is shutting down (SIGTERM): it
	// still answers, but load balancers should stop sending it requests.
	Draining bool
	// Checks holds the state of each dependency by name ("store",
	// "uipath"): "ok", "error", or another word the check chose. Causes
	// are never put here: /readyz needs no authentication, so the cause is
	// for the log.
	Checks map[string]string
}

// readyTimeout bounds one readiness check.
const readyTimeout = 5 * time.Second

// HealthHandler serves /healthz: 200 "ok" to GET and HEAD for as long as the
// process serves requests at all (liveness).
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probeMethod(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "ok\n")
	})
}

// ReadyHandler serves /readyz: ready's report as JSON,
// {"status":"ready"|"not ready"|"draining","checks":{...}}, with 200 when
// it is ready and 503 otherwise. ready gets a context with a deadline; nil
// is always ready, with no checks.
func ReadyHandler(ready func(context.Context) Readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probeMethod(w, r) {
			return
		}
		rep := Readiness{Ready: true}
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			rep = ready(ctx)
			cancel()
		}
		body := struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}{Status: "ready", Checks: rep.Checks}
		if body.Checks == nil {
			body.Checks = map[string]string{}
		}
		code := http.StatusOK
		switch {
		case rep.Draining:
			body.Status, code = "draining", http.StatusServiceUnavailable
		case !rep.Ready:
			body.Status, code = "not ready", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		if r.Method != http.MethodHead {
			_ = json.NewEncoder(w).Encode(body)
		}
	})
}

// probeMethod answers 405 to a method other than GET and HEAD, and reports
// whether the request may go on.
func probeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, r.Method+" is not supported on "+r.URL.Path, http.StatusMethodNotAllowed)
	return false
}
