package main

import (
	"context"
	"encoding/json"
	"errors"
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
	metrics := newMetrics(currentBuild(), nil, newLogger(io.Discard, "error", "text"))
	return newAdminHandler(tokens, metrics.Handler(), adminAPI{status: src.report}, newLogger(t.Output(), "debug", "text")).withAudit(store), store.Close
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
		{name: "audit without a token", h: withTokens, path: adminAuditPath, wantCode: 401},
		{name: "audit with a token", h: withTokens, path: adminAuditPath + "?since=24h&user=ada", auth: []string{"Bearer adm-first-8f1e"}, wantCode: 200},
		{name: "audit with a bad since", h: withTokens, path: adminAuditPath + "?since=soon", auth: []string{"Bearer adm-first-8f1e"}, wantCode: 400},
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
			if rec.Code == http.StatusOK && strings.HasPrefix(tt.path, adminAuditPath) {
				if got := rec.Body.String(); got != "{\"entries\":[]}\n" {
					t.Errorf("audit of an empty log: %s", got)
				}
				return
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

// TestAdminReconcile: the reconcile endpoint takes POST only, reads its
// options from the query (a bad one is a 400 that names it), answers 409
// while another pass runs and 503 when the pass cannot run.
func TestAdminReconcile(t *testing.T) {
	var got []mapping.ReconcileOptions
	answer := func(rep mapping.ReconcileReport, err error) func(context.Context, mapping.ReconcileOptions) (mapping.ReconcileReport, error) {
		return func(_ context.Context, opt mapping.ReconcileOptions) (mapping.ReconcileReport, error) {
			got = append(got, opt)
			return rep, err
		}
	}
	reason := "too many"
	tests := []struct {
		name, method, query string
		run                 func(context.Context, mapping.ReconcileOptions) (mapping.ReconcileReport, error)
		wantCode            int
		wantBody            string
		wantOpt             *mapping.ReconcileOptions
	}{
		{name: "GET", method: http.MethodGet, run: answer(mapping.ReconcileReport{}, nil), wantCode: 405, wantBody: "use POST"},
		{name: "dry run with a percentage", method: http.MethodPost, query: "?dryRun=true&maxChanges=2.5%25",
			run: answer(mapping.ReconcileReport{PassID: "p1", Drift: []mapping.Drift{}}, nil), wantCode: 200, wantBody: `"passId": "p1"`,
			wantOpt: &mapping.ReconcileOptions{DryRun: true, MaxChangesPercent: 2.5}},
		{name: "import, force, a count", method: http.MethodPost, query: "?import=1&force=true&maxChanges=40",
			run: answer(mapping.ReconcileReport{Refused: &reason}, nil), wantCode: 200, wantBody: `"refused": "too many"`,
			wantOpt: &mapping.ReconcileOptions{Import: true, Force: true, MaxChanges: 40}},
		{name: "bad boolean", method: http.MethodPost, query: "?dryRun=maybe", run: answer(mapping.ReconcileReport{}, nil),
			wantCode: 400, wantBody: `dryRun=\"maybe\" is not a boolean`},
		{name: "bad limit", method: http.MethodPost, query: "?maxChanges=0", run: answer(mapping.ReconcileReport{}, nil),
			wantCode: 400, wantBody: "maxChanges"},
		{name: "another pass", method: http.MethodPost, run: answer(mapping.ReconcileReport{}, mapping.ErrPassRunning),
			wantCode: 409, wantBody: "another reconciliation pass is running"},
		{name: "cannot run", method: http.MethodPost, run: answer(mapping.ReconcileReport{}, errors.New("uipath down")),
			wantCode: 503, wantBody: "reconciliation could not run: uipath down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			h := newAdminHandler([]config.Secret{"adm-token-5c1d"}, http.NotFoundHandler(), adminAPI{reconcile: tt.run}, newLogger(io.Discard, "error", "text"))
			req := httptest.NewRequestWithContext(t.Context(), tt.method, adminReconcilePath+tt.query, nil)
			req.Header.Set("Authorization", "Bearer adm-token-5c1d")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("%d %s, want %d with %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
			if tt.wantOpt != nil && (len(got) != 1 || got[0] != *tt.wantOpt) {
				t.Errorf("pass options %+v, want %+v", got, *tt.wantOpt)
			}
		})
	}
}

// TestReconcileScheduleNext: passes at a time of day, every interval from
// it, or every interval from the start.
func TestReconcileScheduleNext(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	at := func(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }
	for _, tt := range []struct {
		s    reconcileSchedule
		want time.Time
	}{
		{reconcileSchedule{at: at(2, 0)}, time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)},
		{reconcileSchedule{at: at(23, 15)}, time.Date(2026, 12, 1, 23, 15, 0, 0, time.UTC)},
		{reconcileSchedule{at: at(2, 0), interval: 6 * time.Hour}, time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)},
		{reconcileSchedule{at: at(23, 0), interval: 6 * time.Hour}, time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)},
		{reconcileSchedule{at: -1, interval: 24 * time.Hour}, now.Add(24 * time.Hour)},
	} {
		if got := tt.s.next(now); !got.Equal(tt.want) {
			t.Errorf("%+v: next %v, want %v", tt.s, got, tt.want)
		}
	}
}

// TestAdminReconcileOutlastsServerTimeouts: a pass longer than the
// listener's read and write timeouts keeps its context and its answer
// reaches the caller. Before the handler lifted them, the read deadline's
// expiry cancelled the request's context (net/http's background read of the
// idle connection fails with it) and the write deadline cut the report.
func TestAdminReconcileOutlastsServerTimeouts(t *testing.T) {
	const timeout = 50 * time.Millisecond
	run := func(ctx context.Context, _ mapping.ReconcileOptions) (mapping.ReconcileReport, error) {
		select {
		case <-ctx.Done():
			return mapping.ReconcileReport{}, ctx.Err()
		case <-time.After(6 * timeout): // a real deadline: the server's timeouts are on the wall clock
		}
		return mapping.ReconcileReport{PassID: "long", Drift: []mapping.Drift{}}, nil
	}
	log := newLogger(t.Output(), "debug", "text")
	srv := httptest.NewUnstartedServer(newAdminHandler(nil, http.NotFoundHandler(), adminAPI{reconcile: run}, log))
	srv.Config = newServer(srv.Config.Handler, log)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = timeout, timeout
	srv.Start()
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+adminReconcilePath, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", adminReconcilePath, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"passId": "long"`) {
		t.Fatalf("%d %s (%v), want 200 with the pass's report", res.StatusCode, body, err)
	}
}
