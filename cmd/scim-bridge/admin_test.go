package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// adminOn returns the admin handler of a bridge on a real embedded store
// with tokens, and the store's Close.
func adminOn(t *testing.T, tokens ...config.Secret) (*adminHandler, func() error) {
	t.Helper()
	store, err := boltstore.New(boltstore.Config{Path: filepath.Join(t.TempDir(), "scim-bridge.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	prov, err := mapping.New(mapping.Config{}, nil, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := statusSource{store: "embedded", prov: prov, window: time.Minute,
		budget: upstream.NewLocalBudget(map[string]int{"PUT": 10}, time.Minute, nil).WithReserve(0.1)}
	metrics := newMetrics("test", nil, newLogger(io.Discard, "error", "text"))
	return newAdminHandler(tokens, metrics.Handler(), src.report, newLogger(t.Output(), "debug", "text")), store.Close
}

// TestAdminAuth: with admin tokens, the admin API answers only a request
// with exactly one Authorization header carrying one of them as a bearer
// token; the others get 401 with a plain JSON error. Without tokens (the
// listener is on loopback) it answers anyone. /metrics needs no token.
func TestAdminAuth(t *testing.T) {
	withTokens, _ := adminOn(t, "adm-first-8f1e", "adm-second-27c0")
	open, _ := adminOn(t)
	tests := []struct {
		name     string
		h        http.Handler
		method   string
		path     string
		auth     []string // Authorization header values
		wantCode int
	}{
		{name: "no token", h: withTokens, path: adminStatusPath, wantCode: 401},
		{name: "first token", h: withTokens, path: adminStatusPath, auth: []string{"Bearer adm-first-8f1e"}, wantCode: 200},
		{name: "second token, scheme in lower case", h: withTokens, path: adminStatusPath, auth: []string{"bearer adm-second-27c0"}, wantCode: 200},
		{name: "wrong token", h: withTokens, path: adminStatusPath, auth: []string{"Bearer adm-third"}, wantCode: 401},
		{name: "a prefix of a token", h: withTokens, path: adminStatusPath, auth: []string{"Bearer adm-first"}, wantCode: 401},
		{name: "token with more after it", h: withTokens, path: adminStatusPath, auth: []string{"Bearer adm-first-8f1e0"}, wantCode: 401},
		{name: "empty bearer", h: withTokens, path: adminStatusPath, auth: []string{"Bearer "}, wantCode: 401},
		{name: "basic scheme", h: withTokens, path: adminStatusPath, auth: []string{"Basic adm-first-8f1e"}, wantCode: 401},
		{name: "two headers", h: withTokens, path: adminStatusPath, auth: []string{"Bearer adm-first-8f1e", "Bearer adm-first-8f1e"}, wantCode: 401},
		{name: "unknown path, no token", h: withTokens, path: "/admin/v1/nothing", wantCode: 401},
		{name: "unknown path", h: withTokens, path: "/admin/v1/nothing", auth: []string{"Bearer adm-first-8f1e"}, wantCode: 404},
		{name: "POST", h: withTokens, method: http.MethodPost, path: adminStatusPath, auth: []string{"Bearer adm-first-8f1e"}, wantCode: 405},
		{name: "metrics without a token", h: withTokens, path: metricsPath, wantCode: 200},
		{name: "open: no token", h: open, path: adminStatusPath, wantCode: 200},
		{name: "open: any token", h: open, path: adminStatusPath, auth: []string{"Bearer whatever"}, wantCode: 200},
		{name: "open: unknown path", h: open, path: "/scim/v2/Users", wantCode: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequestWithContext(t.Context(), method, tt.path, nil)
			for _, v := range tt.auth {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("%s %s: %d, want %d: %s", method, tt.path, rec.Code, tt.wantCode, rec.Body.String())
			}
			if tt.path == metricsPath {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if rec.Code == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %v", rec.Header())
			}
			if rec.Code == http.StatusOK {
				var rep statusReport
				if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rep.Store != "embedded" || rep.Budget.Methods["PUT"] != (methodBudget{Limit: 10, Reserved: 1}) {
					t.Errorf("report %s (%v)", rec.Body.String(), err)
				}
				return
			}
			var e map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == "" || strings.Contains(rec.Body.String(), "urn:ietf:params:scim") {
				t.Errorf("error body %s, want plain JSON {\"error\": ...} (%v)", rec.Body.String(), err)
			}
			if strings.Contains(rec.Body.String(), "adm-") {
				t.Errorf("error body quotes a token: %s", rec.Body.String())
			}
		})
	}
}

// TestAdminStatusUnavailable: a report that cannot be read is a 503 with
// the reason.
func TestAdminStatusUnavailable(t *testing.T) {
	h, closeStore := adminOn(t)
	if err := closeStore(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, adminStatusPath, nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"error":"status unavailable: `) {
		t.Errorf("status on a closed store: %d %s, want 503 with the reason", rec.Code, rec.Body.String())
	}
}
